"""Helpers for the endpoint-level tests of the web shop and the store tablet.

These tests drive the site through the Django test client at the real time of day: stores are
open every day and slots are read from ``pickup_slots`` or the rendered checkout page, never
assumed. The fixtures that go with them are in ``tests/support/web_fixtures.py``.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.db.models import Sum
from django.test import Client

from customers.models import Customer, Notification, Touchpoint, User
from orders.models import Handover, Order, OrderEvent, OrderLine, Payment
from orders.services import place_order
from shop.models import Cart, CartLine
from stores.models import SlotBooking, StockLevel
from stores.selectors import pickup_slots
from tests.support.factories import (
    CartFactory,
    CartLineFactory,
    CustomerFactory,
)

# --- What a request may have written ---------------------------------------------------------


def written() -> dict:
    """Every row a shop or tablet request could write, in comparable form."""
    return {
        "users": User.objects.count(),
        "customers": sorted(
            Customer.objects.values_list("pk", "email", "name", "phone", "user_id")
        ),
        "touchpoints": Touchpoint.objects.count(),
        "notifications": Notification.objects.count(),
        "carts": sorted(Cart.objects.values_list("pk", "customer_id", "store_id")),
        "cart_lines": sorted(
            CartLine.objects.values_list("pk", "cart_id", "variant_id", "quantity")
        ),
        "stock": sorted(
            StockLevel.objects.values_list("store_id", "variant_id", "on_hand", "reserved")
        ),
        "slots": sorted(SlotBooking.objects.values_list("store_id", "start", "booked")),
        "orders": sorted(
            Order.objects.values_list(
                "pk",
                "status",
                "hold_until",
                "payment_status",
                "code_failures",
                "code_locked_at",
                "cancel_reason",
            )
        ),
        "order_lines": sorted(
            OrderLine.objects.values_list("pk", "quantity", "collected_quantity")
        ),
        "order_events": OrderEvent.objects.count(),
        "payments": Payment.objects.count(),
        "handovers": Handover.objects.count(),
    }


def stock_of(store, variant) -> tuple[int, int]:
    """(on_hand, reserved) of ``variant`` at ``store``."""
    level = StockLevel.objects.get(store=store, variant=variant)
    return level.on_hand, level.reserved


def slot_bookings(store) -> int:
    return SlotBooking.objects.filter(store=store).aggregate(n=Sum("booked"))["n"] or 0


# --- Reading rendered HTML -------------------------------------------------------------------


@dataclass
class Tag:
    name: str
    attrs: dict
    text: str = ""


class _TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []
        self._open: Tag | None = None

    def handle_starttag(self, tag, attrs):
        item = Tag(tag, {name: (value or "") for name, value in attrs})
        self.tags.append(item)
        self._open = item if tag in {"script", "style"} else None

    def handle_startendtag(self, tag, attrs):
        self.tags.append(Tag(tag, {name: (value or "") for name, value in attrs}))

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open.text += data


def tags(html: str | bytes) -> list[Tag]:
    if isinstance(html, bytes):
        html = html.decode()
    parser = _TagCollector()
    parser.feed(html)
    parser.close()
    return parser.tags


def inputs_named(html, name: str) -> list[dict]:
    return [
        t.attrs for t in tags(html) if t.name in {"input", "select"} and t.attrs.get("name") == name
    ]


def input_value(html, name: str) -> str:
    found = inputs_named(html, name)
    assert len(found) == 1, f"expected one input {name!r}, found {len(found)}"
    return found[0].get("value", "")


def column(html, name: str) -> str:
    """The HTML of one column (``overdue``, ``placed``, ``preparing``, ``ready``) of the board."""
    if isinstance(html, bytes):
        html = html.decode()
    match = re.search(rf'<section class="column column-{name}">(.*?)</section>', html, re.S)
    assert match, f"no {name!r} column on the board"
    return match.group(1)


def text(response) -> str:
    return response.content.decode()


# --- A small shop ---------------------------------------------------------------------------


@dataclass
class Shop:
    store: object  # the clerk's store
    other: object  # a second store
    category: object
    lamp: object  # 12.50 EUR, 10 at store, none at other
    mug: object  # 4.00 EUR, 3 at store, 5 at other


def add_to_cart(client, variant, quantity=1):
    response = client.post("/cart/add/", {"sku": variant.sku, "quantity": quantity})
    assert response.status_code == 302, text(response)
    return response


def _day_slots(html) -> list[str]:
    return [attrs["value"] for attrs in inputs_named(html, "slot")]


def checkout_page(client, store):
    """GET the checkout for ``store``: (response, checkout_key, offered slot values).

    The page shows one day's slots; late in the store's day that day may have a single slot
    left, so the slots of the next days offered are added (as a shopper picks another day)."""
    response = client.get(f"/checkout/?store={store.code}")
    assert response.status_code == 200, response
    slots = _day_slots(response.content)
    chips = [
        t.attrs
        for t in tags(response.content)
        if t.name == "a" and "chip" in t.attrs.get("class", "")
    ]
    shown = next((i for i, chip in enumerate(chips) if "active" in chip["class"].split()), 0)
    for chip in chips[shown + 1 :]:
        if len(slots) >= 2:
            break
        slots += _day_slots(client.get(f"/checkout/{chip['href']}").content)
    return response, input_value(response.content, "checkout_key"), slots


def checkout_data(at, key, slot, **overrides):
    """The checkout POST for store ``at``; an override of ``None`` leaves that field out."""
    data = {
        "store": at.code,
        "slot": slot,
        "name": "Ana García",
        "email": "ana@example.test",
        "phone": "+34600111222",
        "payment": "in_store",
        "checkout_key": key,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def checkout(client, store, **overrides):
    """Check out the client's cart at ``store`` in its second slot; returns the response."""
    _, key, slots = checkout_page(client, store)
    return client.post("/checkout/", checkout_data(store, key, slots[1], **overrides))


def place_at(store, *lines, customer=None, slot_index=1, pickup_person=""):
    """An in-store-payment web order at ``store`` placed through the service, at real time."""
    customer = customer or CustomerFactory()
    cart = CartFactory()
    for variant, quantity in lines:
        CartLineFactory(cart=cart, variant=variant, quantity=quantity)
    return place_order(
        cart=cart,
        store=store,
        slot_start=pickup_slots(store=store)[slot_index].start,
        payment_method="in_store",
        channel="web",
        customer=customer,
        pickup_person=pickup_person,
    )


def hand_over(order, clerk, *, quantities=None, method="", reference="", provider=None):
    """Hand ``order`` over to the customer at the counter, checked by QR: ``quantities`` maps
    skus to units (default: everything); ``method`` is card or cash where the counter takes
    the payment."""
    from orders.services import collect_order

    return collect_order(
        order=order,
        user=clerk,
        quantities=quantities or {},
        payment_method=method,
        reference=reference,
        collector="customer",
        verified_by="qr",
        device="test",
        provider=provider,
    )


def collect_in_full(order, clerk):
    """Hand the whole order over at the counter, paid cash, checked by QR."""
    return hand_over(order, clerk, method="cash")


def logged_in(user) -> Client:
    """A test client logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client

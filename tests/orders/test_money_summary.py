"""Money after a partial pickup, told truthfully: what was ordered, handed over, charged,
refunded and the net, from one selector (``orders.selectors.money_summary``) used by the
shopper's order page, the API and the receipt sent at handover.

The story of the issue: two shirts (14.95) and trousers (19.95), €49.85 authorised on the
card; one shirt refused at the counter, so 34.90 captured; then the trousers refunded (19.95):
€14.95 net. Cards go through a real localstripe; the clock is frozen at ``NOW``.
"""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from customers import messaging
from customers.models import Notification
from customers.services import deliver_notification
from orders import selectors
from orders.models import Order
from orders.services import pay_online, place_order, refund_order
from shop.services import cart_for_customer
from stores.selectors import pickup_slots
from tests.conftest import NOW
from tests.support.api_client import Api
from tests.support.api_helpers import order_url, ready
from tests.support.factories import (
    CartLineFactory,
    ProductFactory,
    StockLevelFactory,
    VariantFactory,
)
from tests.support.web_helpers import hand_over, place_at, text

pytest_plugins = ["tests.support.web_fixtures", "tests.support.payments_fixtures"]


@pytest.fixture
def moment():
    """The wall clock starts at ``NOW`` in every test here (see tests/conftest.py)."""
    return NOW


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TEXT_MESSAGE_BACKEND = "customers.messaging.ConsoleBackend"


@pytest.fixture
def clothes(shop):
    shirt = VariantFactory(
        product=ProductFactory(name="Linen Shirt", slug="linen-shirt"),
        sku="SHIRT-M",
        title="M",
        price=Decimal("14.95"),
    )
    trousers = VariantFactory(
        product=ProductFactory(name="Chino Trousers", slug="chino-trousers"),
        sku="CHINO-40",
        title="40",
        price=Decimal("19.95"),
    )
    StockLevelFactory(store=shop.store, variant=shirt, on_hand=5)
    StockLevelFactory(store=shop.store, variant=trousers, on_hand=5)
    return shirt, trousers


@pytest.fixture
def card_order(shop, shopper, clothes, localstripe):
    """The shopper's online order, 2 shirts and trousers (€49.85), its card authorised."""
    shirt, trousers = clothes
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    cart = cart_for_customer(customer=shopper)
    CartLineFactory(cart=cart, variant=shirt, quantity=2)
    CartLineFactory(cart=cart, variant=trousers, quantity=1)
    order = place_order(
        cart=cart,
        store=shop.store,
        slot_start=pickup_slots(store=shop.store)[1].start,
        payment_method="online",
        channel="web",
        customer=shopper,
        allow_online=True,
    )
    order, _secret = pay_online(order=order, payment_method="pm_card_visa", channel="web")
    assert (order.status, order.total) == ("placed", Decimal("49.85"))
    return order


@pytest.fixture
def partly_refunded(card_order, clerk, clothes):
    """One shirt refused at the counter (34.90 captured), then the trousers refunded."""
    shirt, trousers = clothes
    ready(card_order, clerk)
    hand_over(card_order, clerk, quantities={shirt.sku: 1})
    order = Order.objects.get(pk=card_order.pk)
    refund_order(order=order, user=clerk, quantities={trousers.sku: 1}, reason="Too small")
    return Order.objects.get(pk=card_order.pk)


def money_rows(html: str) -> list[tuple[str, str]]:
    """The (label, value) rows of the order page's money section."""
    section = re.search(r'<section class="money" id="money">(.*?)</section>', html, re.S)
    assert section, "no money section on the page"
    pairs = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", section.group(1), re.S)
    return [(label.strip(), re.sub(r"\s+", " ", value).strip()) for label, value in pairs]


def summary_of(order):
    """The money summary of ``order`` as its customer's pages read it."""
    mine = selectors.order_for_customer(customer=order.customer, number=order.number)
    return selectors.money_summary(mine)


# --- The selector --------------------------------------------------------------------------------


def test_a_partial_pickup_and_a_refund_add_up(partly_refunded):
    money = summary_of(partly_refunded)

    assert (money.ordered, money.collected, money.authorised) == (
        Decimal("49.85"),
        Decimal("34.90"),
        Decimal("0.00"),
    )
    assert (money.charged, money.refunded, money.net) == (
        Decimal("34.90"),
        Decimal("19.95"),
        Decimal("14.95"),
    )
    assert (money.currency, money.status, str(money.label)) == (
        "EUR",
        "partly_refunded",
        "Partly refunded",
    )


def test_the_payment_status_follows_the_money(card_order, clerk, clothes, shop):
    shirt, trousers = clothes
    authorised = summary_of(card_order)
    assert (authorised.status, authorised.authorised, authorised.charged) == (
        "authorised",
        Decimal("49.85"),
        Decimal("0.00"),
    )
    assert authorised.collected is None

    ready(card_order, clerk)
    hand_over(card_order, clerk, quantities={shirt.sku: 1})
    charged = summary_of(card_order)
    assert (charged.status, charged.charged, charged.net) == (
        "charged",
        Decimal("34.90"),
        Decimal("34.90"),
    )

    order = Order.objects.get(pk=card_order.pk)
    refund_order(order=order, user=clerk, quantities=None, reason="Returned everything")
    refunded = summary_of(card_order)
    assert (refunded.status, refunded.refunded, refunded.net) == (
        "refunded",
        Decimal("34.90"),
        Decimal("0.00"),
    )

    at_counter = summary_of(place_at(shop.store, (shop.mug, 1)))
    assert (at_counter.status, at_counter.charged, at_counter.authorised) == (
        "pay_at_counter",
        Decimal("0.00"),
        Decimal("0.00"),
    )


# --- The shopper's order page --------------------------------------------------------------------


def test_the_order_page_tells_what_was_charged_refunded_and_the_net(partly_refunded, shopper):
    browser = Client()
    browser.force_login(shopper.user)

    html = text(browser.get(f"/orders/{partly_refunded.number}/"))

    rows = money_rows(html)
    assert rows[0] == ("Status", "Pay online · Partly refunded")
    assert rows[1:4] == [
        ("Ordered", "€49.85"),
        ("Handed over", "€34.90"),
        ("Charged", "€34.90"),
    ]
    assert rows[-2:] == [("Refunded", "€19.95"), ("Net paid", "€14.95")]
    assert "· Paid" not in html


def test_the_tablet_says_the_same_as_the_shopper(partly_refunded, clerk, shop):
    tablet = Client()
    tablet.force_login(clerk)

    html = text(tablet.get(f"/store/{shop.store.code}/orders/{partly_refunded.number}/"))

    assert "<dd>Pay online · Partly refunded</dd>" in html


# --- The API -------------------------------------------------------------------------------------


def test_the_api_order_carries_the_amounts(partly_refunded, shopper):
    api = Api(shopper.user)

    detail = api.get(order_url(partly_refunded)).json()
    listed = api.get("/api/v1/orders/").json()["results"]

    expected = {
        "ordered": "49.85",
        "collected": "34.90",
        "authorised": "0.00",
        "charged": "34.90",
        "refunded": "19.95",
        "net": "14.95",
        "status": "partly_refunded",
        "label": "Partly refunded",
    }
    assert detail["amounts"] == expected
    assert [o["amounts"] for o in listed] == [expected]
    # The fields clients already read stay as they were.
    assert (detail["total"], detail["payment_status"]) == ("49.85", "paid")


def test_an_open_order_in_the_api_has_nothing_collected_yet(card_order, shopper):
    amounts = Api(shopper.user).get(order_url(card_order)).json()["amounts"]

    assert amounts == {
        "ordered": "49.85",
        "collected": None,
        "authorised": "49.85",
        "charged": "0.00",
        "refunded": "0.00",
        "net": "0.00",
        "status": "authorised",
        "label": "Authorised, charged at pickup",
    }


# --- The receipt at handover ---------------------------------------------------------------------


def test_the_handover_sends_one_receipt_with_what_was_taken_and_charged(card_order, clerk, clothes):
    shirt, trousers = clothes
    ready(card_order, clerk)

    hand_over(card_order, clerk, quantities={shirt.sku: 1})

    receipts = Notification.objects.filter(order_number=card_order.number, kind="receipt")
    assert [n.dedupe_key for n in receipts] == [f"{card_order.number}:receipt"]
    context = receipts[0].context
    assert context["lines"] == [
        {"name": str(shirt), "sku": "SHIRT-M", "quantity": 2, "collected": 1, "refused": 1,
         "unit_price": "14.95", "total": "14.95"},
        {"name": str(trousers), "sku": "CHINO-40", "quantity": 1, "collected": 1, "refused": 0,
         "unit_price": "19.95", "total": "19.95"},
    ]  # fmt: skip
    assert context["amounts"] == {
        "ordered": "49.85",
        "collected": "34.90",
        "charged": "34.90",
        "refunded": "0.00",
        "net": "34.90",
        "status": "charged",
    }
    assert context["paid_by"] == "online"

    assert deliver_notification(notification_id=receipts[0].pk) == "sent"
    (email,) = mail.outbox
    assert email.subject == f"Receipt for order {card_order.number}"
    body = email.body
    assert f"1 × {shirt} (SHIRT-M): €14.95" in body
    assert f"1 × {trousers} (CHINO-40): €19.95" in body
    assert f"Not taken, not charged: 1 × {shirt} (SHIRT-M)" in body
    assert "Ordered: €49.85" in body
    assert "Handed over: €34.90" in body
    assert "Charged to your card: €34.90" in body
    assert "/o/" in body
    html = email.alternatives[0][0]
    assert "Charged to your card" in html and "€34.90" in html


def test_the_receipt_by_sms_is_short_and_says_what_was_charged(shop, clerk, settings):
    settings.TEXT_MESSAGE_BACKEND = "customers.messaging.ConsoleBackend"
    order = place_at(shop.store, (shop.lamp, 2), (shop.mug, 1))
    order.customer.phone = "+34600111222"
    order.customer.preferred_channels = ["sms"]
    order.customer.save(update_fields=["phone", "preferred_channels"])
    ready(order, clerk)
    hand_over(order, clerk, quantities={shop.mug.sku: 0}, method="cash")
    receipt = Notification.objects.get(order_number=order.number, kind="receipt")

    assert deliver_notification(notification_id=receipt.pk) == "sent"

    receipt.refresh_from_db()
    assert receipt.channel == "sms"
    assert receipt.context["paid_by"] == "cash"
    short = messaging.render("receipt", receipt.context, "en")["short"]
    assert short == (
        f"Omnicollect: order {order.number} collected at {shop.store.name}. "
        "Paid €25.00 in cash (ordered €29.00)."
    )

"""Checkout: place_order turns a cart into an order, reserving stock and a slot, all or nothing."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from customers.models import Customer, Touchpoint
from orders.errors import OrderError
from orders.models import CODE_ALPHABET, Actor, Order, OrderEvent, OrderStatus, PaymentStatus
from orders.services import Contact, place_order
from shop.models import CartLine
from shop.services import add_to_cart, cart_for_customer
from stores.errors import StoreError
from stores.models import Closure, SlotBooking, StockLevel
from tests.conftest import MADRID, NOW, make_cart, slot_start
from tests.support.factories import CustomerFactory, StockLevelFactory, StoreFactory, VariantFactory

CODE_CHARS = re.escape(CODE_ALPHABET)


def _checkout(cart, store, **kwargs):
    kwargs.setdefault("payment_method", "in_store")
    kwargs.setdefault("channel", "web")
    kwargs.setdefault("now", NOW)
    if "slot_start" not in kwargs:
        kwargs["slot_start"] = slot_start(store, now=kwargs["now"])
    return place_order(cart=cart, store=store, **kwargs)


# --- Happy paths -----------------------------------------------------------------------------


def test_guest_checkout_creates_the_customer_and_a_placed_order(store, variant, stock):
    # given an anonymous cart with two units and a guest who has never ordered
    cart = make_cart((variant, 2))
    contact = Contact(name="Ana Pérez", email="ana@example.test", phone="+34 600 111 222")
    start = slot_start(store)

    # when the guest checks out paying at the counter
    order = _checkout(cart, store, contact=contact, slot_start=start)

    # then one customer exists for that email, and the order is theirs and placed
    customer = Customer.objects.get(email="ana@example.test")
    assert (customer.name, customer.phone) == ("Ana Pérez", "+34 600 111 222")
    order.refresh_from_db()
    assert order.customer_id == customer.pk
    assert order.guest_checkout is True
    assert order.status == OrderStatus.PLACED
    assert order.payment_method == "in_store"
    assert order.payment_status == PaymentStatus.UNPAID
    assert order.channel == "web"
    assert order.store_id == store.pk
    assert order.cart_id == cart.pk
    assert order.total == Decimal("20.00")
    assert order.currency == "EUR"
    assert order.slot_start == start
    assert order.slot_end == start + timedelta(minutes=30)
    assert order.hold_until is None
    assert (order.contact_name, order.contact_email, order.contact_phone) == (
        "Ana Pérez",
        "ana@example.test",
        "+34 600 111 222",
    )
    assert order.created_at == NOW


def test_logged_in_checkout_belongs_to_the_customer(store, variant, stock, customer):
    # given the customer's one cart with three units
    cart = cart_for_customer(customer=customer)
    add_to_cart(cart=cart, sku=variant.sku, quantity=3, channel="web")

    # when they check out while logged in
    order = _checkout(cart, store, customer=customer, user=customer.user)

    # then the order is theirs, not a guest order, with their details as contact
    assert order.customer_id == customer.pk
    assert order.guest_checkout is False
    assert (order.contact_name, order.contact_email, order.contact_phone) == (
        customer.name,
        customer.email,
        customer.phone,
    )
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status) == ("", OrderStatus.PLACED)
    assert (event.actor, event.channel, event.user_id) == (Actor.CUSTOMER, "web", customer.user_id)
    assert Customer.objects.count() == 1


def test_checkout_reserves_exactly_the_ordered_units(store, other_store, customer):
    # given two variants in stock at the store, and the same variants at another store
    a, b = VariantFactory(), VariantFactory()
    StockLevelFactory(store=store, variant=a, on_hand=10)
    StockLevelFactory(store=store, variant=b, on_hand=4)
    StockLevelFactory(store=other_store, variant=a, on_hand=10)
    cart = make_cart((a, 2), (b, 4))

    # when the order is placed
    _checkout(cart, store, customer=customer)

    # then exactly the ordered units are reserved at that store, nothing leaves the shelf
    levels = {(s.store_id, s.variant_id): (s.on_hand, s.reserved) for s in StockLevel.objects.all()}
    assert levels == {
        (store.pk, a.pk): (10, 2),
        (store.pk, b.pk): (4, 4),
        (other_store.pk, a.pk): (10, 0),
    }


def test_order_lines_keep_the_price_at_checkout(store, customer):
    # given a variant at 12.50 in the cart
    variant = VariantFactory(price=Decimal("12.50"))
    StockLevelFactory(store=store, variant=variant, on_hand=5)
    cart = make_cart((variant, 3))
    order = _checkout(cart, store, customer=customer)

    # when the catalogue price changes afterwards
    variant.price = Decimal("99.00")
    variant.save(update_fields=["price"])

    # then the order line and total keep the price the customer agreed to
    line = order.lines.get()
    assert (line.sku, line.unit_price, line.quantity, line.collected_quantity) == (
        variant.sku,
        Decimal("12.50"),
        3,
        None,
    )
    assert line.name == str(variant)
    order.refresh_from_db()
    assert order.total == Decimal("37.50")


def test_checkout_writes_an_event_a_touchpoint_and_books_the_slot(store, variant, stock, customer):
    # given a cart
    cart = make_cart((variant, 2))
    start = slot_start(store)

    # when the order is placed on the web
    order = _checkout(cart, store, customer=customer, slot_start=start)

    # then the first event, the touchpoint and one place in the slot are recorded
    event = OrderEvent.objects.get()
    assert (event.order_id, event.from_status, event.to_status) == (order.pk, "", "placed")
    assert (event.actor, event.channel, event.user_id, event.created_at) == (
        Actor.CUSTOMER,
        "web",
        None,
        NOW,
    )
    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.customer_id, touchpoint.channel, touchpoint.kind) == (
        customer.pk,
        "web",
        "order_placed",
    )
    assert touchpoint.payload == {"order": order.number, "store": store.code, "total": "20.00"}
    assert list(SlotBooking.objects.values_list("store_id", "start", "booked")) == [
        (store.pk, start, 1)
    ]


def test_checkout_at_the_store_tablet_is_recorded_as_staff(store, variant, stock, customer, clerk):
    cart = make_cart((variant, 1))

    order = _checkout(cart, store, customer=customer, channel="store", user=clerk)

    event = order.events.get()
    assert (event.actor, event.channel, event.user_id) == (Actor.STAFF, "store", clerk.pk)
    assert order.channel == "store"


def test_checkout_empties_the_cart(store, variant, stock, customer):
    second = VariantFactory()
    StockLevelFactory(store=store, variant=second, on_hand=3)
    cart = make_cart((variant, 2), (second, 1))

    _checkout(cart, store, customer=customer)

    assert CartLine.objects.filter(cart=cart).count() == 0


def test_order_number_and_pickup_secrets_are_random_and_well_formed(
    store, variant, stock, customer
):
    # given two orders
    first = _checkout(make_cart((variant, 1)), store, customer=customer)
    second = _checkout(make_cart((variant, 1)), store, customer=customer)

    for order in (first, second):
        # then the number is CC- and 8 unambiguous characters
        assert re.fullmatch(rf"CC-[{CODE_CHARS}]{{8}}", order.number)
        # the QR token is URL-safe with at least 256 bits (43 base64 characters)
        assert len(order.pickup_token) >= 43
        assert re.fullmatch(r"[A-Za-z0-9_-]+", order.pickup_token)
        assert order.number not in order.pickup_token
        # the human code is 8 unambiguous characters
        assert re.fullmatch(rf"[{CODE_CHARS}]{{8}}", order.pickup_code)
    assert first.number != second.number
    assert first.pickup_token != second.pickup_token
    assert first.pickup_code != second.pickup_code


def test_guest_checkout_with_a_known_email_attaches_to_that_customer(store, variant, stock):
    # given a customer on record
    known = CustomerFactory(email="maria@example.test", name="María López", phone="+34 611 000 000")
    cart = make_cart((variant, 1))

    # when someone checks out as a guest with that email (in other case), another name and phone
    order = _checkout(
        cart,
        store,
        contact=Contact(
            name="Somebody Else", email="  MARIA@Example.TEST ", phone="+34 699 999 999"
        ),
    )

    # then the order joins the one record, whose details do not change
    assert order.customer_id == known.pk
    assert order.guest_checkout is True
    assert Customer.objects.count() == 1
    known.refresh_from_db()
    assert (known.email, known.name, known.phone) == (
        "maria@example.test",
        "María López",
        "+34 611 000 000",
    )


# --- Refusals --------------------------------------------------------------------------------


def test_out_of_stock_names_the_sku_and_writes_nothing(store, variant, customer, snapshot):
    # given one unit on hand and a cart wanting two
    StockLevelFactory(store=store, variant=variant, on_hand=1)
    cart = make_cart((variant, 2))
    before = snapshot()

    # when the order is placed
    with pytest.raises(StoreError) as exc:
        _checkout(cart, store, customer=customer)

    # then it is refused naming the sku, and nothing is written
    assert exc.value.code == "out_of_stock"
    assert exc.value.status == 409
    assert exc.value.extra == {"skus": [variant.sku]}
    assert variant.sku in exc.value.message
    assert snapshot() == before


def test_short_second_line_leaves_no_partial_reservation(store, customer, snapshot):
    # given two lines: the first in stock, the second short
    plenty, scarce = VariantFactory(), VariantFactory()
    StockLevelFactory(store=store, variant=plenty, on_hand=10)
    StockLevelFactory(store=store, variant=scarce, on_hand=1)
    cart = make_cart((plenty, 2), (scarce, 3))
    before = snapshot()

    with pytest.raises(StoreError) as exc:
        _checkout(cart, store, customer=customer)

    # then only the short sku is named, and the first line's reservation and the slot are undone
    assert exc.value.code == "out_of_stock"
    assert exc.value.extra == {"skus": [scarce.sku]}
    assert plenty.sku not in exc.value.message
    assert snapshot() == before
    assert SlotBooking.objects.count() == 0
    assert list(StockLevel.objects.values_list("reserved", flat=True)) == [0, 0]


def test_variant_without_stock_row_is_out_of_stock(store, variant, customer, snapshot):
    cart = make_cart((variant, 1))
    before = snapshot()

    with pytest.raises(StoreError) as exc:
        _checkout(cart, store, customer=customer)

    assert exc.value.code == "out_of_stock"
    assert snapshot() == before


# A refused guest checkout leaves no new Customer behind (DESIGN §9: a refusal changes nothing).
def test_refused_guest_checkout_creates_no_customer(store, variant, snapshot):
    StockLevelFactory(store=store, variant=variant, on_hand=1)
    cart = make_cart((variant, 2))
    before = snapshot()

    with pytest.raises(StoreError) as exc:
        _checkout(cart, store, contact=Contact(name="New Guest", email="new@example.test"))

    assert exc.value.code == "out_of_stock"
    assert snapshot() == before


def test_empty_cart_is_refused(store, customer, snapshot):
    cart = make_cart()
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        _checkout(cart, store, customer=customer)

    assert (exc.value.code, exc.value.status) == ("empty_cart", 400)
    assert snapshot() == before


def test_guest_without_contact_is_refused(store, variant, stock, snapshot):
    cart = make_cart((variant, 1))
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        _checkout(cart, store)

    assert (exc.value.code, exc.value.status) == ("contact_required", 400)
    assert snapshot() == before


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(datetime(2025, 1, 14, 10, 0, tzinfo=MADRID), id="yesterday"),
        pytest.param(datetime(2025, 1, 15, 9, 30, tzinfo=MADRID), id="inside-lead-time"),
        pytest.param(datetime(2025, 1, 15, 22, 0, tzinfo=MADRID), id="at-closing"),
        pytest.param(datetime(2025, 1, 16, 7, 30, tzinfo=MADRID), id="before-opening"),
        pytest.param(datetime(2025, 1, 15, 12, 10, tzinfo=MADRID), id="off-grid"),
        pytest.param(datetime(2025, 1, 15, 12, 0, 1, tzinfo=MADRID), id="off-grid-by-a-second"),
        pytest.param(datetime(2025, 1, 15, 12, 0), id="naive"),
    ],
)
def test_unbookable_slot_is_refused(store, variant, stock, customer, snapshot, start):
    cart = make_cart((variant, 1))
    before = snapshot()

    with pytest.raises(StoreError) as exc:
        _checkout(cart, store, customer=customer, slot_start=start)

    assert (exc.value.code, exc.value.status) == ("slot_invalid", 400)
    assert snapshot() == before


def test_slot_on_a_closure_day_is_refused(store, variant, stock, customer, snapshot):
    Closure.objects.create(store=store, date=NOW.date(), reason="Stocktake")
    cart = make_cart((variant, 1))
    before = snapshot()

    with pytest.raises(StoreError) as exc:
        _checkout(
            cart, store, customer=customer, slot_start=datetime(2025, 1, 15, 12, 0, tzinfo=MADRID)
        )

    assert exc.value.code == "slot_invalid"
    assert snapshot() == before


def test_slot_of_a_store_without_hours_is_refused(variant, customer, snapshot):
    closed = StoreFactory(hours=False)
    StockLevelFactory(store=closed, variant=variant, on_hand=5)
    cart = make_cart((variant, 1))
    before = snapshot()

    with pytest.raises(StoreError) as exc:
        _checkout(
            cart, closed, customer=customer, slot_start=datetime(2025, 1, 15, 12, 0, tzinfo=MADRID)
        )

    assert exc.value.code == "slot_invalid"
    assert snapshot() == before


def test_the_same_slot_given_in_another_time_zone_is_accepted(store, variant, stock, customer):
    # 12:00 in Madrid in winter is 11:00 UTC: the same instant, the same slot
    start = datetime(2025, 1, 15, 11, 0, tzinfo=UTC)

    order = _checkout(make_cart((variant, 1)), store, customer=customer, slot_start=start)

    assert order.slot_start == datetime(2025, 1, 15, 12, 0, tzinfo=MADRID)


def test_full_slot_is_refused_and_writes_nothing(variant, customer, snapshot):
    # given a slot with room for one order, already taken
    store = StoreFactory(slot_capacity=1)
    StockLevelFactory(store=store, variant=variant, on_hand=10)
    start = slot_start(store)
    _checkout(make_cart((variant, 1)), store, customer=customer, slot_start=start)
    cart = make_cart((variant, 1))
    before = snapshot()

    # when another order asks for the same slot
    with pytest.raises(StoreError) as exc:
        _checkout(cart, store, customer=customer, slot_start=start)

    # then it is refused and the counters stay where they were
    assert (exc.value.code, exc.value.status) == ("slot_full", 409)
    assert snapshot() == before
    assert SlotBooking.objects.get().booked == 1
    assert StockLevel.objects.get().reserved == 1


def test_the_next_slot_still_has_room_when_one_is_full(variant, customer):
    store = StoreFactory(slot_capacity=1)
    StockLevelFactory(store=store, variant=variant, on_hand=10)
    _checkout(make_cart((variant, 1)), store, customer=customer, slot_start=slot_start(store))

    order = _checkout(
        make_cart((variant, 1)), store, customer=customer, slot_start=slot_start(store, index=1)
    )

    assert order.slot_start == slot_start(store, index=1)
    assert sorted(SlotBooking.objects.values_list("booked", flat=True)) == [1, 1]


def test_same_idempotency_key_returns_the_same_order(store, variant, stock, customer):
    # given an order placed with an idempotency key
    cart = make_cart((variant, 2))
    first = _checkout(cart, store, customer=customer, idempotency_key="checkout-7f3a")

    # when the same checkout is submitted again (e.g. a double click or a retry)
    second = _checkout(cart, store, customer=customer, idempotency_key="checkout-7f3a")

    # then the same order comes back and nothing is reserved or booked twice
    assert second.pk == first.pk
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1
    assert StockLevel.objects.get().reserved == 2
    assert SlotBooking.objects.get().booked == 1


def test_online_payment_is_refused_for_now(store, variant, stock, customer, snapshot):
    cart = make_cart((variant, 1))
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        _checkout(cart, store, customer=customer, payment_method="online")

    assert (exc.value.code, exc.value.status) == ("payment_unavailable", 400)
    assert snapshot() == before


def test_a_pickup_code_already_taken_at_the_store_is_drawn_again(
    store, variant, stock, customer, monkeypatch
):
    # given an order at the store holding the code the draw comes up with first
    first = _checkout(make_cart((variant, 1)), store, customer=customer)
    draws = iter([first.pickup_code, "ZZZZ9999"])
    monkeypatch.setattr("orders.services.checkout.random_code", lambda: next(draws))

    # when another order is placed there
    second = _checkout(make_cart((variant, 1)), store, customer=customer)

    # then it gets the next code drawn, and everything it reserved is reserved once
    assert second.pickup_code == "ZZZZ9999"
    assert list(Order.objects.order_by("pk").values_list("pickup_code", flat=True)) == [
        first.pickup_code,
        "ZZZZ9999",
    ]
    assert StockLevel.objects.get(store=store, variant=variant).reserved == 2
    assert SlotBooking.objects.get(store=store).booked == 2

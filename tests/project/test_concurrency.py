"""Races that matter, with real threads on separate PostgreSQL connections (DESIGN §3).

Each thread opens its own connection, waits at a barrier so all submit at the same moment,
and closes its connection at the end. Data is committed (transaction=True) so every
connection sees it.
"""

import pytest

from orders.models import Order, OrderEvent, OrderLine
from orders.services import place_order
from shop.models import CartLine
from stores.errors import StoreError
from stores.models import SlotBooking, StockLevel
from tests.conftest import NOW, make_cart, slot_start
from tests.support.factories import CustomerFactory, StockLevelFactory, StoreFactory, VariantFactory
from tests.support.threads import race

THREADS = 20

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def _checkout(cart, store, customer, start, **kwargs):
    return lambda: place_order(
        cart=cart,
        store=store,
        customer=customer,
        slot_start=start,
        payment_method="in_store",
        channel="web",
        now=NOW,
        **kwargs,
    )


@pytest.mark.parametrize("same_slot", [True, False], ids=["same-slot", "own-slot-each"])
def test_last_units_are_sold_once(same_slot):
    # given 5 units on hand and 20 shoppers, each with 1 unit in their own cart
    store = StoreFactory(slot_capacity=100)
    variant = VariantFactory()
    StockLevelFactory(store=store, variant=variant, on_hand=5)
    # (in their own slots, only the stock row is shared: no slot row lock serialises them)
    starts = [slot_start(store, index=0 if same_slot else i) for i in range(THREADS)]
    carts = [(make_cart((variant, 1)), CustomerFactory()) for _ in range(THREADS)]

    # when all of them check out at the same moment
    results = race(
        [
            _checkout(cart, store, customer, start)
            for (cart, customer), start in zip(carts, starts, strict=True)
        ]
    )

    # then exactly 5 orders exist and the other 15 were told the item is out of stock
    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if isinstance(r, StoreError)]
    assert len(orders) == 5, results
    assert len(refusals) == THREADS - 5, results
    assert {r.code for r in refusals} == {"out_of_stock"}
    assert Order.objects.count() == 5
    assert OrderLine.objects.count() == 5
    assert OrderEvent.objects.count() == 5
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (5, 5)
    assert sum(SlotBooking.objects.values_list("booked", flat=True)) == 5
    # the winners' carts are empty, the others still hold their unit
    assert CartLine.objects.count() == THREADS - 5


def test_double_submit_with_the_same_key_places_one_order():
    # given one cart with 2 units
    store = StoreFactory(slot_capacity=100)
    variant = VariantFactory()
    StockLevelFactory(store=store, variant=variant, on_hand=50)
    customer = CustomerFactory()
    cart = make_cart((variant, 2))
    start = slot_start(store)

    # when 20 requests submit that same checkout with the same idempotency key at once
    results = race(
        [
            _checkout(cart, store, customer, start, idempotency_key="checkout-1")
            for _ in range(THREADS)
        ]
    )

    # then they all get the one order, reserved once
    assert all(isinstance(r, Order) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (50, 2)
    assert SlotBooking.objects.get().booked == 1


@pytest.mark.parametrize("counter_exists", [False, True], ids=["first-booking", "counter-exists"])
def test_slot_capacity_is_never_exceeded(counter_exists):
    # given a slot with room for 3 orders and plenty of stock
    store = StoreFactory(slot_capacity=3)
    variant = VariantFactory()
    StockLevelFactory(store=store, variant=variant, on_hand=100)
    start = slot_start(store)
    if counter_exists:
        # (a booking made and cancelled earlier: no insert left to serialise the racers)
        SlotBooking.objects.create(store=store, start=start, booked=0)
    carts = [(make_cart((variant, 1)), CustomerFactory()) for _ in range(THREADS)]

    # when 20 shoppers book that slot at the same moment
    results = race([_checkout(cart, store, customer, start) for cart, customer in carts])

    # then exactly 3 get it and the rest are told it is full
    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if isinstance(r, StoreError)]
    assert len(orders) == 3, results
    assert len(refusals) == THREADS - 3, results
    assert {r.code for r in refusals} == {"slot_full"}
    assert Order.objects.count() == 3
    assert SlotBooking.objects.get().booked == 3
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (100, 3)


def test_cancellations_and_checkouts_on_the_same_slot_and_items_never_deadlock():
    # given 10 placed orders for two items in one slot, and 10 new carts for the same items
    store = StoreFactory(slot_capacity=100)
    first, second = VariantFactory(), VariantFactory()
    StockLevelFactory(store=store, variant=first, on_hand=100)
    StockLevelFactory(store=store, variant=second, on_hand=100)
    start = slot_start(store)
    customer = CustomerFactory()
    placed = [
        place_order(
            cart=make_cart((first, 1), (second, 2)),
            store=store,
            customer=customer,
            slot_start=start,
            payment_method="in_store",
            channel="web",
            now=NOW,
        )
        for _ in range(THREADS // 2)
    ]
    carts = [make_cart((second, 2), (first, 1)) for _ in range(THREADS // 2)]

    # when cancellations and checkouts run at the same moment
    from orders.services import cancel_order

    cancels = [
        (
            lambda order=order: cancel_order(
                order=order, reason="race", actor="staff", channel="store"
            )
        )
        for order in placed
    ]
    checkouts = [_checkout(cart, store, customer, start) for cart in carts]
    results = race([call for pair in zip(cancels, checkouts, strict=True) for call in pair])

    # then every call succeeded (no deadlock victim) and the counters match the open orders
    assert [r for r in results if isinstance(r, Exception)] == []
    open_orders = Order.objects.filter(status="placed")
    assert open_orders.count() == THREADS // 2
    levels = {lvl.variant_id: lvl for lvl in StockLevel.objects.filter(store=store)}
    assert (levels[first.pk].reserved, levels[second.pk].reserved) == (10, 20)
    assert SlotBooking.objects.get(store=store, start=start).booked == THREADS // 2


def test_double_tap_on_add_to_cart_adds_both_without_error():
    from shop.services import add_to_cart
    from tests.support.factories import CartFactory

    cart = CartFactory()
    variant = VariantFactory()
    StockLevelFactory(variant=variant, on_hand=5)  # items no store has cannot be added

    results = race([lambda: add_to_cart(cart=cart, sku=variant.sku, quantity=1, channel="web")] * 2)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert CartLine.objects.get(cart=cart, variant=variant).quantity == 2


def test_double_submitted_sign_up_creates_one_account():
    from customers.errors import CustomerError
    from customers.models import User
    from customers.services import register_customer

    def sign_up():
        return register_customer(email="twice@example.test", password="pw-123456-x", name="Twice")

    results = race([sign_up, sign_up])

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1
    assert isinstance(errors[0], CustomerError)
    assert errors[0].code == "email_taken"
    assert User.objects.filter(email="twice@example.test").count() == 1

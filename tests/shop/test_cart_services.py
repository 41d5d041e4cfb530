"""Cart services: one cart per customer, validated quantities, merging on login."""

import pytest

from customers.models import Touchpoint
from shop.errors import CartError
from shop.models import Cart, CartLine
from shop.services import (
    add_to_cart,
    attach_cart_on_login,
    cart_for_customer,
    create_anonymous_cart,
    set_line_quantity,
)
from tests.support.factories import (
    CartFactory,
    CartLineFactory,
    ProductFactory,
    StockLevelFactory,
    VariantFactory,
)


@pytest.fixture
def cart(customer):
    return cart_for_customer(customer=customer)


def stocked_variant(store, **kwargs):
    """A variant with units on hand at ``store`` (items no store has cannot be added)."""
    variant = VariantFactory(**kwargs)
    StockLevelFactory(store=store, variant=variant, on_hand=10)
    return variant


@pytest.fixture
def variant(store):
    return stocked_variant(store)


def test_add_to_cart_creates_a_line_and_a_touchpoint(cart, variant, customer):
    line = add_to_cart(cart=cart, sku=variant.sku, quantity=2, channel="mobile")

    assert list(cart.lines.values_list("variant_id", "quantity", "channel")) == [
        (variant.pk, 2, "mobile")
    ]
    assert line.quantity == 2
    touchpoint = Touchpoint.objects.get(customer=customer)
    assert (touchpoint.channel, touchpoint.kind, touchpoint.payload) == (
        "mobile",
        "cart_changed",
        {"sku": variant.sku, "quantity": 2, "action": "add"},
    )


def test_anonymous_cart_changes_record_no_touchpoint(variant):
    anonymous = create_anonymous_cart()

    add_to_cart(cart=anonymous, sku=variant.sku, quantity=1, channel="web")

    assert anonymous.lines.count() == 1
    assert Touchpoint.objects.count() == 0


def test_unknown_sku_is_refused(cart, snapshot):
    before = snapshot()

    with pytest.raises(CartError) as exc:
        add_to_cart(cart=cart, sku="NO-SUCH-SKU", quantity=1, channel="web")

    assert (exc.value.code, exc.value.status) == ("unknown_sku", 400)
    assert "NO-SUCH-SKU" in exc.value.message
    assert snapshot() == before


@pytest.mark.parametrize("inactive", ["variant", "product"])
def test_inactive_items_are_unknown(cart, snapshot, inactive):
    variant = (
        VariantFactory(is_active=False)
        if inactive == "variant"
        else VariantFactory(product=ProductFactory(is_active=False))
    )
    before = snapshot()

    with pytest.raises(CartError) as exc:
        add_to_cart(cart=cart, sku=variant.sku, quantity=1, channel="web")

    assert exc.value.code == "unknown_sku"
    assert snapshot() == before


@pytest.mark.parametrize(
    "quantity",
    [0, -1, 10**9, "3", 2.5, True, None],
    ids=["zero", "negative", "huge", "string", "fraction", "bool", "none"],
)
def test_bad_quantity_is_refused(cart, variant, snapshot, quantity):
    before = snapshot()

    with pytest.raises(CartError) as exc:
        add_to_cart(cart=cart, sku=variant.sku, quantity=quantity, channel="web")

    assert (exc.value.code, exc.value.status) == ("bad_quantity", 400)
    assert snapshot() == before


def test_adding_the_same_sku_twice_adds_up(cart, variant):
    add_to_cart(cart=cart, sku=variant.sku, quantity=2, channel="web")

    add_to_cart(cart=cart, sku=variant.sku, quantity=3, channel="store")

    assert list(cart.lines.values_list("variant_id", "quantity", "channel")) == [
        (variant.pk, 5, "store")
    ]


def test_adding_up_to_the_line_limit_is_allowed(cart, variant, settings):
    add_to_cart(
        cart=cart, sku=variant.sku, quantity=settings.CART_MAX_LINE_QUANTITY - 1, channel="web"
    )

    add_to_cart(cart=cart, sku=variant.sku, quantity=1, channel="web")

    assert cart.lines.get().quantity == settings.CART_MAX_LINE_QUANTITY


def test_adding_beyond_the_line_limit_is_refused_and_keeps_the_quantity(
    cart, variant, settings, snapshot
):
    # given a line 5 short of the limit
    limit = settings.CART_MAX_LINE_QUANTITY
    add_to_cart(cart=cart, sku=variant.sku, quantity=limit - 5, channel="web")
    before = snapshot()

    # when 6 more are added (one beyond the limit)
    with pytest.raises(CartError) as exc:
        add_to_cart(cart=cart, sku=variant.sku, quantity=6, channel="web")

    # then it is refused and the line keeps its quantity
    assert exc.value.code == "bad_quantity"
    assert cart.lines.get().quantity == limit - 5
    assert snapshot() == before


def test_set_line_quantity_changes_the_line(cart, variant):
    line = add_to_cart(cart=cart, sku=variant.sku, quantity=2, channel="web")

    updated = set_line_quantity(cart=cart, line_id=line.pk, quantity=7, channel="mobile")

    assert updated.quantity == 7
    assert list(cart.lines.values_list("quantity", "channel")) == [(7, "mobile")]


def test_set_line_quantity_zero_removes_the_line(cart, variant):
    line = add_to_cart(cart=cart, sku=variant.sku, quantity=2, channel="web")

    assert set_line_quantity(cart=cart, line_id=line.pk, quantity=0, channel="web") is None

    assert cart.lines.count() == 0


OVER_THE_LIMIT = "one over CART_MAX_LINE_QUANTITY"


@pytest.mark.parametrize("quantity", [-1, OVER_THE_LIMIT, "2", 1.0])
def test_set_line_quantity_refuses_bad_quantities(cart, variant, snapshot, settings, quantity):
    if quantity == OVER_THE_LIMIT:
        quantity = settings.CART_MAX_LINE_QUANTITY + 1
    line = add_to_cart(cart=cart, sku=variant.sku, quantity=2, channel="web")
    before = snapshot()

    with pytest.raises(CartError) as exc:
        set_line_quantity(cart=cart, line_id=line.pk, quantity=quantity, channel="web")

    assert exc.value.code == "bad_quantity"
    assert snapshot() == before


def test_another_carts_line_is_unknown(cart, variant, snapshot):
    # given a line in somebody else's cart
    theirs = CartLineFactory(cart=CartFactory(), variant=variant, quantity=4)
    before = snapshot()

    # when this cart tries to change it
    with pytest.raises(CartError) as exc:
        set_line_quantity(cart=cart, line_id=theirs.pk, quantity=1, channel="web")

    # then it is a 404 and their line is untouched
    assert (exc.value.code, exc.value.status) == ("unknown_line", 404)
    assert snapshot() == before


@pytest.mark.parametrize("line_id", ["abc", None, "", 10**12])
def test_garbage_line_id_is_unknown(cart, line_id):
    with pytest.raises(CartError) as exc:
        set_line_quantity(cart=cart, line_id=line_id, quantity=1, channel="web")

    assert (exc.value.code, exc.value.status) == ("unknown_line", 404)


def test_login_merges_the_anonymous_cart_into_the_customers(cart, customer, store, settings):
    # given the customer's cart with 15 x A, and an anonymous cart (store chosen) with 10 x A, 2 x B
    a, b = stocked_variant(store), stocked_variant(store)
    add_to_cart(cart=cart, sku=a.sku, quantity=15, channel="web")
    anonymous = create_anonymous_cart(store_id=store.pk)
    add_to_cart(cart=anonymous, sku=a.sku, quantity=10, channel="mobile")
    add_to_cart(cart=anonymous, sku=b.sku, quantity=2, channel="mobile")

    # when they log in on that device
    result = attach_cart_on_login(anonymous=anonymous, customer=customer, channel="mobile")

    # then one cart remains: quantities add up (capped at the line limit) and the store carries over
    assert result.pk == cart.pk
    assert not Cart.objects.filter(pk=anonymous.pk).exists()
    assert Cart.objects.count() == 1
    quantities = dict(CartLine.objects.values_list("variant_id", "quantity"))
    assert quantities == {a.pk: settings.CART_MAX_LINE_QUANTITY, b.pk: 2}
    assert set(CartLine.objects.values_list("cart_id", flat=True)) == {cart.pk}
    cart.refresh_from_db()
    assert cart.store_id == store.pk
    assert Touchpoint.objects.filter(customer=customer, kind="cart_merged").count() == 1


def test_login_without_a_cart_adopts_the_anonymous_one(customer, variant):
    anonymous = create_anonymous_cart()
    add_to_cart(cart=anonymous, sku=variant.sku, quantity=3, channel="web")

    result = attach_cart_on_login(anonymous=anonymous, customer=customer, channel="web")

    assert result.pk == anonymous.pk
    assert Cart.objects.get().customer_id == customer.pk
    assert CartLine.objects.get().quantity == 3


def test_login_without_an_anonymous_cart_gives_the_customers_cart(cart, customer):
    assert attach_cart_on_login(anonymous=None, customer=customer, channel="web").pk == cart.pk
    assert Cart.objects.count() == 1


def test_cart_for_customer_gives_one_cart(customer):
    first = cart_for_customer(customer=customer)
    second = cart_for_customer(customer=customer)

    assert first.pk == second.pk
    assert Cart.objects.filter(customer=customer).count() == 1

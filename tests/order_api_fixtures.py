"""Fixtures for the order, checkout and store-counter API tests.

A test module loads them with
``pytest_plugins = ["tests.web_fixtures", "tests.order_api_fixtures"]`` (the ``shop`` and
``shopper`` fixtures come from ``tests.web_fixtures``). Like the web tests, these run at the
real time of day: slots are read from ``pickup_slots``, never assumed. The plain helpers are
in ``tests/order_api_helpers.py``.
"""

import pytest

from shop.services import cart_for_customer
from stores.models import StaffMembership
from stores.selectors import pickup_slots
from tests.api_client import Api
from tests.factories import CartLineFactory, CustomerFactory, StaffMembershipFactory, UserFactory
from tests.web_helpers import place_at


@pytest.fixture
def api_as():
    """``api_as(user)``: a JSON client with a fresh token for ``user`` (None: no token)."""
    return Api


@pytest.fixture
def customer_api(shopper):
    """The ``shopper`` on their phone."""
    return Api(shopper.user)


@pytest.fixture
def stranger(db):
    """Another registered customer, with an order of their own at the shop's store."""
    user = UserFactory()
    return CustomerFactory(user=user, email=user.email, name=user.name)


@pytest.fixture
def stranger_api(stranger):
    return Api(stranger.user)


@pytest.fixture
def clerk_api(clerk):
    """The clerk of the shop's store on the counter app."""
    return Api(clerk)


@pytest.fixture
def other_clerk(other_store):
    """A clerk who works at the other store only."""
    user = UserFactory()
    StaffMembershipFactory(user=user, store=other_store, role=StaffMembership.Role.CLERK)
    return user


@pytest.fixture
def filled_cart(shop, shopper):
    """The shopper's one cart: 2 lamps (12.50) and 1 mug (4.00) — 29.00 EUR."""
    cart = cart_for_customer(customer=shopper)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=2, channel="mobile")
    CartLineFactory(cart=cart, variant=shop.mug, quantity=1, channel="mobile")
    return cart


@pytest.fixture
def slots(shop):
    """The bookable slot starts at the shop's store, right now."""
    return [slot.start for slot in pickup_slots(store=shop.store)]


@pytest.fixture
def checkout_body(shop, slots):
    """A valid checkout body: pay at the counter, the store's second slot."""
    return {
        "store": shop.store.code,
        "slot_start": slots[1].isoformat(),
        "payment": "in_store",
    }


@pytest.fixture
def shopper_order(shop, shopper):
    """A placed web order of the shopper at the shop's store: 2 lamps and 1 mug."""
    return place_at(shop.store, (shop.lamp, 2), (shop.mug, 1), customer=shopper)


@pytest.fixture
def stranger_order(shop, stranger):
    return place_at(shop.store, (shop.lamp, 1), customer=stranger)

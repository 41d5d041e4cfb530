"""Fixtures for the REST API tests: clients with a per-device knox token for the shopper,
another customer and the store staff, and the carts, bodies and orders the order, checkout and
store-counter API tests start from.

A test module loads them with
``pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]`` (the ``shop``
and ``shopper`` fixtures come from ``tests.support.web_fixtures``). Like the web tests, these
run at the real time of day: slots are read from ``pickup_slots``, never assumed. The plain
helpers are in ``tests/support/api_helpers.py``.
"""

import pytest

from shop.services import cart_for_customer
from stores.models import StaffMembership
from stores.selectors import pickup_slots
from tests.support.api_client import Api
from tests.support.factories import (
    CartLineFactory,
    CustomerFactory,
    StaffMembershipFactory,
    UserFactory,
)
from tests.support.web_helpers import place_at

# --- Clients ---------------------------------------------------------------------------------


@pytest.fixture
def api_as():
    """``api_as(user)``: a JSON client with a fresh token for ``user`` (None: no token)."""
    return Api


@pytest.fixture
def anonymous_api(db):
    return Api()


@pytest.fixture
def customer_api(shopper):
    """The ``shopper`` on their phone."""
    return Api(shopper.user)


@pytest.fixture
def shopper_api(customer_api):
    """The ``shopper`` on their phone (the account, cart and catalogue tests' name for
    ``customer_api``)."""
    return customer_api


@pytest.fixture
def stranger(db):
    """Another registered customer (``stranger_order`` gives them an order at the shop's
    store)."""
    user = UserFactory()
    return CustomerFactory(user=user, email=user.email, name=user.name)


@pytest.fixture
def other_shopper(stranger):
    """A second registered customer (the account, cart and handoff tests' name for
    ``stranger``)."""
    return stranger


@pytest.fixture
def stranger_api(stranger):
    return Api(stranger.user)


@pytest.fixture
def other_api(stranger_api):
    """``other_shopper`` on their phone (another name for ``stranger_api``)."""
    return stranger_api


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


# --- Carts, bodies and orders ----------------------------------------------------------------


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

"""Shared fixtures: factories, a fixed clock, stores with staff, and a "nothing written" probe.

The suite runs on PostgreSQL and Redis (DESIGN §7). Service tests never read the wall clock:
they pass ``NOW`` (a Wednesday, 09:00 in Madrid) to every service that takes ``now``. Tests
that go through views, which do read it, pass at any moment:
``tests.support.clock.at_awkward_moments`` runs them at the awkward ones, and
``OMNICOLLECT_TEST_CLOCK`` runs the whole suite at one.
"""

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection

from core import tasks
from core.counters import cache_pause
from core.tasks import broker_pause
from orders.services import place_order
from stores.models import StaffMembership
from stores.selectors import pickup_slots
from tests.support.factories import (
    CartFactory,
    CartLineFactory,
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    StaffMembershipFactory,
    StockLevelFactory,
    StoreFactory,
    UserFactory,
    VariantFactory,
)
from tests.support.web_helpers import written

MADRID = ZoneInfo("Europe/Madrid")
# Wednesday 15 January 2025, 09:00 in Madrid (08:00 UTC). In the past on purpose: tasks that
# read the wall clock (orders.tasks.expire_holds) then see holds computed from it as overdue.
NOW = datetime(2025, 1, 15, 9, 0, tzinfo=MADRID)


# --- Environment ---------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql():
    if connection.vendor != "postgresql":
        pytest.fail(
            "The Omnicollect test suite must run on PostgreSQL (the production engine): "
            f"DATABASE_URL points at {connection.vendor!r}. "
            "Set DATABASE_URL=postgres://… (and REDIS_URL=redis://…) and run again.",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.SECURE_SSL_REDIRECT = False
    settings.LANGUAGE_CODE = "en"
    # Hashing is not under test; the default PBKDF2 would cost ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Static files come from the app folders; production serves the collected, hashed set.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # A test that stopped Redis leaves no pause behind (core/outage.py).
    cache_pause.end()
    broker_pause.end()
    cache.clear()
    yield
    cache.clear()
    # What the test's commits handed to the publisher thread is published now, not into the
    # next test (whose broker may be another, or purged).
    assert tasks.flush(timeout=30), "the publisher thread is stuck"


@pytest.fixture
def moment(request):
    """The instant the wall clock starts from in this test (None: the real time).

    ``at_awkward_moments`` parametrizes it; ``OMNICOLLECT_TEST_CLOCK=2026-03-29T01:55+01:00``
    sets it for every test of a run but those marked ``real_clock`` (a Celery worker or a
    Stripe server in another process keeps the real time, so the two clocks would disagree)."""
    value = os.environ.get("OMNICOLLECT_TEST_CLOCK")
    if not value or request.node.get_closest_marker("real_clock"):
        return None
    return datetime.fromisoformat(value)


@pytest.fixture(autouse=True)
def _wall_clock(moment):
    """Start the wall clock at ``moment`` (it keeps ticking from there) for the whole test,
    fixtures included: autouse fixtures are set up before the others."""
    if moment is None:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


# --- Factories as fixtures -----------------------------------------------------------------


@pytest.fixture
def user_factory():
    return UserFactory


@pytest.fixture
def customer_factory():
    return CustomerFactory


@pytest.fixture
def store_factory():
    return StoreFactory


@pytest.fixture
def category_factory():
    return CategoryFactory


@pytest.fixture
def product_factory():
    return ProductFactory


@pytest.fixture
def variant_factory():
    return VariantFactory


@pytest.fixture
def stock_level_factory():
    return StockLevelFactory


@pytest.fixture
def staff_membership_factory():
    return StaffMembershipFactory


@pytest.fixture
def cart_factory():
    return CartFactory


@pytest.fixture
def cart_line_factory():
    return CartLineFactory


# --- Handy objects ---------------------------------------------------------------------------


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def store_zone():
    """The time zone of ``store`` and ``other_store`` (``at_awkward_moments`` overrides it)."""
    return "Europe/Madrid"


@pytest.fixture
def store(db, store_zone):
    return StoreFactory(timezone=store_zone)


@pytest.fixture
def other_store(db, store_zone):
    return StoreFactory(timezone=store_zone)


@pytest.fixture
def variant(db):
    return VariantFactory()


@pytest.fixture
def stock(store, variant):
    """10 units of ``variant`` on hand at ``store``, none reserved."""
    return StockLevelFactory(store=store, variant=variant, on_hand=10)


@pytest.fixture
def clerk(store):
    user = UserFactory()
    StaffMembershipFactory(user=user, store=store, role=StaffMembership.Role.CLERK)
    return user


@pytest.fixture
def manager(store):
    user = UserFactory()
    StaffMembershipFactory(user=user, store=store, role=StaffMembership.Role.MANAGER)
    return user


@pytest.fixture
def customer(db):
    return CustomerFactory(user=UserFactory())


# --- Helpers ---------------------------------------------------------------------------------


def slot_start(store, *, now=NOW, index=0):
    """The start of the ``index``-th bookable pickup slot at ``store`` seen from ``now``."""
    return pickup_slots(store=store, now=now)[index].start


@pytest.fixture
def first_slot():
    return slot_start


def make_cart(*lines, customer=None):
    """An anonymous cart (or ``customer``'s) holding ``(variant, quantity)`` lines."""
    cart = CartFactory(customer=customer)
    for variant, quantity in lines:
        CartLineFactory(cart=cart, variant=variant, quantity=quantity)
    return cart


@pytest.fixture
def cart_with():
    return make_cart


@pytest.fixture
def place(store, customer):
    """Place an in-store-payment web order for ``customer`` at ``store`` in the first slot."""

    def _place(*lines, store=store, customer=customer, cart=None, **kwargs):
        cart = cart or make_cart(*lines)
        kwargs.setdefault("payment_method", "in_store")
        kwargs.setdefault("channel", "web")
        kwargs.setdefault("now", NOW)
        if "slot_start" not in kwargs:
            kwargs["slot_start"] = slot_start(store, now=kwargs["now"])
        return place_order(cart=cart, store=store, customer=customer, **kwargs)

    return _place


def db_state() -> dict:
    """Everything a service or request could write, in comparable form."""
    return written()


@pytest.fixture
def snapshot():
    """Call before and after a refused service call: the two states must be equal."""
    return db_state

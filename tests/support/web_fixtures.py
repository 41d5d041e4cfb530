"""Fixtures for the endpoint-level tests of the web shop and the store tablet.

A test module loads them with ``pytest_plugins = ["tests.support.web_fixtures"]``; the plain helpers
are in ``tests/support/web_helpers.py``.
"""

from decimal import Decimal

import pytest

from tests.support.factories import (
    CategoryFactory,
    CustomerFactory,
    ProductFactory,
    StockLevelFactory,
    UserFactory,
    VariantFactory,
)
from tests.support.web_helpers import Shop, logged_in


@pytest.fixture
def shop(store, other_store):
    """Two stores and two items: the lamp (12.50 EUR) has 10 at ``store`` and none at
    ``other_store``; the mug (4.00 EUR) has 3 and 5."""
    category = CategoryFactory(name="Lighting", slug="lighting")
    lamp = VariantFactory(
        product=ProductFactory(category=category, name="Brass Desk Lamp", slug="brass-desk-lamp"),
        sku="LAMP-01",
        title="Brass",
        price=Decimal("12.50"),
    )
    mug = VariantFactory(
        product=ProductFactory(name="Stoneware Mug", slug="stoneware-mug"),
        sku="MUG-01",
        title="Blue",
        price=Decimal("4.00"),
    )
    StockLevelFactory(store=store, variant=lamp, on_hand=10)
    StockLevelFactory(store=other_store, variant=lamp, on_hand=0)
    StockLevelFactory(store=store, variant=mug, on_hand=3)
    StockLevelFactory(store=other_store, variant=mug, on_hand=5)
    return Shop(store=store, other=other_store, category=category, lamp=lamp, mug=mug)


@pytest.fixture
def shopper(db):
    """A registered customer with a login under the same email (password
    ``tests.support.factories.PASSWORD``)."""
    user = UserFactory()
    return CustomerFactory(user=user, email=user.email, name=user.name)


@pytest.fixture
def tablet(clerk):
    """The store tablet: a client logged in as the clerk of ``store``."""
    return logged_in(clerk)

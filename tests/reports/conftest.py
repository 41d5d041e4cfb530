"""The stores the managers' reports are tried on, and the clerk who hands orders over."""

import pytest

from tests.support.factories import StoreFactory, UserFactory


@pytest.fixture
def madrid(db):
    return StoreFactory(code="MAD-01", name="Madrid Centro", timezone="Europe/Madrid")


@pytest.fixture
def barcelona(db):
    return StoreFactory(code="BCN-01", name="Barcelona Gràcia", timezone="Europe/Madrid")


@pytest.fixture
def mexico(db):
    return StoreFactory(code="CMX-01", name="Ciudad de México", timezone="America/Mexico_City")


@pytest.fixture
def new_york(db):
    return StoreFactory(code="NYC-01", name="New York SoHo", timezone="America/New_York")


@pytest.fixture
def clerk_user(db):
    return UserFactory()

"""A new user with memberships of some stores, as an API caller or a logged-in browser."""

from django.test import Client

from stores.models import StaffMembership
from tests.support.api_client import Api
from tests.support.factories import StaffMembershipFactory, UserFactory


def staff_user(*stores, role=StaffMembership.Role.MANAGER):
    user = UserFactory()
    for store in stores:
        StaffMembershipFactory(user=user, store=store, role=role)
    return user


def staff_api(*stores, role=StaffMembership.Role.MANAGER) -> Api:
    """The API with a token of a new user who is ``role`` at each of ``stores``."""
    return Api(staff_user(*stores, role=role))


def staff_client(*stores, role=StaffMembership.Role.MANAGER, language="en") -> Client:
    """A browser logged in as a new user who is ``role`` at each of ``stores`` (its ``user``
    attribute), speaking ``language``."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.user = staff_user(*stores, role=role)
    client.force_login(client.user)
    return client

"""The timeline list runs the same number of queries for few or many touchpoints."""

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken

from customers.services import record_touchpoint
from tests.support.factories import CustomerFactory, UserFactory


def _timeline_queries(count: int) -> int:
    user = UserFactory()
    customer = CustomerFactory(user=user, email=user.email)
    for index in range(count):
        record_touchpoint(
            customer=customer, channel="mobile", kind="cart_changed", payload={"i": index}
        )
    _, token = AuthToken.objects.create(user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/me/timeline/?page_size=100")
    assert response.status_code == 200
    assert response.json()["count"] == count
    return len(queries)


def test_timeline_query_count_does_not_grow_with_touchpoints(db):
    few, many = _timeline_queries(3), _timeline_queries(60)
    print(f"GET /api/v1/me/timeline/: {few} queries for 3 touchpoints, {many} for 60")
    assert few == many == 3

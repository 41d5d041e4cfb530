"""The checkout page keeps what the shopper typed when the order is refused, and a logged-in
customer's email is the account's."""

from stores.models import StockLevel
from tests.support.web_helpers import add_to_cart, checkout_data, checkout_page, text, written

pytest_plugins = ["tests.support.web_fixtures"]


def test_out_of_stock_at_checkout_keeps_the_form_and_says_why(client, shop):
    # given a cart with 3 mugs, and the last mugs sell out while the shopper types
    add_to_cart(client, shop.mug, 3)
    _, key, slots = checkout_page(client, shop.store)
    StockLevel.objects.filter(store=shop.store, variant=shop.mug).update(reserved=2)
    before = written()

    # when they place the order
    response = client.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], name="Paz Tecleada")
    )

    # then the same page comes back with the reason, their details still filled in
    assert response.status_code == 409
    page = text(response)
    assert 'data-code="out_of_stock"' in page
    assert "MUG-01" in page
    assert 'value="Paz Tecleada"' in page
    assert written() == before


def test_logged_in_checkout_uses_the_account_email(client, shop, shopper):
    client.force_login(shopper.user)
    add_to_cart(client, shop.lamp, 1)
    response, key, slots = checkout_page(client, shop.store)
    assert f'value="{shopper.email}"' in text(response)

    # a tampered email field is ignored: the order goes to the account's address
    response = client.post(
        "/checkout/", checkout_data(shop.store, key, slots[1], email="someone@else.test")
    )

    assert response.status_code == 302
    order = shopper.orders.get()
    assert order.contact_email == shopper.email


def test_login_email_is_case_insensitive_and_so_is_the_lockout(client, shopper, settings):
    from tests.support.factories import PASSWORD

    shouted = shopper.email.upper()
    response = client.post("/account/login/", {"username": shouted, "password": PASSWORD})
    assert response.status_code == 302
    client.post("/account/logout/")

    # failures under different capitalisations count against the same login
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        name = shopper.email.upper() if attempt % 2 else shopper.email
        client.post("/account/login/", {"username": name, "password": "wrong-password"})
    locked = client.post("/account/login/", {"username": shopper.email, "password": PASSWORD})
    assert locked.status_code == 429


def test_sign_up_attempts_are_rate_limited(db, client, settings):
    limit, _window = settings.API_RATE_LIMITS["auth"]
    for attempt in range(limit):
        client.post("/account/signup/", {"name": "X", "email": f"bad{attempt}", "password": "x"})
    response = client.post(
        "/account/signup/",
        {"name": "Real", "email": "real@example.test", "password": "a-long-password-77"},
    )
    assert response.status_code == 429
    from customers.models import User

    assert not User.objects.filter(email="real@example.test").exists()


def test_a_login_never_gets_another_logins_customer_record(db):
    import pytest

    from customers.errors import CustomerError
    from customers.services import customer_for_user
    from tests.support.factories import CustomerFactory, UserFactory

    owner, other = UserFactory(email="a@example.test"), UserFactory(email="b@example.test")
    CustomerFactory(email="a@example.test", user=owner)
    other.email = "A@example.test"  # edited by hand into a collision
    with pytest.raises(CustomerError) as refused:
        customer_for_user(user=other)
    assert refused.value.code == "account_conflict"

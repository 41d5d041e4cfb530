"""Identity rules (issue 4, item 7).

A guest checkout with a registered customer's email attaches the order to that customer and
answers exactly as for an unknown email. Registering sends a signed, expiring link; guest
orders under the address show in the account only once that link was opened.
"""

import re
import time

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from customers.errors import CustomerError
from customers.models import Customer, Touchpoint
from customers.services import (
    VERIFICATION_SALT,
    register_customer,
    send_verification,
    verification_token,
)
from orders.models import Order
from tests.support.factories import CustomerFactory, UserFactory
from tests.support.web_helpers import add_to_cart, checkout, text, written

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures

LINK = re.compile(r"http://testserver/account/verify/([^/\s]+)/")


def _state() -> dict:
    """``written()`` plus every customer's verification stamp."""
    return {
        **written(),
        "verified": sorted(Customer.objects.values_list("pk", "email_verified_at")),
    }


def _signup(client, email="marta@example.test", name="Marta Ruiz"):
    response = client.post(
        "/account/signup/",
        {"name": name, "email": email, "password": "a-long-enough-passphrase"},
    )
    assert response.status_code == 302, text(response)
    return Customer.objects.get(email=email)


def _link_token(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


# --- Guest checkout with a known email -------------------------------------------------------


def _normalised(html: str, order: Order) -> str:
    """The order page with what differs between any two orders blanked out."""
    for value in (order.number, order.pickup_code):
        html = html.replace(value, "<X>")
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)


def test_guest_checkout_with_a_registered_email_attaches_the_order_and_reveals_nothing(shop):
    registered = CustomerFactory(
        user=UserFactory(email="known@example.test"),
        email="known@example.test",
        name="Known Person",
        phone="+34600000001",
    )
    pages = {}
    for email in ("known@example.test", "stranger@example.test"):
        guest = Client()
        add_to_cart(guest, shop.lamp, 1)
        placed = checkout(guest, shop.store, email=email.upper(), name="Typed Name")
        order = Order.objects.get(contact_email__iexact=email)
        pages[email] = (placed, guest.get(placed["Location"]), order)

    known_post, known_page, known_order = pages["known@example.test"]
    new_post, new_page, new_order = pages["stranger@example.test"]
    # The order joined the registered customer's one record, as a guest order...
    assert known_order.customer == registered
    assert known_order.guest_checkout is True
    assert Customer.objects.filter(email__iexact="known@example.test").count() == 1
    registered.refresh_from_db()
    assert (registered.name, registered.phone) == ("Known Person", "+34600000001")
    # ...and the guest saw exactly what a new email gets.
    assert (known_post.status_code, new_post.status_code) == (302, 302)
    assert known_post["Location"] == f"/orders/{known_order.number}/"
    assert new_post["Location"] == f"/orders/{new_order.number}/"
    assert sorted(known_post.cookies) == sorted(new_post.cookies)
    assert (known_page.status_code, new_page.status_code) == (200, 200)
    assert _normalised(text(known_page), known_order) == _normalised(text(new_page), new_order)
    assert "Known Person" not in text(known_page)


# --- The verification email --------------------------------------------------------------------


def test_sign_up_sends_a_verification_link_that_confirms_the_address(
    shop, mailoutbox, django_capture_on_commit_callbacks
):
    browser = Client()
    with django_capture_on_commit_callbacks(execute=True):
        customer = _signup(browser)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["marta@example.test"]
    assert message.subject == "Confirm your email address"
    token = _link_token(message)
    assert customer.email_verified_at is None
    assert "email-unverified" in text(browser.get("/account/"))

    response = Client().get(f"/account/verify/{token}/")  # any browser: the link is the proof

    assert response.status_code == 200
    assert "marta@example.test is confirmed" in text(response)
    customer.refresh_from_db()
    assert customer.email_verified_at is not None
    assert list(
        Touchpoint.objects.filter(customer=customer).order_by("pk").values_list("channel", "kind")
    ) == [("web", "account_created"), ("web", "verification_sent"), ("web", "email_verified")]
    assert "email-verified" in text(browser.get("/account/"))


def test_opening_the_link_again_changes_nothing(
    shop, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(Client())
    token = _link_token(mailoutbox[0])
    assert Client().get(f"/account/verify/{token}/").status_code == 200
    before = _state()

    again = Client().get(f"/account/verify/{token}/")

    assert again.status_code == 200
    assert _state() == before


def test_registering_through_the_api_sends_the_link_too(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/api/v1/auth/register/",
            {"email": "app@example.test", "password": "a-long-enough-passphrase", "name": "App"},
            content_type="application/json",
        )

    assert response.status_code == 201
    assert response.json()["customer"]["email_verified"] is False
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["app@example.test"]
    customer = Customer.objects.get(email="app@example.test")
    assert list(
        Touchpoint.objects.filter(customer=customer).order_by("pk").values_list("channel", "kind")
    ) == [("mobile", "account_created"), ("mobile", "verification_sent")]
    assert Client().get(f"/account/verify/{_link_token(mailoutbox[0])}/").status_code == 200
    customer.refresh_from_db()
    assert customer.email_verified_at is not None


def _registered(email="marta@example.test"):
    return register_customer(email=email, password="a-long-enough-passphrase", name="Marta")


def _tampered(token: str) -> str:
    value, _, signature = token.rpartition(":")
    return f"{value}:{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda c: _tampered(verification_token(customer=c)), id="tampered-signature"),
        pytest.param(
            lambda c: signing.dumps({"c": c.pk, "u": c.user_id, "e": c.email}, salt="other"),
            id="other-salt",
        ),
        pytest.param(
            lambda c: signing.dumps(
                {"c": c.pk + 1000, "u": c.user_id, "e": c.email}, salt=VERIFICATION_SALT
            ),
            id="no-such-customer",
        ),
        pytest.param(
            lambda c: signing.dumps(
                {"c": c.pk, "u": c.user_id, "e": "someone-else@example.test"},
                salt=VERIFICATION_SALT,
            ),
            id="other-address",
        ),
        pytest.param(
            lambda c: signing.dumps(["not", "a", "dict"], salt=VERIFICATION_SALT), id="odd-value"
        ),
        pytest.param(lambda c: "garbage", id="garbage"),
        pytest.param(lambda c: "x" * 2000, id="huge"),
    ],
)
def test_a_bad_link_is_refused_and_writes_nothing(db, make_token):
    customer = _registered()
    token = make_token(customer)
    before = _state()

    response = Client().get(f"/account/verify/{token}/")

    assert response.status_code == 400
    assert "This confirmation link is not valid. Check that you copied all of it." in text(response)
    assert _state() == before


def test_an_expired_link_is_refused_and_writes_nothing(db, monkeypatch):
    customer = _registered()
    real_time = time.time()
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real_time - 3 * 86400 - 60)
        token = verification_token(customer=customer)
    before = _state()

    response = Client().get(f"/account/verify/{token}/")

    assert response.status_code == 400
    assert "This confirmation link has expired. Log in and ask for a new one." in text(response)
    assert _state() == before


def test_a_link_just_under_three_days_old_still_works(db, monkeypatch):
    customer = _registered()
    real_time = time.time()
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real_time - 3 * 86400 + 60)
        token = verification_token(customer=customer)

    assert Client().get(f"/account/verify/{token}/").status_code == 200
    customer.refresh_from_db()
    assert customer.email_verified_at is not None


def test_a_link_from_before_the_account_was_replaced_is_refused(db):
    """A customer record whose login was deleted and registered again: the old link was for
    the old login."""
    customer = _registered()
    old_token = verification_token(customer=customer)
    customer.user.delete()
    customer = _registered()
    before = _state()

    response = Client().get(f"/account/verify/{old_token}/")

    assert response.status_code == 400
    assert _state() == before
    customer.refresh_from_db()
    assert customer.email_verified_at is None


def test_registering_again_on_a_verified_record_needs_a_new_proof(db):
    customer = _registered()
    Customer.objects.filter(pk=customer.pk).update(email_verified_at=timezone.now())
    customer.user.delete()

    again = _registered()

    assert again.pk == customer.pk
    assert again.email_verified_at is None


# --- Asking for a new link ---------------------------------------------------------------------


def test_the_account_page_sends_a_new_link_at_most_three_times_an_hour(
    shop, shopper, mailoutbox, django_capture_on_commit_callbacks
):
    browser = Client()
    browser.force_login(shopper.user)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = browser.post("/account/verify/")
        assert response.status_code == 302
        assert response["Location"] == "/account/"
    assert len(mailoutbox) == 3
    assert f"We sent a new confirmation link to {shopper.email}." in text(browser.get("/account/"))
    before = _state()

    with django_capture_on_commit_callbacks(execute=True):
        refused = browser.post("/account/verify/")

    assert refused.status_code == 429
    assert "We have already sent you several links. Please wait an hour and try again." in text(
        refused
    )
    assert len(mailoutbox) == 3
    assert _state() == before
    # Any of the links sent works.
    assert Client().get(f"/account/verify/{_link_token(mailoutbox[1])}/").status_code == 200


def test_a_confirmed_address_gets_no_new_link(shop, shopper, mailoutbox):
    Customer.objects.filter(pk=shopper.pk).update(email_verified_at=timezone.now())
    browser = Client()
    browser.force_login(shopper.user)
    before = _state()

    response = browser.post("/account/verify/")

    assert response.status_code == 409
    assert "Your email address is already confirmed." in text(response)
    assert mailoutbox == []
    assert _state() == before


def test_asking_for_a_link_needs_a_login_and_a_post(shop, shopper, mailoutbox):
    browser = Client()
    browser.force_login(shopper.user)
    before = _state()

    anonymous = Client().post("/account/verify/")
    as_get = browser.get("/account/verify/")

    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/account/login/?next=/account/verify/"
    assert as_get.status_code == 405
    assert mailoutbox == []
    assert _state() == before


def test_a_guest_cannot_be_sent_a_link(db, mailoutbox):
    guest = CustomerFactory()

    with pytest.raises(CustomerError, match="Only a registered customer can confirm an email."):
        send_verification(customer=guest, build_url=lambda token: token)
    assert mailoutbox == []


# --- Guest orders and the account --------------------------------------------------------------


def test_guest_orders_show_in_the_account_only_after_the_link_is_opened(
    shop, mailoutbox, django_capture_on_commit_callbacks
):
    guest = Client()
    add_to_cart(guest, shop.lamp, 1)
    number = checkout(guest, shop.store, email="walkin@example.test")["Location"].split("/")[2]
    account = Client()
    with django_capture_on_commit_callbacks(execute=True):
        _signup(account, email="walkin@example.test", name="Walk In")
    own = Client()  # an order placed while logged in shows at once
    own.force_login(Customer.objects.get(email="walkin@example.test").user)
    add_to_cart(own, shop.mug, 1)
    own_number = checkout(own, shop.store)["Location"].split("/")[2]

    before = text(account.get("/account/"))

    assert f'href="/orders/{own_number}/"' in before
    assert number not in before  # neither in the order list nor in the timeline
    assert account.get(f"/orders/{number}/").status_code == 404
    assert account.get(f"/orders/{number}/qr.svg").status_code == 404

    assert Client().get(f"/account/verify/{_link_token(mailoutbox[0])}/").status_code == 200
    after = text(account.get("/account/"))

    assert f'href="/orders/{number}/"' in after
    assert f"Placed an order · {number}" in after
    assert account.get(f"/orders/{number}/").status_code == 200
    assert account.get(f"/orders/{number}/qr.svg").status_code == 200


def test_api_timeline_hides_guest_orders_until_the_address_is_verified(shop, shopper):
    from knox.models import AuthToken

    # given a guest order placed under the shopper's email by someone typing it
    guest = Client()
    add_to_cart(guest, shop.lamp, 1)
    checkout(guest, shop.store, email=shopper.email)
    number = Order.objects.get(customer=shopper, guest_checkout=True).number
    _, token = AuthToken.objects.create(shopper.user)
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def numbers_on_timeline():
        rows = api.get("/api/v1/me/timeline/").json()["results"]
        return {row["payload"].get("order") for row in rows}

    # then the account's timeline does not show it while the address is unverified
    assert number not in numbers_on_timeline()
    # and shows it once the address is verified
    Customer.objects.filter(pk=shopper.pk).update(email_verified_at=timezone.now())
    assert number in numbers_on_timeline()

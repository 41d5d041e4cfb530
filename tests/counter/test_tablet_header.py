"""The tablet's own header (store, queue, customers, scan, reconciliation for managers, log out)
instead of the shopper's, and the money rows of an order: only real money movements, with
labels that say what happened (issue 11, item 17)."""

import json

import pytest
import stripe
from django.test import Client

from orders.models import Order, OrderStatus, Payment, PaymentStatus, StripeEvent
from orders.payments import StripeProvider
from shop.services import cart_for_customer
from stores.models import StaffMembership
from tests.support.api_helpers import ready
from tests.support.factories import CustomerFactory, StaffMembershipFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout,
    collect_in_full,
    hand_over,
    logged_in,
    place_at,
    tags,
    text,
)

pytest_plugins = ["tests.support.web_fixtures", "tests.support.payments_fixtures"]


def _header(html: str) -> str:
    start = html.index("<header")
    return html[start : html.index("</header>", start)]


def _links(html: str) -> list[str]:
    return [t.attrs.get("href", "") for t in tags(html) if t.name == "a"]


@pytest.fixture
def tablet_pages(shop, clerk):
    """Every page of the tablet a clerk opens, for the shop's store."""
    order = place_at(shop.store, (shop.lamp, 1))
    customer = CustomerFactory()
    cart_for_customer(customer=customer)
    base = f"/store/{shop.store.code}/"
    return [
        base,
        f"{base}orders/{order.number}/",
        f"{base}customers/",
        f"{base}customers/?q=ana",
        f"{base}customers/{customer.reference}/",
    ]


def test_tablet_pages_have_the_staff_header_without_cart_or_account(shop, clerk, tablet_pages):
    tablet = logged_in(clerk)
    base = f"/store/{shop.store.code}/"

    for path in tablet_pages:
        response = tablet.get(path)
        assert response.status_code == 200, path
        header = _header(text(response))
        assert 'id="cart-count"' not in header, path
        assert "/cart/" not in header, path
        assert "My account" not in header, path
        assert "/account/" not in _links(header), path
        assert f'<span class="staff-store" id="staff-store">{shop.store.name} ' in header, path
        links = _links(header)
        assert base in links, path
        assert f"{base}customers/" in links, path
        assert "/manage/reconciliation/?store=" + shop.store.code not in links, path
        assert 'action="/account/logout/"' in header, path
        # The scan field is in the header everywhere but on the queue, which has its own.
        assert ('id="header-scan"' in header) is (path != base), path


def test_a_manager_finds_the_reconciliation_in_the_header(shop, manager):
    tablet = logged_in(manager)

    for path in [f"/store/{shop.store.code}/", f"/store/{shop.store.code}/customers/"]:
        header = _header(text(tablet.get(path)))
        assert f"/manage/reconciliation/?store={shop.store.code}" in _links(header), path


def test_the_store_choice_and_reconciliation_have_the_staff_header(shop, manager):
    StaffMembershipFactory(user=manager, store=shop.other, role=StaffMembership.Role.MANAGER)
    tablet = logged_in(manager)

    home = _header(text(tablet.get("/store/")))
    reconciliation = _header(text(tablet.get("/manage/reconciliation/")))

    for header in (home, reconciliation):
        assert 'id="cart-count"' not in header
        assert "My account" not in header
        assert "/store/" in _links(header)
        assert "/manage/reconciliation/" in _links(header)
        assert 'action="/account/logout/"' in header


def test_the_shop_keeps_the_shoppers_header(shop, shopper):
    header = _header(text(logged_in(shopper.user).get("/")))

    assert 'id="cart-count"' in header
    assert "My account" in header


# --- The money rows of an order --------------------------------------------------------------


def _money_rows(html: str) -> list[str]:
    """The texts of the handover's money rows on the tablet's order page."""
    rows = []
    for part in html.split('<dd class="money-row">')[1:]:
        rows.append(" ".join(part.split("</dd>")[0].split()))
    return rows


def _failed_intent_event(intent: dict) -> dict:
    return {
        "id": "evt_declined_first_card",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "created": 1736928000,
        "livemode": False,
        "data": {"object": intent},
    }


def _deliver(event: dict, secret: str):
    payload = json.dumps(event)
    signature = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return Client().post(
        "/payments/stripe/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


@pytest.fixture
def card_web(localstripe, settings):
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_omnicollect_0123456789"
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    return localstripe


def test_a_declined_first_card_leaves_no_payment_row_on_the_tablet(
    shop, shopper, clerk, card_web, settings
):
    """The first card is declined (Stripe then says ``payment_intent.payment_failed``), the
    second is authorised; after the handover the tablet lists one charge, nothing at 0.00."""
    shop_client = logged_in(shopper.user)
    add_to_cart(shop_client, shop.lamp)
    add_to_cart(shop_client, shop.mug)
    pay_url = checkout(shop_client, shop.store, payment="online")["Location"]
    declined = shop_client.post(pay_url, {"payment_method": "pm_card_chargeCustomerFail"})
    assert declined.status_code == 402
    order = Order.objects.get()
    (failed,) = StripeProvider().client.v1.payment_intents.list().data
    assert failed.metadata["order_number"] == order.number
    delivered = _deliver(_failed_intent_event(failed.to_dict()), settings.STRIPE_WEBHOOK_SECRET)
    assert delivered.status_code == 200
    assert not Payment.objects.exists()
    assert shop_client.post(pay_url, {"payment_method": "pm_card_visa"}).status_code == 302

    ready(order, clerk)
    tablet = logged_in(clerk)
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
    collected = tablet.post(
        f"/store/{shop.store.code}/orders/{order.number}/collect/",
        {"qty_LAMP-01": 1, "qty_MUG-01": 0, "collector": "customer"},
    )
    assert collected.status_code == 302

    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.COLLECTED, PaymentStatus.PAID)
    page = text(tablet.get(f"/store/{shop.store.code}/orders/{order.number}/"))
    assert _money_rows(page) == ["Charged €12.50 to the card authorised online"]
    assert "€0.00" not in page


def test_money_rows_say_how_the_counter_took_the_money(shop, clerk):
    cash = place_at(shop.store, (shop.lamp, 2))
    card = place_at(shop.store, (shop.mug, 1))
    for order in (cash, card):
        ready(order, clerk)
    collect_in_full(cash, clerk)
    hand_over(card, clerk, method="card", reference="TPV-1234")
    tablet = logged_in(clerk)

    cash_page = text(tablet.get(f"/store/{shop.store.code}/orders/{cash.number}/"))
    card_page = text(tablet.get(f"/store/{shop.store.code}/orders/{card.number}/"))

    assert _money_rows(cash_page) == ["Took €25.00 in cash"]
    assert _money_rows(card_page) == ["Took €4.00 by card (receipt TPV-1234)"]


def test_a_failed_intent_unknown_to_us_records_no_payment(online_order, settings):
    """A failed attempt moved no money: nothing to record (the intent is not ours yet)."""
    settings.STRIPE_WEBHOOK_SECRET = "whsec_header_tests_0123456789"
    intent = {
        "id": "pi_declined_unknown",
        "object": "payment_intent",
        "amount": 2900,
        "currency": "eur",
        "status": "requires_payment_method",
        "metadata": {"order_number": online_order.number},
    }

    response = _deliver(_failed_intent_event(intent), settings.STRIPE_WEBHOOK_SECRET)

    assert response.status_code == 200
    assert not Payment.objects.exists()
    assert list(StripeEvent.objects.values_list("type", "payment_id")) == [
        ("payment_intent.payment_failed", None)
    ]
    online_order.refresh_from_db()
    assert online_order.payment_status == PaymentStatus.UNPAID

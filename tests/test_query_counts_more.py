"""More pages that run a fixed number of SQL queries, whatever the size of the data (DESIGN §9).

Each test measures a page with little data, grows the data, measures again, and checks that
both counts equal the same fixed number and that the page really shows what was added.
"""

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Notification, NpsAnswer, Touchpoint
from orders.models import Order
from orders.services import mark_preparing, mark_ready, refund_order
from stores.models import StockLevel
from tests.factories import VariantFactory
from tests.web_helpers import add_to_cart, checkout, collect_in_full, logged_in, place_at, text

pytest_plugins = ["tests.web_fixtures", "tests.payments_fixtures"]

PUBLISHABLE_KEY = "pk_test_omnicollect_0123456789"

# The fixed counts, as measured.
# The card page looks for the order's last card attempt (one query): one waiting for 3-D
# Secure is finished, not replaced by a new card.
PAY_PAGE = 10
SURVEY_PAGE = 2
ORDER_PAGE = 9
TABLET_ORDER_PAGE = 13
ACCOUNT_PAGE = 9


def _count(client, path, **kwargs) -> tuple[int, str]:
    client.get(path, **kwargs)  # warm up: session row, lazily created customer, cart
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return len(queries.captured_queries), text(response)


def _report(name, small, large, rows):
    print(f"\n{name}: {small} queries for {rows[0]} rows, {large} for {rows[1]} rows")


@pytest.fixture
def stocked_variants(shop):
    """``make(n)``: n more variants at 10.00 EUR, each stocked at the shop's stores."""

    def make(n):
        made = []
        for _ in range(n):
            variant = VariantFactory()
            StockLevel.objects.bulk_create(
                [StockLevel(store=s, variant=variant, on_hand=50) for s in (shop.store, shop.other)]
            )
            made.append(variant)
        return made

    return make


@pytest.fixture
def stripe_web(localstripe, settings):
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_JS_URL = f"{localstripe}/js.stripe.com/v3/"
    return localstripe


# --- The card payment page -------------------------------------------------------------------


def test_card_page_queries_do_not_grow_with_lines(shop, shopper, stocked_variants, stripe_web):
    client = logged_in(shopper.user)

    def measure(n):
        for variant in stocked_variants(n):
            add_to_cart(client, variant)
        response = checkout(client, shop.store, payment="online")
        assert response.status_code == 302, text(response)
        pay_url = response["Location"]
        assert pay_url.endswith("/pay/")
        order = Order.objects.get(number=pay_url.split("/")[2])
        assert (order.status, order.lines.count()) == ("pending_payment", n)
        count, html = _count(client, pay_url)
        assert '<div id="card-element" class="card-element"></div>' in html
        assert f"€{n * 10}.00" in html
        return count

    small = measure(1)
    large = measure(8)
    _report("card page", small, large, (1, 8))

    assert (small, large) == (PAY_PAGE, PAY_PAGE)


# --- The survey page -------------------------------------------------------------------------


def test_survey_page_queries_do_not_grow_with_other_surveys(client, shop, clerk, shopper):
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    collect_in_full(order, clerk)
    note = Notification.objects.get(order_number=order.number, kind="nps_survey")
    path = urlsplit(note.context["survey_url"]).path

    def grow(start, n):
        """n more surveys of other orders of the same customer, each answered."""
        for i in range(start, start + n):
            number = f"CC-OTHER{i:04d}"
            Notification.objects.create(
                customer=shopper,
                order_number=number,
                kind="nps_survey",
                context={"survey_url": f"http://testserver/survey/other-{i}/"},
                dedupe_key=f"qc-nps-{number}",
                status=Notification.Status.SENT,
            )
            NpsAnswer.objects.create(customer=shopper, order_number=number, score=i % 11)

    grow(0, 1)
    small, html_small = _count(client, path)
    grow(1, 9)
    large, html_large = _count(client, path)
    _report("survey page", small, large, (1, 10))

    assert NpsAnswer.objects.filter(customer=shopper).count() == 10
    for html in (html_small, html_large):
        assert order.number in html
        assert "How likely are you to recommend us to a friend?" in html
    assert (small, large) == (SURVEY_PAGE, SURVEY_PAGE)


# --- Order pages of a collected order with refunds and messages --------------------------------


@pytest.fixture
def collected_six(shop, clerk, shopper, stocked_variants):
    """The shopper's order of six different items, paid cash at the counter, collected."""
    variants = stocked_variants(6)
    order = place_at(shop.store, *[(v, 1) for v in variants], customer=shopper)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    collect_in_full(order, clerk)
    order.refresh_from_db()
    assert order.status == "collected"
    return order, variants


def _refund(order, clerk, variants):
    for variant in variants:
        refund_order(
            order=order,
            user=clerk,
            quantities={variant.sku: 1},
            reason="Damaged",
            method="cash",
        )


def _messages(order, n, *, start=0):
    """Keep only this test's messages about ``order`` and add n more."""
    Notification.objects.filter(order_number=order.number).exclude(
        dedupe_key__startswith="qc-"
    ).delete()
    for i in range(start, start + n):
        Notification.objects.create(
            customer=order.customer,
            order_number=order.number,
            kind="order_ready" if i % 2 else "order_confirmed",
            channel="email",
            dedupe_key=f"qc-{order.number}-{i}",
            status=Notification.Status.SENT if i % 3 else Notification.Status.FAILED,
            reason="" if i % 3 else "mailbox full",
        )


def test_order_page_queries_do_not_grow_with_refunds(shopper, clerk, collected_six):
    order, variants = collected_six
    client = logged_in(shopper.user)
    path = f"/orders/{order.number}/"

    _refund(order, clerk, variants[:1])
    small, html_small = _count(client, path)
    _refund(order, clerk, variants[1:])
    large, html_large = _count(client, path)
    _report("order page (refunds)", small, large, (1, 6))

    assert html_small.count("given back on") == 1
    assert html_large.count("given back on") == 6
    assert (small, large) == (ORDER_PAGE, ORDER_PAGE)


def test_tablet_order_page_queries_do_not_grow_with_refunds_and_messages(
    shop, clerk, collected_six
):
    order, variants = collected_six
    tablet = logged_in(clerk)
    path = f"/store/{shop.store.code}/orders/{order.number}/"

    _refund(order, clerk, variants[:1])
    _messages(order, 1)
    small, html_small = _count(tablet, path)
    _refund(order, clerk, variants[1:])
    _messages(order, 7, start=1)
    large, html_large = _count(tablet, path)
    _report("tablet order page (refunds, messages)", small, large, ((1, 1), (6, 8)))

    assert html_small.count('<tr class="refund-row">') == 1
    assert html_large.count('<tr class="refund-row">') == 6
    assert html_small.count('<tr class="message-row') == 1
    assert html_large.count('<tr class="message-row') == 8
    assert (small, large) == (TABLET_ORDER_PAGE, TABLET_ORDER_PAGE)


# --- The account timeline ---------------------------------------------------------------------


def test_account_queries_do_not_grow_with_message_touchpoints(shopper):
    client = logged_in(shopper.user)

    def grow(start, n):
        Touchpoint.objects.bulk_create(
            [
                Touchpoint(
                    customer=shopper,
                    channel="web",
                    kind="notification_sent",
                    payload={
                        "message": "order_ready",
                        "order": f"CC-MSG{i:04d}",
                        "channel": "email",
                    },
                )
                for i in range(start, start + n)
            ]
        )

    grow(0, 2)
    small, html_small = _count(client, "/account/")
    grow(2, 18)
    large, html_large = _count(client, "/account/")
    _report("account (message touchpoints)", small, large, (2, 20))

    assert html_small.count('class="timeline-detail"') == 2
    assert html_large.count('class="timeline-detail"') == 20
    assert (small, large) == (ACCOUNT_PAGE, ACCOUNT_PAGE)

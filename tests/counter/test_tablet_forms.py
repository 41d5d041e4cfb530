"""The tablet's forms (issue 11, items 13–15): the amount to take is on screen and follows the
quantities, errors stay beside the field with what the clerk typed, and money moves or an
order ends only after a confirmation that states the amount."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, OrderLine, OrderStatus, Payment
from orders.services import expire_order
from shop.services import cart_for_customer
from tests.support.api_helpers import ready
from tests.support.factories import CartLineFactory, CustomerFactory
from tests.support.web_helpers import (
    collect_in_full,
    hand_over,
    inputs_named,
    place_at,
    stock_of,
    tags,
    text,
    written,
)

pytest_plugins = [
    "tests.support.web_fixtures",
    "tests.support.api_fixtures",
    "tests.support.payments_fixtures",
]

DEAD_END = "That did not work"


@pytest.fixture
def order(shop):
    """A placed order paid at the counter: 2 lamps (12.50) and 1 mug (4.00), €29.00."""
    return place_at(shop.store, (shop.lamp, 2), (shop.mug, 1))


@pytest.fixture
def at_counter(shop, clerk, tablet, order):
    """The order ready, its QR scanned at the tablet: the handover form is on screen."""
    ready(order, clerk)
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": order.pickup_token})
    return order


def _url(order, action=""):
    return f"/store/{order.store.code}/orders/{order.number}/{action + '/' if action else ''}"


def _state() -> dict:
    return {
        **written(),
        "refunded": sorted(OrderLine.objects.values_list("pk", "refunded_quantity")),
        "money": sorted(
            Payment.objects.values_list("pk", "status", "amount_captured", "amount_refunded")
        ),
    }


def _value(html, name) -> str:
    (found,) = inputs_named(html, name)
    return found.get("value", "")


def _checked(html, name) -> list[str]:
    return [a["value"] for a in inputs_named(html, name) if "checked" in a]


def _field_error(html: str, anchor: str) -> str:
    """The error shown right after the element whose HTML contains ``anchor``."""
    start = html.index(anchor)
    error = html.index('class="field-error"', start)
    return html[error : html.index("</span>", error)].split(">", 1)[1]


def _amount_due(html: str) -> str:
    start = html.index('id="amount-due"')
    return " ".join(html[start : html.index("</p>", start)].split(">", 1)[1].split())


# --- 13. The amount to take -------------------------------------------------------------------


def test_the_handover_form_shows_the_amount_to_take(at_counter, tablet):
    html = text(tablet.get(_url(at_counter)))

    assert _amount_due(html).startswith("Amount to take: <strong>€29.00</strong>")
    # Without JavaScript, a button recomputes it on the server.
    (recalculate,) = [t.attrs for t in tags(html) if t.attrs.get("name") == "recalculate"]
    assert recalculate["formaction"] == _url(at_counter, "collect/amount")
    assert "formnovalidate" in recalculate


def test_changing_a_quantity_updates_the_amount_with_htmx(at_counter, tablet):
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect/amount"),
        {"qty_LAMP-01": "1", "qty_MUG-01": "0", "collector": "customer"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith('<p class="amount-due" id="amount-due"')
    assert _amount_due(html).startswith("Amount to take: <strong>€12.50</strong>")
    assert _state() == before


def test_recalculate_without_javascript_keeps_everything_typed(at_counter, tablet):
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect/amount"),
        {
            "qty_LAMP-01": "1",
            "qty_MUG-01": "1",
            "collector": "customer",
            "payment_method": "card",
            "reference": "TPV-77",
            "recalculate": "1",
        },
    )

    assert response.status_code == 200
    html = text(response)
    assert _amount_due(html).startswith("Amount to take: <strong>€16.50</strong>")
    assert (_value(html, "qty_LAMP-01"), _value(html, "qty_MUG-01")) == ("1", "1")
    assert _value(html, "reference") == "TPV-77"
    assert _checked(html, "payment_method") == ["card"]
    assert 'class="field-error"' not in html
    assert _state() == before


def test_an_impossible_quantity_in_the_amount_says_so(at_counter, tablet):
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect/amount"),
        {"qty_LAMP-01": "3", "qty_MUG-01": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    assert "Check the quantities" in _amount_due(text(response))
    assert _state() == before


@pytest.mark.parametrize(
    ("quantities", "amount"),
    [
        ({"qty_LAMP-01": "2", "qty_MUG-01": "1"}, "29.00"),
        ({"qty_LAMP-01": "1", "qty_MUG-01": "0"}, "12.50"),
    ],
)
def test_the_amount_shown_is_what_the_handover_takes(at_counter, tablet, quantities, amount):
    shown = tablet.post(_url(at_counter, "collect/amount"), quantities, HTTP_HX_REQUEST="true")

    tablet.post(
        _url(at_counter, "collect"),
        {**quantities, "collector": "customer", "payment_method": "cash"},
    )

    assert f"<strong>€{amount}</strong>" in _amount_due(text(shown))
    assert Payment.objects.get(order=at_counter).amount_captured == Decimal(amount)


@pytest.mark.parametrize(
    ("payment", "said"),
    [
        ({"payment_method": "cash"}, "Took €12.50 in cash."),
        (
            {"payment_method": "card", "reference": "1234"},
            "Took €12.50 by card (receipt 1234).",
        ),
    ],
    ids=["cash", "card"],
)
def test_the_handover_confirmation_says_what_was_taken_and_how(
    shop, at_counter, tablet, payment, said
):
    response = tablet.post(
        _url(at_counter, "collect"),
        {"qty_LAMP-01": "1", "qty_MUG-01": "0", "collector": "customer", **payment},
        follow=True,
    )

    assert response.redirect_chain == [(f"/store/{shop.store.code}/", 302)]
    assert f"Order {at_counter.number} handed over. {said}" in text(response)


def test_the_handover_of_a_card_order_says_it_was_charged_to_the_card(shop, clerk, tablet, online):
    ready(online, clerk)
    tablet.post(f"/store/{shop.store.code}/scan/", {"q": online.pickup_token})
    page = text(tablet.get(_url(online)))
    assert _amount_due(page).startswith("Amount to take: <strong>€29.00</strong>")
    assert "charged to the card authorised online" in _amount_due(page)

    response = tablet.post(
        _url(online, "collect"),
        {"qty_LAMP-01": "2", "qty_MUG-01": "0", "collector": "customer"},
        follow=True,
    )

    assert (
        f"Order {online.number} handed over. Charged €25.00 to the card authorised online."
        in text(response)
    )


# --- 14. Errors stay on the form --------------------------------------------------------------


def test_a_missing_payment_method_is_shown_beside_it_keeping_the_input(at_counter, tablet):
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect"),
        {"qty_LAMP-01": "1", "qty_MUG-01": "0", "collector": "customer", "reference": "R-1"},
    )

    assert response.status_code == 400
    html = text(response)
    assert DEAD_END not in html
    assert _field_error(html, 'name="payment_method"') == "Choose card or cash."
    assert (_value(html, "qty_LAMP-01"), _value(html, "qty_MUG-01")) == ("1", "0")
    assert _value(html, "reference") == "R-1"
    assert _amount_due(html).startswith("Amount to take: <strong>€12.50</strong>")
    assert _state() == before


def test_a_card_payment_without_receipt_is_shown_beside_the_reference(at_counter, tablet):
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect"),
        {"qty_LAMP-01": "2", "qty_MUG-01": "1", "collector": "customer", "payment_method": "card"},
    )

    assert response.status_code == 400
    html = text(response)
    assert _field_error(html, 'name="reference"') == "Enter the card terminal receipt number."
    assert _checked(html, "payment_method") == ["card"]
    assert _state() == before


def test_an_out_of_range_quantity_is_shown_beside_it_keeping_the_input(at_counter, tablet):
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect"),
        {"qty_LAMP-01": "3", "qty_MUG-01": "1", "collector": "customer", "payment_method": "cash"},
    )

    assert response.status_code == 400
    html = text(response)
    assert DEAD_END not in html
    assert (
        _field_error(html, 'name="qty_LAMP-01"') == "Ensure this value is less than or equal to 2."
    )
    assert _value(html, "qty_LAMP-01") == "3"
    assert _checked(html, "payment_method") == ["cash"]
    assert _state() == before


def test_a_refused_handover_is_shown_on_the_order_page(shop, clerk, at_counter, tablet):
    """A business rule says no (409): the order page says why, not a dead end."""
    expire_order(order=at_counter, now=timezone.now() + timedelta(days=30))
    before = _state()

    response = tablet.post(
        _url(at_counter, "collect"),
        {"qty_LAMP-01": "2", "qty_MUG-01": "1", "collector": "customer", "payment_method": "cash"},
    )

    assert response.status_code == 409
    html = text(response)
    assert DEAD_END not in html
    assert 'id="page-error"' in html
    assert "cannot become Collected" in html
    assert _state() == before


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_an_empty_cancel_reason_is_shown_beside_it(order, tablet, reason):
    before = _state()

    response = tablet.post(_url(order, "cancel"), {"reason": reason})

    assert response.status_code == 400
    html = text(response)
    assert DEAD_END not in html
    assert _field_error(html, 'name="reason"') == "This field is required."
    assert _state() == before


def test_cancelling_a_collected_order_is_explained_on_its_page(clerk, order, tablet):
    ready(order, clerk)
    collect_in_full(order, clerk)
    before = _state()

    response = tablet.post(_url(order, "cancel"), {"reason": "Changed their mind", "confirm": "1"})

    assert response.status_code == 409
    html = text(response)
    assert DEAD_END not in html
    assert f"Order {order.number} is Collected and cannot become Cancelled." in html
    assert _state() == before


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full-page"])
def test_bad_hours_to_extend_a_hold_are_shown_beside_the_field(clerk, order, tablet, htmx):
    ready(order, clerk)
    before = _state()
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = tablet.post(_url(order, "extend"), {"hours": "500"}, **headers)

    assert response.status_code == 400
    html = text(response)
    assert DEAD_END not in html
    assert ("<html" in html) is not htmx
    assert "HX-Retarget" not in response
    assert _field_error(html, 'name="hours"') == "Ensure this value is less than or equal to 168."
    assert _value(html, "hours") == "500"
    assert _state() == before


def test_a_refused_resend_is_shown_in_the_messages_section(clerk, order, tablet):
    ready(order, clerk)
    for _ in range(3):
        tablet.post(_url(order, "resend"))
    before = _state()

    response = tablet.post(_url(order, "resend"), HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    html = text(response)
    assert '<section id="messages"' in html
    assert "<html" not in html
    assert 'id="messages-error"' in html
    assert "HX-Retarget" not in response
    assert _state() == before


def test_an_empty_pickup_code_is_shown_on_the_order_page(clerk, order, tablet):
    ready(order, clerk)
    before = _state()

    response = tablet.post(_url(order, "verify"), {"code": ""})

    assert response.status_code == 400
    html = text(response)
    assert DEAD_END not in html
    assert "Type the pickup code the customer gives you." in html
    assert _state() == before


def test_a_refused_status_change_is_shown_on_the_order_page(order, tablet):
    before = _state()

    response = tablet.post(_url(order, "status"), {"status": "ready"})

    assert response.status_code == 409
    html = text(response)
    assert DEAD_END not in html
    assert 'id="page-error"' in html
    assert "cannot become Ready for pickup" in html
    assert _state() == before


# --- 15. Confirm before money moves or an order ends ------------------------------------------


def _hidden(html, name) -> str:
    found = [a for a in inputs_named(html, name) if a.get("type") == "hidden"]
    assert len(found) == 1, (name, found)
    return found[0].get("value", "")


def test_cancel_asks_for_confirmation_stating_the_amount(shop, order, tablet):
    before = _state()

    response = tablet.post(_url(order, "cancel"), {"reason": "Damaged box"})

    assert response.status_code == 200
    html = text(response)
    assert 'id="cancel-confirm"' in html
    assert f"Cancel order {order.number} (€29.00)?" in html
    assert "Its 3 items go back on sale." in html
    assert _hidden(html, "reason") == "Damaged box"
    assert _hidden(html, "confirm") == "1"
    assert _state() == before

    confirmed = tablet.post(_url(order, "cancel"), {"reason": "Damaged box", "confirm": "1"})

    assert confirmed.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "Damaged box")
    assert stock_of(shop.store, shop.lamp) == (10, 0)


def test_going_back_from_the_cancel_confirmation_keeps_the_reason(order, tablet):
    before = _state()

    response = tablet.post(_url(order, "cancel"), {"reason": "Damaged box", "back": "1"})

    assert response.status_code == 200
    html = text(response)
    assert 'id="cancel-confirm"' not in html
    assert _value(html, "reason") == "Damaged box"
    assert _state() == before


def test_cancelling_a_card_order_says_the_hold_is_released(clerk, tablet, online):
    response = tablet.post(_url(online, "cancel"), {"reason": "Out of stock"})

    assert response.status_code == 200
    assert "The card authorisation of €29.00 is released." in text(response)
    assert Order.objects.get(pk=online.pk).status == OrderStatus.PLACED


@pytest.fixture
def till_order(shop, clerk):
    """Collected in full and paid cash at the counter: 2 lamps and 1 mug, €29.00."""
    order = place_at(shop.store, (shop.lamp, 2), (shop.mug, 1))
    ready(order, clerk)
    collect_in_full(order, clerk)
    return order


@pytest.fixture
def card_order(shop, clerk, online):
    """The online order (€29.00) collected in full: charged to the card."""
    ready(online, clerk)
    hand_over(online, clerk)
    return online


def test_a_line_refund_without_javascript_asks_first_stating_the_amount(
    shop, clerk, tablet, till_order
):
    data = {
        "refund_LAMP-01": "1",
        "refund_MUG-01": "0",
        "reason": "Dented",
        "payment_method": "cash",
        "restock": "on",
    }
    before = _state()

    response = tablet.post(_url(till_order, "refund"), data)

    assert response.status_code == 200
    html = text(response)
    assert "<html" in html
    assert 'id="refund-confirm"' in html
    assert "Give back €12.50 in cash at the till?" in html
    assert "1 × Brass Desk Lamp" in html
    assert _hidden(html, "refund_LAMP-01") == "1"
    assert _hidden(html, "reason") == "Dented"
    assert _hidden(html, "confirm") == "1"
    assert _state() == before

    done = tablet.post(_url(till_order, "refund"), {**data, "confirm": "1"})

    assert done.status_code == 302
    assert Payment.objects.filter(order=till_order, refund_of__isnull=False).count() == 1
    assert stock_of(shop.store, shop.lamp) == (9, 0)


def test_refund_everything_with_htmx_asks_first_stating_the_amount(clerk, tablet, card_order):
    data = {"everything": "1", "reason": "Wrong colour"}
    before = _state()

    response = tablet.post(_url(card_order, "refund"), data, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith('<section id="refund"')
    assert "Refund €29.00 to the card?" in html
    assert _hidden(html, "everything") == "True"
    assert _state() == before

    done = tablet.post(_url(card_order, "refund"), {**data, "confirm": "1"}, HTTP_HX_REQUEST="true")

    assert done.status_code == 200
    assert "€29.00 refunded." in text(done)


def test_a_card_refund_at_the_till_names_the_receipt(clerk, tablet, till_order):
    response = tablet.post(
        _url(till_order, "refund"),
        {"refund_MUG-01": "1", "reason": "Chipped", "payment_method": "card", "reference": "T-9"},
    )

    assert response.status_code == 200
    assert "Refund €4.00 by card at the till (receipt T-9)?" in text(response)


def test_going_back_from_the_refund_confirmation_keeps_the_choice(clerk, tablet, till_order):
    before = _state()

    response = tablet.post(
        _url(till_order, "refund"),
        {"refund_LAMP-01": "2", "reason": "Dented", "payment_method": "cash", "back": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = text(response)
    assert 'id="refund-confirm"' not in html
    assert _value(html, "refund_LAMP-01") == "2"
    assert _value(html, "reason") == "Dented"
    assert _checked(html, "payment_method") == ["cash"]
    assert _state() == before


def test_a_refund_that_cannot_be_made_is_refused_before_any_confirmation(tablet, till_order):
    before = _state()

    response = tablet.post(_url(till_order, "refund"), {"reason": "x", "payment_method": "cash"})

    assert response.status_code == 400
    assert "Choose at least one item to refund." in text(response)
    assert 'id="refund-confirm"' not in text(response)
    assert _state() == before


def test_an_out_of_range_cart_quantity_stays_in_its_line(shop, tablet):
    customer = CustomerFactory()
    line = CartLineFactory(cart=cart_for_customer(customer=customer), variant=shop.lamp)
    page = f"/store/{shop.store.code}/customers/{customer.reference}/"
    before = _state()

    response = tablet.post(f"{page}cart/lines/{line.pk}/", {"quantity": "25"})

    assert response.status_code == 400
    html = text(response)
    assert DEAD_END not in html
    assert _field_error(html, f'id="qty-{line.pk}"') == (
        "Quantity: Ensure this value is less than or equal to 20."
    )
    (typed,) = [t.attrs for t in tags(html) if t.attrs.get("id") == f"qty-{line.pk}"]
    assert typed["value"] == "25"
    assert _state() == before

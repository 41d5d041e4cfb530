"""Every page, message and the admin show money one way per language: "€12.50" in English,
"12,50 €" in Spanish (core.display.money) — never "12.50 EUR" or "12.50 €"."""

from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from customers.messaging import render
from orders.services import mark_preparing, mark_ready, refund_order
from tests.conftest import NOW
from tests.support.factories import UserFactory
from tests.support.web_helpers import add_to_cart, hand_over, place_at, text

pytest_plugins = ["tests.support.web_fixtures"]

NBSP = "\xa0"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def browse(language: str, user=None) -> Client:
    client = Client(headers={"accept-language": language})
    client.cookies["django_language"] = language
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def order(shop, shopper):
    """Two lamps (12.50) and a mug (4.00) at the shop's store: 29.00."""
    return place_at(shop.store, (shop.lamp, 2), (shop.mug, 1), customer=shopper)


@pytest.fixture
def collected(order, clerk):
    """``order`` handed over in full, paid cash, then one lamp refunded (12.50)."""
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    hand_over(order, clerk, method="cash")
    order.refresh_from_db()
    refund_order(order=order, user=clerk, quantities={"LAMP-01": 1}, reason="Dented", method="cash")
    order.refresh_from_db()
    return order


@pytest.mark.parametrize(
    ("language", "card", "big"),
    [("en", "from €12.50", "€12.50"), ("es", f"desde 12,50{NBSP}€", f"12,50{NBSP}€")],
)
def test_catalogue_and_product(shop, language, card, big):
    client = browse(language)

    catalogue = text(client.get("/"))
    product = text(client.get("/p/brass-desk-lamp/"))

    assert f'<span class="price">{card}</span>' in catalogue
    assert f'<p class="price big">{big}</p>' in product
    assert "EUR" not in catalogue and "EUR" not in product


@pytest.mark.parametrize(
    ("language", "line", "total"),
    [("en", "€25.00", "€29.00"), ("es", f"25,00{NBSP}€", f"29,00{NBSP}€")],
)
def test_cart_and_checkout(shop, language, line, total):
    client = browse(language)
    add_to_cart(client, shop.lamp, 2)
    add_to_cart(client, shop.mug, 1)

    cart = text(client.get("/cart/"))
    checkout = text(client.get(f"/checkout/?store={shop.store.code}"))

    assert f'<td class="num">{line}</td>' in cart
    assert f'<th class="num" id="cart-total">{total}</th>' in cart
    assert f"<strong>{total}</strong>" in checkout
    assert f'<span class="num">{line}</span>' in checkout
    assert "EUR" not in cart and "EUR" not in checkout


@pytest.mark.parametrize(
    ("language", "total", "refund"),
    [
        ("en", "€29.00", "€12.50 given back on"),
        ("es", f"29,00{NBSP}€", f"12,50{NBSP}€ devueltos el"),
    ],
)
def test_order_page_and_account(shopper, collected, language, total, refund):
    client = browse(language, shopper.user)

    page = text(client.get(f"/orders/{collected.number}/"))
    account = text(client.get("/account/"))

    assert f'<th class="num">{total}</th>' in page
    assert refund in page
    assert f"· {total}</li>" in account
    assert "EUR" not in page and "EUR" not in account


@pytest.mark.parametrize(
    ("language", "total", "paid", "refunded", "refundable"),
    [
        ("en", "€29.00", "Took €29.00 in cash", "€12.50 refunded", "Still refundable: €16.50"),
        (
            "es",
            f"29,00{NBSP}€",
            f"Cobrados 29,00{NBSP}€ en efectivo",
            f"12,50{NBSP}€ devuelto",
            f"Aún se puede devolver: 16,50{NBSP}€",
        ),
    ],
)
def test_the_tablets_order_page(clerk, collected, language, total, paid, refunded, refundable):
    client = browse(language, clerk)

    page = text(client.get(f"/store/{collected.store.code}/orders/{collected.number}/"))

    assert f"<dd>{total}</dd>" in page
    assert paid in page and refunded in page
    assert f'<p id="refundable">{refundable}</p>' in page
    assert "EUR" not in page


def test_the_tablets_refund_says_how_much_in_the_format(shop, clerk, order):
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    hand_over(order, clerk, method="cash")

    response = browse("en", clerk).post(
        f"/store/{shop.store.code}/orders/{order.number}/refund/",
        {"refund_MUG-01": "1", "reason": "Chipped", "payment_method": "cash"},
        HTTP_HX_REQUEST="true",
    )
    confirmed = browse("en", clerk).post(
        f"/store/{shop.store.code}/orders/{order.number}/refund/",
        {"refund_MUG-01": "1", "reason": "Chipped", "payment_method": "cash", "confirm": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "Give back €4.00 in cash at the till?" in text(response)
    assert confirmed.status_code == 200
    assert "€4.00 refunded." in text(confirmed)


@pytest.mark.parametrize(
    ("language", "cart_total", "order_line"),
    [("en", "€29.00", "· €29.00</li>"), ("es", f"29,00{NBSP}€", f"· 29,00{NBSP}€</li>")],
)
def test_the_tablets_customer_page(shop, shopper, clerk, order, language, cart_total, order_line):
    from tests.support.factories import CartFactory, CartLineFactory

    cart = CartFactory(customer=shopper)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=2)
    CartLineFactory(cart=cart, variant=shop.mug, quantity=1)

    page_url = f"/store/{shop.store.code}/customers/{shopper.reference}/"
    page = text(browse(language, clerk).get(page_url))

    assert f'id="cart-total">{cart_total}<' in page
    assert order_line in page
    assert "EUR" not in page


@pytest.mark.parametrize(
    ("language", "cash", "net"),
    [
        ("en", '<td class="num">€29.00</td>', "<strong>€16.50</strong>"),
        ("es", f'<td class="num">29,00{NBSP}€</td>', f"<strong>16,50{NBSP}€</strong>"),
    ],
)
def test_the_reconciliation(shop, collected, language, cash, net):
    manager = UserFactory()
    from tests.support.factories import StaffMembershipFactory

    StaffMembershipFactory(user=manager, store=shop.store, role="manager")

    page = text(browse(language, manager).get("/manage/reconciliation/"))

    assert cash in page and net in page
    assert "EUR" not in page


@pytest.mark.parametrize(
    ("language", "line"),
    [("en", "Total: €29.00 (pay at the counter)"), ("es", f"Total: 29,00{NBSP}€ (pago en")],
)
def test_messages(order, language, line):
    from customers.models import Notification

    note = Notification.objects.get(order_number=order.number, kind="order_confirmed")

    message = render(note.kind, note.context, language)

    assert line in message["text"]
    assert "EUR" not in message["text"] and "EUR" not in message["html"]


@pytest.mark.parametrize(
    ("language", "line"),
    [("en", "We have given back €12.50"), ("es", f"Te hemos devuelto 12,50{NBSP}€")],
)
def test_the_refund_message(collected, language, line):
    from customers.models import Notification

    note = Notification.objects.get(order_number=collected.number, kind="refund")

    message = render(note.kind, note.context, language)

    assert line in message["text"] and line in message["html"]
    assert line.replace("We have given back", "") in message["short"] or "€" in message["short"]
    assert "EUR" not in message["short"]


def test_the_admin_shows_money_in_the_format(shop, collected, admin_client):
    en = {"accept-language": "en"}

    orders = text(admin_client.get("/admin/orders/order/", headers=en))
    order = text(admin_client.get(f"/admin/orders/order/{collected.pk}/change/", headers=en))
    payments = text(admin_client.get("/admin/orders/payment/", headers=en))
    variants = text(admin_client.get("/admin/shop/variant/", headers=en))

    assert '<td class="field-total_money">€29.00</td>' in orders
    assert "€12.50" in order and "€4.00" in order  # the lines' prices
    assert "€29.00" in order and "€12.50" in order  # captured, refunded
    assert "EUR" not in order
    assert '<td class="field-captured">€29.00</td>' in payments
    assert '<td class="field-price_shown">€12.50</td>' in variants


def test_money_amounts_are_decimals_in_the_api(order, shopper):
    from tests.support.api_client import Api

    body = Api(shopper.user).get(f"/api/v1/orders/{order.number}/").json()

    assert (body["total"], body["currency"]) == ("29.00", "EUR")
    assert Decimal(body["lines"][0]["unit_price"]) in (Decimal("12.50"), Decimal("4.00"))

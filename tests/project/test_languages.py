"""Messages in the shopper's language, and the catalogue in the page's (issue 11, item 5).

An order carries the language it was placed in — the page's on the web, Accept-Language or
the customer's preference in the API, the customer's preference at the tablet — and every
message about it speaks that language. A new customer gets the language in use; an existing
customer's preference stays, and account messages (the email confirmation) follow it.

Product, variant and category names follow the page's language where a translation exists
(``name_translations``), everywhere: web, API, tablet, admin and the demo catalogue.

The suite's default language is English (tests/conftest.py), so Spanish is the one asked for.
"""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer, Notification
from customers.services import deliver_notification, register_customer
from orders.models import Order
from orders.services import mark_preparing, mark_ready
from shop.models import Category, Product, Variant
from shop.services import cart_for_customer
from tests.support.api_client import Api
from tests.support.factories import CartLineFactory, CategoryFactory, CustomerFactory
from tests.support.web_helpers import add_to_cart, checkout, collect_in_full, place_at, text

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def spanish_names(shop):
    """Spanish names for the lamp, its variant and its category (the base names are English,
    the suite's default language); the mug has none."""
    shop.category.name_translations = {"es": "Iluminación"}
    shop.category.save(update_fields=["name_translations"])
    shop.lamp.product.name_translations = {"es": "Lámpara de escritorio de latón"}
    shop.lamp.product.save(update_fields=["name_translations"])
    shop.lamp.title_translations = {"es": "Latón"}
    shop.lamp.save(update_fields=["title_translations"])
    return shop


def deliver(order, kind):
    note = Notification.objects.get(order_number=order.number, kind=kind)
    deliver_notification(notification_id=note.pk)
    return mail.outbox[-1]


# --- The order's language ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "confirmed", "ready"),
    [
        ("es", "Pedido {} confirmado", "El pedido {} está listo para recoger"),
        ("en", "Order {} confirmed", "Order {} is ready for pickup"),
    ],
)
def test_a_guest_gets_every_order_message_in_the_language_they_shopped_in(
    shop, clerk, language, confirmed, ready
):
    guest = Client(HTTP_ACCEPT_LANGUAGE=language)
    add_to_cart(guest, shop.lamp, 1)

    placed = checkout(guest, shop.store, email="tourist@example.test")

    assert placed.status_code == 302
    order = Order.objects.get(contact_email="tourist@example.test")
    assert order.language == language
    assert order.customer.language == language  # a new customer: the language in use
    assert deliver(order, "order_confirmed").subject == confirmed.format(order.number)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    assert deliver(order, "order_ready").subject == ready.format(order.number)


def test_the_refund_message_speaks_the_orders_language(shop, clerk):
    from orders.services import refund_order

    customer = CustomerFactory(language="es")
    order = place_at(shop.store, (shop.lamp, 1), customer=customer)
    Order.objects.filter(pk=order.pk).update(language="en")
    order.refresh_from_db()
    mark_preparing(order=order, user=clerk)
    order = mark_ready(order=order, user=clerk)
    collect_in_full(order, clerk)
    order.refresh_from_db()

    refund_order(order=order, user=clerk, quantities=None, reason="Damaged", method="cash")

    assert deliver(order, "refund").subject.startswith("Refund")
    assert Customer.objects.get(pk=customer.pk).language == "es"


def test_an_existing_customer_keeps_their_preference_for_account_messages(shop, shopper):
    # The shopper chose English; a guest checkout under their address is in Spanish.
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    guest = Client(HTTP_ACCEPT_LANGUAGE="es")
    add_to_cart(guest, shop.lamp, 1)

    checkout(guest, shop.store, email=shopper.email)

    order = Order.objects.get(customer=shopper)
    assert order.language == "es"
    assert deliver(order, "order_confirmed").subject == f"Pedido {order.number} confirmado"
    assert Customer.objects.get(pk=shopper.pk).language == "en"


def test_a_logged_in_shopper_orders_in_the_language_of_the_page(shop, shopper):
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    browser.force_login(shopper.user)
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    add_to_cart(browser, shop.lamp, 1)

    checkout(browser, shop.store)

    assert Order.objects.get(customer=shopper).language == "es"


@pytest.mark.parametrize(
    ("header", "preference", "expected"),
    [
        ({"HTTP_ACCEPT_LANGUAGE": "es-ES,es;q=0.9"}, "en", "es"),
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "es", "en"),
        ({}, "en", "en"),
        ({"HTTP_ACCEPT_LANGUAGE": "fr, de;q=0.5"}, "es", "es"),
    ],
    ids=["asked-es", "asked-en", "no-header", "not-spoken"],
)
def test_an_api_order_speaks_accept_language_else_the_customers_preference(
    shopper, customer_api, filled_cart, checkout_body, header, preference, expected
):
    shopper.language = preference
    shopper.save(update_fields=["language"])

    response = customer_api.post("/api/v1/checkout/", checkout_body, key="lang-1", **header)

    assert response.status_code == 201, response.json()
    assert Order.objects.get(number=response.json()["number"]).language == expected


def test_a_tablet_order_speaks_the_customers_preference(shop, clerk):
    customer = CustomerFactory(language="en")
    cart = cart_for_customer(customer=customer)
    CartLineFactory(cart=cart, variant=shop.lamp, quantity=1, channel="store")
    tablet = Client(HTTP_ACCEPT_LANGUAGE="es")
    tablet.force_login(clerk)
    page = text(tablet.get(f"/store/{shop.store.code}/customers/{customer.reference}/"))
    slot = re.search(r'<option value="([^"]+)" selected>', page).group(1)
    key = re.search(r'name="order_key" value="([^"]+)"', page).group(1)

    placed = tablet.post(
        f"/store/{shop.store.code}/customers/{customer.reference}/order/",
        {"slot": slot, "order_key": key},
    )

    assert placed.status_code == 302, text(placed)
    assert Order.objects.get(customer=customer).language == "en"


def test_an_order_line_keeps_its_name_in_the_orders_language(spanish_names, shopper):
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    add_to_cart(browser, spanish_names.lamp, 1)
    checkout(browser, spanish_names.store, email="ana@example.test")

    order = Order.objects.get(contact_email="ana@example.test")

    assert [line.name for line in order.lines.all()] == ["Lámpara de escritorio de latón — Latón"]


# --- New customers get the language in use -----------------------------------------------------


@pytest.mark.parametrize("language", ["es", "en"])
def test_signing_up_keeps_the_language_of_the_page(
    db, language, django_capture_on_commit_callbacks
):
    browser = Client(HTTP_ACCEPT_LANGUAGE=language)

    with django_capture_on_commit_callbacks(execute=True):
        browser.post(
            "/account/signup/",
            {"name": "Marta", "email": "marta@example.test", "password": "a-long-enough-pass"},
        )

    assert Customer.objects.get(email="marta@example.test").language == language
    assert len(mail.outbox) == 1
    assert (
        mail.outbox[0].subject
        == {
            "es": "Confirma tu correo electrónico",
            "en": "Confirm your email address",
        }[language]
    )


def test_signing_up_after_a_guest_order_takes_the_language_of_the_sign_up(shop):
    spanish = Client(HTTP_ACCEPT_LANGUAGE="es")
    add_to_cart(spanish, shop.lamp, 1)
    checkout(spanish, shop.store, email="marta@example.test")
    assert Customer.objects.get(email="marta@example.test").language == "es"

    register_customer(
        email="marta@example.test", password="a-long-enough-passphrase", name="M", language="en"
    )

    assert Customer.objects.get(email="marta@example.test").language == "en"


@pytest.mark.parametrize(
    ("header", "expected"), [({"HTTP_ACCEPT_LANGUAGE": "en"}, "en"), ({}, "en")]
)
def test_registering_in_the_app_keeps_its_language(db, settings, header, expected):
    answer = Api().post(
        "/api/v1/auth/register/",
        {"email": "app@example.test", "password": "a-long-enough-passphrase", "name": "App"},
        **header,
    )

    assert answer.status_code == 201
    assert answer.json()["customer"]["preferences"]["language"] == expected


@pytest.mark.parametrize(("chosen", "expected"), [("", "es"), ("en", "en")])
def test_a_customer_added_at_the_tablet_gets_the_language_in_use(shop, clerk, chosen, expected):
    tablet = Client(HTTP_ACCEPT_LANGUAGE="es")
    tablet.force_login(clerk)
    form = text(tablet.get(f"/store/{shop.store.code}/customers/"))
    assert '<option value="es" selected>' in form

    added = tablet.post(
        f"/store/{shop.store.code}/customers/new/",
        {"name": "Pablo", "email": "pablo@example.test", "language": chosen},
    )

    assert added.status_code == 302
    assert Customer.objects.get(email="pablo@example.test").language == expected


def test_a_customer_added_at_the_tablet_with_an_unknown_language_is_refused(shop, clerk):
    tablet = Client()
    tablet.force_login(clerk)

    refused = tablet.post(
        f"/store/{shop.store.code}/customers/new/",
        {"name": "Pablo", "email": "pablo@example.test", "language": "fr"},
    )

    assert refused.status_code == 400
    assert not Customer.objects.filter(email="pablo@example.test").exists()


# --- Names in the page's language --------------------------------------------------------------


def test_the_catalogue_and_product_page_show_names_in_the_pages_language(spanish_names):
    lamp = spanish_names.lamp.product
    spanish, english = Client(HTTP_ACCEPT_LANGUAGE="es"), Client(HTTP_ACCEPT_LANGUAGE="en")

    es_list, en_list = text(spanish.get("/")), text(english.get("/"))
    es_page, en_page = text(spanish.get(f"/p/{lamp.slug}/")), text(english.get(f"/p/{lamp.slug}/"))

    assert '<span class="card-name">Lámpara de escritorio de latón</span>' in es_list
    assert '<span class="card-meta">Iluminación</span>' in es_list
    assert '<option value="lighting">Iluminación</option>' in es_list
    assert '<span class="card-name">Stoneware Mug</span>' in es_list  # no translation: base
    assert '<span class="card-name">Brass Desk Lamp</span>' in en_list
    assert "<h1>Lámpara de escritorio de latón</h1>" in es_page
    assert "LAMP-01 · Latón</p>" in es_page
    assert "<h1>Brass Desk Lamp</h1>" in en_page


def test_the_catalogue_is_in_the_order_of_the_names_in_the_pages_language(spanish_names):
    # "Brass Desk Lamp" < "Stoneware Mug", but "Jarra de gres" < "Lámpara…".
    mug = spanish_names.mug.product
    mug.name_translations = {"es": "Jarra de gres"}
    mug.save(update_fields=["name_translations"])

    page = text(Client(HTTP_ACCEPT_LANGUAGE="es").get("/"))
    spanish = Api().get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="es").json()["results"]
    english = Api().get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="en").json()["results"]

    assert page.index("Jarra de gres") < page.index("Lámpara de escritorio de latón")
    assert [p["name"] for p in spanish] == ["Jarra de gres", "Lámpara de escritorio de latón"]
    assert [p["name"] for p in english] == ["Brass Desk Lamp", "Stoneware Mug"]


def test_the_catalogue_search_finds_a_translated_name(spanish_names):
    found = text(Client(HTTP_ACCEPT_LANGUAGE="es").get("/", {"q": "lámpara"}))
    base = text(Client(HTTP_ACCEPT_LANGUAGE="es").get("/", {"q": "desk lamp"}))

    assert "Lámpara de escritorio de latón" in found
    assert "Stoneware Mug" not in found
    assert "Lámpara de escritorio de latón" in base


def test_the_cart_and_checkout_show_names_in_the_pages_language(spanish_names):
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    add_to_cart(browser, spanish_names.lamp, 1)

    cart = text(browser.get("/cart/"))
    page = text(browser.get(f"/checkout/?store={spanish_names.store.code}"))

    assert ">Lámpara de escritorio de latón</a>" in cart
    assert "<small>Latón</small>" in cart
    assert "1 × Lámpara de escritorio de latón — Latón" in page


def test_the_api_names_follow_accept_language(spanish_names, shopper):
    lamp = spanish_names.lamp
    api = Api(shopper.user)
    CartLineFactory(cart=cart_for_customer(customer=shopper), variant=lamp, quantity=1)

    listed = api.get("/api/v1/products/", HTTP_ACCEPT_LANGUAGE="es").json()["results"]
    detail = api.get(f"/api/v1/products/{lamp.product.slug}/", HTTP_ACCEPT_LANGUAGE="es").json()
    cart = api.get("/api/v1/cart/", HTTP_ACCEPT_LANGUAGE="es").json()
    english = api.get(f"/api/v1/products/{lamp.product.slug}/", HTTP_ACCEPT_LANGUAGE="en").json()

    assert {p["slug"]: p["name"] for p in listed} == {
        "brass-desk-lamp": "Lámpara de escritorio de latón",
        "stoneware-mug": "Stoneware Mug",
    }
    assert (detail["name"], detail["variants"][0]["title"]) == (
        "Lámpara de escritorio de latón",
        "Latón",
    )
    assert [(line["name"], line["title"]) for line in cart["lines"]] == [
        ("Lámpara de escritorio de latón", "Latón")
    ]
    assert (english["name"], english["variants"][0]["title"]) == ("Brass Desk Lamp", "Brass")


def test_the_tablet_shows_names_in_the_clerks_language(spanish_names, clerk):
    customer = CustomerFactory()
    CartLineFactory(cart=cart_for_customer(customer=customer), variant=spanish_names.lamp)
    tablet = Client(HTTP_ACCEPT_LANGUAGE="es")
    tablet.force_login(clerk)

    html = text(tablet.get(f"/store/{spanish_names.store.code}/customers/{customer.reference}/"))

    assert "Lámpara de escritorio de latón — Latón" in html


def test_the_catalogue_runs_the_same_queries_with_translations(shop, spanish_names):
    def measure():
        browser = Client(HTTP_ACCEPT_LANGUAGE="es")
        browser.get("/")
        with CaptureQueriesContext(connection) as queries:
            browser.get("/")
        return len(queries.captured_queries)

    with_names = measure()
    for i in range(10):
        CategoryFactory(name=f"Extra {i}", name_translations={"es": f"Extra {i} es"})
    Product.objects.update(name_translations={"es": "Otro nombre"})

    assert measure() == with_names


# --- Admin -----------------------------------------------------------------------------------


def test_the_admin_edits_names_per_language(admin_client, spanish_names):
    product = spanish_names.lamp.product
    url = reverse("admin:shop_product_change", args=[product.pk])
    page = text(admin_client.get(url))
    assert 'name="name_es"' in page
    assert 'value="Lámpara de escritorio de latón"' in page

    category_url = reverse("admin:shop_category_change", args=[spanish_names.category.pk])
    saved = admin_client.post(
        category_url,
        {"name": "Lighting", "name_es": "Luz", "slug": "lighting", "position": 3},
    )

    assert saved.status_code == 302
    assert Category.objects.get(pk=spanish_names.category.pk).name_translations == {"es": "Luz"}
    cleared = admin_client.post(
        category_url, {"name": "Lighting", "name_es": "", "slug": "lighting", "position": 3}
    )
    assert cleared.status_code == 302
    assert Category.objects.get(pk=spanish_names.category.pk).name_translations == {}


@pytest.mark.parametrize(
    "value",
    [{"fr": "Lampe"}, {"es": ""}, {"es": 3}, ["es"], {"es": "x" * 161}],
    ids=["unknown-language", "empty", "not-text", "not-a-mapping", "too-long"],
)
def test_translations_must_be_text_for_languages_we_speak(db, value):
    from django.core.exceptions import ValidationError

    product = Product(category=CategoryFactory(), name="Lamp", slug="lamp", name_translations=value)

    with pytest.raises(ValidationError):
        product.full_clean()


# --- The demo catalogue ----------------------------------------------------------------------


def test_the_demo_catalogue_has_english_and_spanish_names():
    call_command("seed_demo", verbosity=0)

    untranslated = [
        *Category.objects.exclude(name_translations__has_key="en").values_list("slug", flat=True),
        *Product.objects.exclude(name_translations__has_key="en").values_list("slug", flat=True),
    ]
    assert untranslated == []
    # Variant titles are translated unless they are measures, the same in both languages.
    measures = re.compile(r"\A\d+ (cm|GB|ml|kg|m)\Z")
    untitled = Variant.objects.exclude(title="").exclude(title_translations__has_key="en")
    assert [v.title for v in untitled if not measures.match(v.title)] == []
    shirt = Product.objects.get(slug="camiseta-algodon-organico")
    assert (shirt.name, shirt.name_translations) == (
        "Camiseta de algodón orgánico",
        {"en": "Organic cotton T-shirt"},
    )
    assert Variant.objects.get(sku="CAMORG-M").title_translations == {"en": "Size M"}
    english = text(Client(HTTP_ACCEPT_LANGUAGE="en").get("/p/camiseta-algodon-organico/"))
    assert "<h1>Organic cotton T-shirt</h1>" in english
    assert "CAMORG-S · Size S</p>" in english


pytestmark = pytest.mark.django_db

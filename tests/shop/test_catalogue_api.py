"""The public catalogue API (DESIGN §8): stores, pickup slots, products and their stock.

Contract tests: exact bodies, errors as ``{"code", "detail"}``, a constant number of queries
whatever the list length, slots and availability equal to what the selectors and the web
product page say for the same data, and product views recorded with channel ``mobile`` only
for a known customer.
"""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Touchpoint
from customers.tasks import flush_touchpoints
from shop.models import Product, Variant
from stores.models import OpeningHours, StockLevel
from stores.selectors import slots_on
from tests.support.clock import at_awkward_moments
from tests.support.factories import (
    CategoryFactory,
    ProductFactory,
    StockLevelFactory,
    StoreFactory,
    VariantFactory,
)
from tests.support.web_helpers import place_at, stock_of, text, written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

STORES = "/api/v1/stores/"
PRODUCTS = "/api/v1/products/"

EVERY_DAY_8_TO_22 = [{"weekday": day, "opens": "08:00", "closes": "22:00"} for day in range(7)]


def slots_url(code, day) -> str:
    return f"/api/v1/stores/{code}/slots/?date={day}"


def product_url(slug) -> str:
    return f"/api/v1/products/{slug}/"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def queries_for(path) -> int:
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def local_today(store) -> date:
    return timezone.now().astimezone(store.tz).date()


def as_slot_json(slot) -> dict:
    return {
        "start": slot.start,
        "end": slot.end,
        "capacity": slot.capacity,
        "remaining": slot.remaining,
    }


def parsed_slots(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return [
        {
            **row,
            "start": datetime.fromisoformat(row["start"]),
            "end": datetime.fromisoformat(row["end"]),
        }
        for row in response.json()
    ]


def zone_at_local_noon() -> str:
    """A fixed-offset time zone where it is now between 12:00 and 13:00."""
    offset = 12 - timezone.now().hour
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT-{offset}" if offset > 0 else f"Etc/GMT+{-offset}"


def make_products(count: int, *, stores=()) -> list[Product]:
    """``count`` active products with one variant each, stocked at ``stores``."""
    category = CategoryFactory()
    start = Product.objects.count()
    products = Product.objects.bulk_create(
        Product(category=category, name=f"Bulk {start + i:04d}", slug=f"bulk-{start + i:04d}")
        for i in range(count)
    )
    variants = Variant.objects.bulk_create(
        Variant(product=p, sku=f"BULK-{p.slug}", price=Decimal("3.00")) for p in products
    )
    StockLevel.objects.bulk_create(
        StockLevel(store=s, variant=v, on_hand=4) for s in stores for v in variants
    )
    return products


# --- GET /api/v1/stores/ ---------------------------------------------------------------------


def test_store_list_is_public_with_address_coordinates_hours_and_slot_settings(db):
    madrid = StoreFactory(
        code="MAD-01",
        name="Madrid Centro",
        address="Calle Mayor 1",
        city="Madrid",
        latitude=Decimal("40.416775"),
        longitude=Decimal("-3.703790"),
        timezone="Europe/Madrid",
        slot_minutes=15,
        slot_capacity=4,
        lead_time_minutes=45,
        hold_hours=24,
        hours=False,
    )
    OpeningHours.objects.bulk_create(
        [
            OpeningHours(store=madrid, weekday=1, opens=time(16, 0), closes=time(20, 30)),
            OpeningHours(store=madrid, weekday=1, opens=time(9, 30), closes=time(13, 0)),
            OpeningHours(store=madrid, weekday=0, opens=time(10, 0), closes=time(14, 0)),
        ]
    )
    StoreFactory(code="BCN-01", name="Barcelona", city="Barcelona", timezone="Europe/Madrid")
    StoreFactory(code="OLD-01", is_active=False)

    response = Client().get(STORES)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert [row["code"] for row in body["results"]] == ["BCN-01", "MAD-01"]
    assert body["results"][1] == {
        "code": "MAD-01",
        "name": "Madrid Centro",
        "address": "Calle Mayor 1",
        "city": "Madrid",
        "latitude": "40.416775",
        "longitude": "-3.703790",
        "timezone": "Europe/Madrid",
        "slot_minutes": 15,
        "slot_capacity": 4,
        "lead_time_minutes": 45,
        "hold_hours": 24,
        "hours": [
            {"weekday": 0, "opens": "10:00", "closes": "14:00"},
            {"weekday": 1, "opens": "09:30", "closes": "13:00"},
            {"weekday": 1, "opens": "16:00", "closes": "20:30"},
        ],
    }
    barcelona = body["results"][0]
    assert (barcelona["latitude"], barcelona["longitude"]) == (None, None)
    assert barcelona["hours"] == EVERY_DAY_8_TO_22


def test_store_list_queries_do_not_grow_with_the_number_of_stores(db):
    for _ in range(3):
        StoreFactory()
    three = queries_for(STORES)
    for _ in range(9):
        StoreFactory()

    twelve = queries_for(STORES)

    assert Client().get(STORES).json()["count"] == 12
    assert twelve == three


# --- GET /api/v1/stores/{code}/slots/ --------------------------------------------------------


@at_awkward_moments
def test_slots_of_tomorrow_are_the_whole_opening_hours_as_the_selector_says(store):
    tomorrow = local_today(store) + timedelta(days=1)

    response = Client().get(slots_url(store.code, tomorrow))

    slots = parsed_slots(response)
    assert slots == [as_slot_json(s) for s in slots_on(store=store, day=tomorrow)]
    assert len(slots) == 28  # 08:00-22:00 in 30-minute slots
    assert slots[0]["start"] == datetime.combine(tomorrow, time(8, 0), tzinfo=store.tz)
    assert slots[-1]["end"] == datetime.combine(tomorrow, time(22, 0), tzinfo=store.tz)
    for slot, following in zip(slots, slots[1:], strict=False):
        assert slot["end"] == following["start"] == slot["start"] + timedelta(minutes=30)
    assert {(s["capacity"], s["remaining"]) for s in slots} == {(5, 5)}


def test_slots_of_today_start_after_the_lead_time(db):
    store = StoreFactory(timezone=zone_at_local_noon(), lead_time_minutes=60)
    before = timezone.now()
    today = local_today(store)

    response = Client().get(slots_url(store.code, today))

    after = timezone.now()
    slots = parsed_slots(response)
    lead = timedelta(minutes=60)
    assert slots, "at local noon a store open until 22:00 has slots left today"
    assert all(slot["start"] >= before + lead for slot in slots)
    assert slots[0]["start"] < after + lead + timedelta(minutes=30)
    assert slots[0]["start"].astimezone(store.tz).minute in (0, 30)
    assert slots[-1]["end"] == datetime.combine(today, time(22, 0), tzinfo=store.tz)
    for slot, following in zip(slots, slots[1:], strict=False):
        assert slot["end"] == following["start"]


def test_slots_of_a_closed_day_are_empty(db):
    store = StoreFactory(hours=False)
    tomorrow = local_today(store) + timedelta(days=1)
    OpeningHours.objects.create(
        store=store, weekday=(tomorrow.weekday() + 1) % 7, opens=time(9), closes=time(17)
    )

    response = Client().get(slots_url(store.code, tomorrow))

    assert response.status_code == 200
    assert response.json() == []


@at_awkward_moments
def test_remaining_drops_when_an_order_books_a_slot(store, variant, stock):
    order = place_at(store, (variant, 1))
    day = order.slot_start.astimezone(store.tz).date()

    response = Client().get(slots_url(store.code, day))

    slots = parsed_slots(response)
    assert slots == [as_slot_json(s) for s in slots_on(store=store, day=day)]
    booked = [s for s in slots if s["start"] == order.slot_start]
    assert booked == [
        {
            "start": order.slot_start,
            "end": order.slot_start + timedelta(minutes=30),
            "capacity": 5,
            "remaining": 4,
        }
    ]
    assert {s["remaining"] for s in slots if s["start"] != order.slot_start} == {5}


@pytest.mark.parametrize(
    "query",
    ["", "?date=", "?date=tomorrow", "?date=2025-13-01", "?date=25-01-2025", "?date=2025-1-5"],
    ids=["missing", "empty", "word", "bad-month", "day-first", "no-padding"],
)
def test_slots_without_a_proper_date_are_invalid(store, query):
    before = written()

    response = Client().get(f"/api/v1/stores/{store.code}/slots/{query}")

    body = assert_error(response, 400, "invalid")
    assert body["errors"] == {"date": ["Give a date as YYYY-MM-DD."]}
    assert written() == before


def test_slots_up_to_60_days_ahead_and_no_further(store):
    today = local_today(store)

    last = Client().get(slots_url(store.code, today + timedelta(days=60)))
    beyond = Client().get(slots_url(store.code, today + timedelta(days=61)))
    past = Client().get(slots_url(store.code, today - timedelta(days=2)))

    assert len(parsed_slots(last)) == 28
    body = assert_error(beyond, 400, "invalid")
    assert body["errors"] == {"date": ["Pickup slots can be booked up to 60 days ahead."]}
    assert_error(past, 400, "invalid")


@pytest.mark.parametrize("active", [False, None], ids=["inactive", "unknown"])
def test_slots_of_an_unknown_store_are_a_json_404(db, active):
    code = "NOPE-01"
    if active is False:
        StoreFactory(code=code, is_active=False)

    response = Client().get(slots_url(code, timezone.now().date()))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


# --- GET /api/v1/products/ -------------------------------------------------------------------


def test_product_list_is_public_and_paginated_by_name(shop):
    VariantFactory(product=shop.lamp.product, sku="LAMP-02", price=Decimal("9.99"))
    VariantFactory(
        product=shop.lamp.product, sku="LAMP-OLD", price=Decimal("1.00"), is_active=False
    )
    ProductFactory(name="Hidden Chair", is_active=False)
    ProductFactory(name="No Variants Yet")

    response = Client().get(PRODUCTS)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "slug": "brass-desk-lamp",
                "name": "Brass Desk Lamp",
                "category": "lighting",
                "price_from": "9.99",
            },
            {
                "slug": "stoneware-mug",
                "name": "Stoneware Mug",
                "category": shop.mug.product.category.slug,
                "price_from": "4.00",
            },
        ],
    }


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("desk", ["Brass Desk Lamp"]),
        ("STONEWARE", ["Stoneware Mug"]),
        ("LAMP-01", ["Brass Desk Lamp"]),
        ("mug-01", ["Stoneware Mug"]),
        ("LAMP-0", []),
        ("  desk  ", ["Brass Desk Lamp"]),
        ("", ["Brass Desk Lamp", "Stoneware Mug"]),
        ("teapot", []),
    ],
    ids=["name", "name-any-case", "sku", "sku-any-case", "partial-sku", "spaces", "empty", "none"],
)
def test_product_search_by_name_or_exact_sku(shop, search, expected):
    response = Client().get(PRODUCTS, {"search": search})

    assert names(response) == expected


def test_product_category_filter_by_slug(shop):
    assert names(Client().get(PRODUCTS, {"category": "lighting"})) == ["Brass Desk Lamp"]
    assert names(Client().get(PRODUCTS, {"category": "Lighting"})) == []
    assert names(Client().get(PRODUCTS, {"category": "no-such"})) == []


def test_product_store_filter_keeps_what_is_available_there(shop):
    # The lamp is sold out at the other store; the mug has 5 there and 3 here.
    at_store = Client().get(PRODUCTS, {"store": shop.store.code})
    at_other = Client().get(PRODUCTS, {"store": shop.other.code})
    unknown = Client().get(PRODUCTS, {"store": "NOPE-01"})

    assert names(at_store) == ["Brass Desk Lamp", "Stoneware Mug"]
    assert names(at_other) == ["Stoneware Mug"]
    assert names(unknown) == []


def test_product_store_filter_counts_reserved_units_as_not_available(shop):
    place_at(shop.other, (shop.mug, 5))
    assert stock_of(shop.other, shop.mug) == (5, 5)

    response = Client().get(PRODUCTS, {"store": shop.other.code})

    assert names(response) == []
    assert names(Client().get(PRODUCTS, {"store": shop.store.code})) == [
        "Brass Desk Lamp",
        "Stoneware Mug",
    ]


def test_product_store_filter_ignores_stock_of_withdrawn_variants(shop):
    # Given the lamp's only unit at the other store is of a variant no longer sold
    old = VariantFactory(product=shop.lamp.product, sku="LAMP-OLD", is_active=False)
    StockLevelFactory(store=shop.other, variant=old, on_hand=4)

    response = Client().get(PRODUCTS, {"store": shop.other.code})

    # Then nothing of the lamp can be bought there, as its product page says
    assert names(response) == ["Stoneware Mug"]
    detail = Client().get(product_url("brass-desk-lamp")).json()
    assert [
        stock["available"]
        for variant in detail["variants"]
        for stock in variant["stock"]
        if stock["store"] == shop.other.code
    ] == [0]


def test_product_page_size_is_capped_at_100(db):
    make_products(101)

    default = Client().get(PRODUCTS).json()
    small = Client().get(PRODUCTS, {"page_size": 7}).json()
    huge = Client().get(PRODUCTS, {"page_size": 500}).json()

    assert (default["count"], len(default["results"])) == (101, 20)
    assert (small["count"], len(small["results"])) == (101, 7)
    assert small["next"] == "http://testserver/api/v1/products/?page=2&page_size=7"
    assert (huge["count"], len(huge["results"])) == (101, 100)
    assert huge["results"][-1]["name"] == "Bulk 0099"


@pytest.mark.parametrize("page", ["3", "0", "last-but-one"])
def test_product_page_beyond_the_end_is_a_json_404(shop, page):
    response = Client().get(PRODUCTS, {"page_size": 1, "page": page})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Invalid page."}


def test_product_list_queries_do_not_grow_with_the_number_of_products(db):
    stores = [StoreFactory(), StoreFactory()]
    make_products(5, stores=stores)
    path = f"{PRODUCTS}?page_size=100"
    filtered = f"{path}&store={stores[0].code}&search=bulk"
    five, five_filtered = queries_for(path), queries_for(filtered)
    make_products(45, stores=stores)

    fifty, fifty_filtered = queries_for(path), queries_for(filtered)

    assert Client().get(filtered).json()["count"] == 50
    assert fifty == five
    assert fifty_filtered == five_filtered
    print(f"\nGET {PRODUCTS}: {fifty} queries, filtered {fifty_filtered}")
    assert (fifty, fifty_filtered) == (2, 2)  # the page and its count


# --- GET /api/v1/products/{slug}/ ------------------------------------------------------------


def test_product_detail_has_variants_with_price_and_stock_at_every_active_store(shop):
    VariantFactory(
        product=shop.lamp.product,
        sku="LAMP-02",
        title="Black",
        price=Decimal("14.00"),
        barcode="8400000000017",
    )
    VariantFactory(product=shop.lamp.product, sku="LAMP-OLD", is_active=False)
    StockLevel.objects.filter(store=shop.store, variant=shop.lamp).update(reserved=4)
    closed = StoreFactory(is_active=False)
    StockLevelFactory(store=closed, variant=shop.lamp, on_hand=50)

    response = Client().get(product_url("brass-desk-lamp"))

    assert response.status_code == 200
    assert response.json() == {
        "slug": "brass-desk-lamp",
        "name": "Brass Desk Lamp",
        "description": "",
        "category": "lighting",
        "variants": [
            {
                "sku": "LAMP-01",
                "title": "Brass",
                "price": "12.50",
                "currency": "EUR",
                "barcode": None,
                "stock": [
                    {"store": shop.store.code, "available": 6},
                    {"store": shop.other.code, "available": 0},
                ],
            },
            {
                "sku": "LAMP-02",
                "title": "Black",
                "price": "14.00",
                "currency": "EUR",
                "barcode": "8400000000017",
                "stock": [
                    {"store": shop.store.code, "available": 0},
                    {"store": shop.other.code, "available": 0},
                ],
            },
        ],
    }


def _web_stock_labels(html: str) -> dict[str, str]:
    """{store name: "In stock" / "Only N left" / "Out of stock here"} from a product page."""
    rows = re.findall(
        r'<li class="store-row[^"]*">\s*<span class="store-name">([^<]+)</span>'
        r'.*?<span class="stock (?:in|out)">([^<]+)</span>',
        html,
        re.S,
    )
    return {name.strip(): label.strip() for name, label in rows}


def _label(available: int) -> str:
    if available <= 0:
        return "Out of stock here"
    return f"Only {available} left" if available <= 3 else "In stock"


def test_product_detail_availability_equals_the_web_product_page(db):
    variant = VariantFactory(product=ProductFactory(slug="linen-throw"), sku="THROW-01")
    plenty = StoreFactory(code="A-01", name="Alcala")
    few = StoreFactory(code="B-01", name="Bilbao")
    reserved = StoreFactory(code="C-01", name="Cadiz")
    StoreFactory(code="D-01", name="Daroca")  # no stock row at all
    StoreFactory(code="E-01", name="Elche", is_active=False)
    StockLevelFactory(store=plenty, variant=variant, on_hand=12, reserved=2)
    StockLevelFactory(store=few, variant=variant, on_hand=5, reserved=3)
    StockLevelFactory(store=reserved, variant=variant, on_hand=4, reserved=4)

    api = Client().get(product_url("linen-throw"))
    web = Client().get("/p/linen-throw/")

    assert api.status_code == web.status_code == 200
    (api_variant,) = api.json()["variants"]
    available = {row["store"]: row["available"] for row in api_variant["stock"]}
    assert available == {"A-01": 10, "B-01": 2, "C-01": 0, "D-01": 0}
    store_names = {"A-01": "Alcala", "B-01": "Bilbao", "C-01": "Cadiz", "D-01": "Daroca"}
    assert _web_stock_labels(text(web)) == {
        store_names[code]: _label(units) for code, units in available.items()
    }
    assert _web_stock_labels(text(web)) == {
        "Alcala": "In stock",
        "Bilbao": "Only 2 left",
        "Cadiz": "Out of stock here",
        "Daroca": "Out of stock here",
    }


@pytest.mark.parametrize("case", ["unknown", "inactive", "no-active-variant"])
def test_product_detail_not_for_sale_is_a_json_404(shop, shopper_api, case):
    if case == "inactive":
        Product.objects.filter(pk=shop.lamp.product_id).update(is_active=False)
    if case == "no-active-variant":
        Variant.objects.filter(pk=shop.lamp.pk).update(is_active=False)
    slug = "no-such-product" if case == "unknown" else "brass-desk-lamp"
    before = written()

    anonymous = Client().get(product_url(slug))
    known = shopper_api.get(product_url(slug))

    for response in (anonymous, known):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"code": "not_found", "detail": "Not found."}
    assert written() == before


def test_a_known_customer_viewing_a_product_is_recorded_as_mobile(shop, shopper, shopper_api):
    response = shopper_api.get(product_url("stoneware-mug"))
    flush_touchpoints()  # beat's job: product views are queued, then written

    assert response.status_code == 200
    assert list(
        Touchpoint.objects.filter(customer=shopper).values_list("channel", "kind", "payload")
    ) == [("mobile", "product_viewed", {"product": "stoneware-mug"})]


def test_an_anonymous_product_view_records_nothing(shop):
    before = written()

    response = Client().get(product_url("stoneware-mug"))

    assert response.status_code == 200
    assert written() == before

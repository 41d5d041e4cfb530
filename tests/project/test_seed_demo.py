"""seed_demo: the demo is complete, and running it again changes nothing."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count
from django.test import RequestFactory

from customers.models import Customer, User
from shop.models import Category, Product, Variant
from stores.models import OpeningHours, StaffMembership, StockLevel, Store

pytestmark = pytest.mark.django_db

PASSWORD = "omnicollect-demo"
SHOPPER, CLERK, MANAGER = "shopper@example.com", "clerk@example.com", "manager@example.com"


def seed():
    call_command("seed_demo", verbosity=0)


def seeded_state() -> dict:
    """Every row seed_demo writes, in comparable form."""
    return {
        "stores": sorted(
            Store.objects.values_list(
                "pk",
                "code",
                "name",
                "address",
                "city",
                "latitude",
                "longitude",
                "timezone",
                "slot_minutes",
                "slot_capacity",
                "lead_time_minutes",
                "hold_hours",
                "is_active",
            )
        ),
        "hours": sorted(
            OpeningHours.objects.values_list("pk", "store_id", "weekday", "opens", "closes")
        ),
        "categories": sorted(Category.objects.values_list("pk", "slug", "name", "position")),
        "products": sorted(
            Product.objects.values_list(
                "pk", "slug", "category_id", "name", "description", "is_active"
            )
        ),
        "variants": sorted(
            Variant.objects.values_list(
                "pk", "sku", "product_id", "title", "price", "currency", "barcode", "is_active"
            )
        ),
        "stock": sorted(
            StockLevel.objects.values_list("pk", "store_id", "variant_id", "on_hand", "reserved")
        ),
        "users": sorted(
            User.objects.values_list("pk", "email", "name", "password", "is_staff", "is_superuser")
        ),
        "customers": sorted(
            Customer.objects.values_list("pk", "email", "name", "phone", "user_id")
        ),
        "staff": sorted(StaffMembership.objects.values_list("pk", "user_id", "store_id", "role")),
        "groups": sorted(
            (group.name, sorted(group.permissions.values_list("codename", flat=True)))
            for group in Group.objects.all()
        ),
    }


def test_second_run_creates_and_changes_nothing():
    seed()
    first = seeded_state()

    seed()

    assert seeded_state() == first
    assert {name: len(rows) for name, rows in first.items()} == {
        name: len(rows) for name, rows in seeded_state().items()
    }


def test_demo_has_stores_in_two_time_zones():
    seed()

    stores = list(Store.objects.order_by("pk"))
    assert [store.code for store in stores][:3] == ["MAD-01", "BCN-01", "CMX-01"]
    assert {store.timezone for store in stores} == {"Europe/Madrid", "America/Mexico_City"}
    for store in stores:
        assert store.is_active
        assert store.slot_minutes == 30
        assert 4 <= store.slot_capacity <= 8
        assert 60 <= store.lead_time_minutes <= 120
        assert store.hold_hours == 48
        assert store.latitude is not None and store.longitude is not None
        assert store.opening_hours.count() >= 6


def test_demo_catalogue_is_large_enough_and_in_euros():
    seed()

    assert Category.objects.count() >= 5
    assert Product.objects.count() >= 40
    assert Category.objects.annotate(n=Count("products")).filter(n=0).count() == 0
    variant_counts = set(Product.objects.annotate(n=Count("variants")).values_list("n", flat=True))
    assert variant_counts <= {1, 2, 3, 4}
    assert set(Variant.objects.values_list("currency", flat=True)) == {"EUR"}
    assert not Variant.objects.filter(price__lte=0).exists()


def test_demo_barcodes_are_valid_ean13():
    seed()

    barcodes = list(Variant.objects.values_list("barcode", flat=True))
    assert len(set(barcodes)) == len(barcodes) == Variant.objects.count()
    for barcode in barcodes:
        assert len(barcode) == 13 and barcode.isdigit()
        weighted = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(barcode[:12]))
        assert int(barcode[12]) == (10 - weighted % 10) % 10


def test_demo_stock_differs_by_store_with_sold_out_and_low_lines():
    seed()

    assert StockLevel.objects.count() == Variant.objects.count() * Store.objects.count()
    sold_out_here_in_stock_elsewhere = (
        Variant.objects.filter(stock_levels__on_hand=0)
        .filter(stock_levels__on_hand__gt=0)
        .distinct()
    )
    assert sold_out_here_in_stock_elsewhere.exists()
    assert StockLevel.objects.filter(on_hand__gte=1, on_hand__lte=3).exists()
    assert not StockLevel.objects.exclude(reserved=0).exists()


def test_rerun_keeps_stock_the_demo_has_changed():
    seed()
    level = StockLevel.objects.filter(on_hand__gte=4).order_by("pk").first()
    StockLevel.objects.filter(pk=level.pk).update(on_hand=3, reserved=2)

    seed()

    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (3, 2)


def test_rerun_resets_the_demo_passwords():
    seed()
    shopper = User.objects.get(email=SHOPPER)
    shopper.set_password("changed-by-someone")
    shopper.save(update_fields=["password"])

    seed()

    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


@pytest.mark.parametrize("email", [SHOPPER, CLERK, MANAGER])
def test_demo_logins_authenticate_with_the_demo_password(email):
    seed()

    user = authenticate(request=RequestFactory().post("/"), username=email, password=PASSWORD)

    assert user is not None and user.email == email


def test_demo_logins_have_their_roles():
    seed()
    shopper, clerk, manager = (User.objects.get(email=e) for e in (SHOPPER, CLERK, MANAGER))

    assert User.objects.count() == 3
    assert not User.objects.filter(is_superuser=True).exists()
    assert Customer.objects.get(user=shopper).name == "Lucía Fernández"
    assert (shopper.is_staff, clerk.is_staff, manager.is_staff) == (False, False, True)
    assert not StaffMembership.objects.filter(user=shopper).exists()
    assert list(clerk.store_memberships.values_list("store__code", "role")) == [("MAD-01", "clerk")]
    assert sorted(manager.store_memberships.values_list("store__code", "role")) == sorted(
        (code, "manager") for code in Store.objects.values_list("code", flat=True)
    )
    assert manager.has_perm("shop.change_product")
    assert manager.has_perm("stores.change_stocklevel")
    assert manager.has_perm("orders.view_order")
    assert not manager.has_perm("orders.change_order")
    assert not manager.has_perm("customers.change_user")


def test_output_names_the_url_and_the_three_logins(settings):
    settings.SITE_URL = "http://127.0.0.1:8123"
    out = StringIO()

    call_command("seed_demo", stdout=out)

    text = out.getvalue()
    assert "8000" not in text
    for expected in ("http://127.0.0.1:8123/", PASSWORD, SHOPPER, CLERK, MANAGER):
        assert expected in text

"""Every model of the project has a working admin: list, search and change pages open."""

import pytest
from django.contrib import admin
from django.urls import reverse

from orders.services import mark_preparing, mark_ready
from tests.support.project import APPS

PROJECT_APPS = set(APPS)


def _project_models():
    return [model for model in admin.site._registry if model._meta.app_label in PROJECT_APPS]


def test_every_project_model_is_in_the_admin():
    from django.apps import apps

    registered = set(_project_models())
    # Lines, hours and closures are edited inline on their parent's page.
    registered |= {
        inline.model
        for model, model_admin in admin.site._registry.items()
        for inline in model_admin.inlines
    }
    models = {m for label in PROJECT_APPS for m in apps.get_app_config(label).get_models()}
    assert models - registered == set()


@pytest.fixture
def one_of_everything(place, variant, stock, clerk, store):
    order = place((variant, 2))
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    return order


def test_admin_pages_open_for_every_model(admin_client, one_of_everything):
    for model in _project_models():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        response = admin_client.get(changelist, {"q": "x"})
        assert response.status_code == 200, changelist
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change


def test_orders_cannot_be_added_by_hand_in_the_admin(admin_client):
    response = admin_client.get(reverse("admin:orders_order_add"))
    assert response.status_code == 403


def test_admin_stock_count_keeps_reservations_made_meanwhile(admin_client, store, variant):
    from stores.services import reserve_stock
    from tests.support.factories import StockLevelFactory

    level = StockLevelFactory(store=store, variant=variant, on_hand=14, reserved=1)
    url = reverse("admin:stores_stocklevel_change", args=[level.pk])
    assert admin_client.get(url).status_code == 200  # the form shows reserved=1
    # a checkout reserves 2 more while the form is open
    assert reserve_stock(store_id=store.pk, variant_id=variant.pk, quantity=2)

    response = admin_client.post(url, {"on_hand": 24, "_save": "Save"})

    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (24, 3)


def test_admin_stock_count_cannot_go_below_reserved(admin_client, store, variant):
    from stores.models import StockLevel
    from tests.support.factories import StockLevelFactory

    level = StockLevelFactory(store=store, variant=variant, on_hand=10, reserved=3)
    url = reverse("admin:stores_stocklevel_change", args=[level.pk])

    response = admin_client.post(url, {"on_hand": 2, "_save": "Save"}, follow=True)

    assert "cannot go below the 3 units reserved" in response.content.decode()
    assert StockLevel.objects.values_list("on_hand", "reserved").get(pk=level.pk) == (10, 3)


def test_orders_and_slot_bookings_cannot_be_deleted_or_edited_in_the_admin(
    admin_client, one_of_everything
):
    from stores.models import SlotBooking

    order = one_of_everything
    booking = SlotBooking.objects.get()
    assert (
        admin_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    )
    change = reverse("admin:stores_slotbooking_change", args=[booking.pk])
    assert admin_client.post(change, {"booked": 0}).status_code == 403

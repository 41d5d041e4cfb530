"""Every model of the project has a working admin: list, search and change pages open."""

import pytest
from django.contrib import admin
from django.urls import reverse

from orders.services import mark_preparing, mark_ready

PROJECT_APPS = {"customers", "stores", "shop", "orders"}


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

"""A store's times are shown in the store's zone; where they read differently from the shop's
own zone (Madrid), the zone is named next to them ("08:00 CST" at Ciudad de México). Madrid's
times stay as they are. The admin shows order, payment and message times labelled with their
zone: the store's, or UTC.

The clock is frozen at Wednesday 15 January 2025, 09:00 in Madrid (02:00 in Mexico City).
"""

import re

import pytest
import time_machine
from django.test import Client

from customers.messaging import render
from customers.models import Notification
from orders.services import mark_preparing, mark_ready
from tests.conftest import NOW
from tests.support.factories import (
    ProductFactory,
    StaffMembershipFactory,
    StockLevelFactory,
    StoreFactory,
    UserFactory,
    VariantFactory,
)
from tests.support.web_helpers import add_to_cart, hand_over, place_at, text

pytest_plugins = ["tests.support.web_fixtures"]

NBSP = "\xa0"
CST = f"{NBSP}CST"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def mexico(db):
    """Ciudad de México, open 08:00–22:00 every day, with lamps in stock."""
    return StoreFactory(code="CMX-01", name="Ciudad de México", timezone="America/Mexico_City")


@pytest.fixture
def lamp(mexico, store):
    lamp = VariantFactory(product=ProductFactory(name="Lamp", slug="lamp"), sku="LAMP-01")
    StockLevelFactory(store=mexico, variant=lamp, on_hand=10)
    StockLevelFactory(store=store, variant=lamp, on_hand=10)
    return lamp


def staff_of(store):
    user = UserFactory()
    StaffMembershipFactory(user=user, store=store, role="manager")
    client = Client()
    client.force_login(user)
    return user, client


def test_checkout_names_the_zone_of_a_store_elsewhere(lamp, mexico, store):
    client = Client()
    add_to_cart(client, lamp)

    there = text(client.get(f"/checkout/?store={mexico.code}"))
    here = text(client.get(f"/checkout/?store={store.code}"))

    # The first slots: 08:00 in Mexico City (it opens then), 10:00 in Madrid (lead time).
    assert f"<span>08:00{CST}</span>" in there
    assert "<span>10:00</span>" in here and "CST" not in here and "CET" not in here


def test_the_product_page_names_the_zone_of_a_store_elsewhere(lamp, mexico, store):
    page = text(Client().get("/p/lamp/"))

    assert f"Ready today from 08:00{CST}" in page
    assert "Ready today from 10:00<" in page


def test_the_order_page_names_the_zone_of_a_store_elsewhere(lamp, mexico, shopper):
    order = place_at(mexico, (lamp, 1), customer=shopper, slot_index=0)
    client = Client()
    client.force_login(shopper.user)

    page = text(client.get(f"/orders/{order.number}/"))

    assert f"<dd>Wednesday 15 January, 08:00–08:30{CST}</dd>" in page
    assert "We keep it until" not in page  # not ready: no hold yet
    assert f"15 Jan 02:00{CST}</time>" in page  # the history


def test_madrid_times_have_no_label(lamp, store, shopper):
    order = place_at(store, (lamp, 1), customer=shopper, slot_index=0)
    client = Client()
    client.force_login(shopper.user)

    page = text(client.get(f"/orders/{order.number}/"))

    assert "<dd>Wednesday 15 January, 10:00–10:30</dd>" in page
    assert not re.search(r"\bCES?T\b", page)


def test_the_tablet_names_the_zone_of_its_store_when_it_is_elsewhere(lamp, mexico, shopper):
    order = place_at(mexico, (lamp, 1), customer=shopper, slot_index=0)
    clerk, tablet = staff_of(mexico)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)

    queue = text(tablet.get(f"/store/{mexico.code}/"))
    page = text(tablet.get(f"/store/{mexico.code}/orders/{order.number}/"))

    assert f"<span>08:00{CST} · 1 item</span>" in queue
    assert f"<dd>Wed 15 Jan, 08:00–08:30{CST}</dd>" in page
    assert f'<dd id="held-until">Fri 17 Jan, 08:00{CST}</dd>' in page  # 48 h after the slot
    assert f"15 Jan 02:00{CST}</time>" in page  # the history


def test_the_tablet_in_madrid_has_no_labels(lamp, store, shopper):
    order = place_at(store, (lamp, 1), customer=shopper, slot_index=0)
    clerk, tablet = staff_of(store)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)

    page = text(tablet.get(f"/store/{store.code}/orders/{order.number}/"))

    assert "<dd>Wed 15 Jan, 10:00–10:30</dd>" in page
    assert not re.search(r"\bCES?T\b", page)


def test_messages_name_the_zone_of_a_store_elsewhere(lamp, mexico, shopper):
    order = place_at(mexico, (lamp, 1), customer=shopper, slot_index=0)
    note = Notification.objects.get(order_number=order.number, kind="order_confirmed")

    message = render(note.kind, note.context, "en")

    assert f"Pickup time: Wednesday 15 January, 08:00–08:30{CST}" in message["text"]
    assert "from 15 Jan 08:00 CST." in message["short"]  # texts have plain spaces


def test_the_admin_labels_order_times_with_the_stores_zone(lamp, mexico, shopper, admin_client):
    order = place_at(mexico, (lamp, 1), customer=shopper, slot_index=0)
    clerk, _ = staff_of(mexico)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    hand_over(order, clerk, method="cash")
    en = {"accept-language": "en"}

    listing = text(admin_client.get("/admin/orders/order/", headers=en))
    change = text(admin_client.get(f"/admin/orders/order/{order.pk}/change/", headers=en))
    payments = text(admin_client.get("/admin/orders/payment/", headers=en))

    assert f"Jan. 15, 2025, 8 a.m.{CST}" in listing  # the pickup slot
    assert f"Jan. 15, 2025, 2 a.m.{CST}" in listing  # placed
    assert f"Jan. 17, 2025, 8 a.m.{CST}" in change  # held until
    assert f"Jan. 15, 2025, 2 a.m.{CST}" in payments


def test_the_admin_labels_message_times_utc(lamp, mexico, shopper, admin_client):
    place_at(mexico, (lamp, 1), customer=shopper, slot_index=0)

    listing = text(
        admin_client.get("/admin/customers/notification/", headers={"accept-language": "en"})
    )

    assert f"Jan. 15, 2025, 8 a.m.{NBSP}UTC" in listing

"""The shopper's "I'm here" button on the order page: offered when the customer can really be
at the counter for the order, recorded once (the first time is kept), works without
JavaScript."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Touchpoint
from orders.errors import OrderError
from orders.models import ARRIVAL_GRACE, Order, OrderEvent
from orders.services import cancel_order, mark_arrived, mark_preparing, mark_ready
from tests.support.clock import at_awkward_moments
from tests.support.web_helpers import place_at, written

pytest_plugins = ["tests.support.web_fixtures"]


@pytest.fixture
def browser(client, shopper):
    client.force_login(shopper.user)
    return client


@pytest.fixture
def ready(shop, clerk, shopper):
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    mark_preparing(order=order, user=clerk)
    return mark_ready(order=order, user=clerk)


def arrive(browser, order):
    return browser.post(f"/orders/{order.number}/arrived/", follow=True)


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@at_awkward_moments
def test_a_ready_order_offers_the_button(browser, ready):
    html = browser.get(f"/orders/{ready.number}/").content.decode()

    assert f'action="/orders/{ready.number}/arrived/"' in html
    assert ">I'm here</button>" in html


def test_pressing_tells_the_store_once(browser, ready, shopper):
    response = arrive(browser, ready)

    assert response.redirect_chain == [(f"/orders/{ready.number}/", 302)]
    assert shown_messages(response) == [
        "Thank you: the store knows you are here. Please go to the counter with your pickup code."
    ]
    ready.refresh_from_db()
    assert ready.arrived_at is not None
    local = timezone.localtime(ready.arrived_at, ready.store.tz).strftime("%H:%M")
    assert f"You told the store you are here at {local}." in response.content.decode()
    assert 'id="arrived-form"' not in response.content.decode()
    touchpoint = Touchpoint.objects.get(customer=shopper, kind="customer_arrived")
    assert touchpoint.channel == "web"
    assert OrderEvent.objects.filter(order=ready, note="customer arrived").count() == 1

    before = written()
    again = arrive(browser, ready)

    assert shown_messages(again) == [f"We already told the store at {local}."]
    assert written() == before
    assert Order.objects.get(pk=ready.pk).arrived_at == ready.arrived_at


def test_a_guest_can_press_in_the_browser_that_placed_the_order(client, ready):
    Order.objects.filter(pk=ready.pk).update(guest_checkout=True)
    session = client.session
    session["guest_orders"] = [ready.number]
    session.save()

    response = arrive(client, ready)

    assert response.status_code == 200
    ready.refresh_from_db()
    assert ready.arrived_at is not None


def test_somebody_elses_order_is_not_found(client, ready, customer_factory, user_factory):
    stranger = customer_factory(user=user_factory())
    client.force_login(stranger.user)
    before = written()

    response = client.post(f"/orders/{ready.number}/arrived/")

    assert response.status_code == 404
    assert written() == before


@at_awkward_moments
def test_an_order_long_before_its_slot_is_not_offered_and_refused(browser, shop, shopper):
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper, slot_index=3)
    Order.objects.filter(pk=order.pk).update(slot_start=timezone.now() + timedelta(hours=2))
    before = written()

    page = browser.get(f"/orders/{order.number}/").content.decode()
    response = arrive(browser, order)

    assert 'id="arrived-form"' not in page
    assert shown_messages(response) == [
        "You can tell the store you are here once your order is ready or your pickup time has come."
    ]
    assert written() == before
    assert Order.objects.get(pk=order.pk).arrived_at is None


@at_awkward_moments
def test_an_order_being_prepared_in_its_slot_is_offered(browser, shop, shopper, clerk):
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    mark_preparing(order=order, user=clerk)
    Order.objects.filter(pk=order.pk).update(slot_start=timezone.now() - timedelta(minutes=5))

    assert 'id="arrived-form"' in browser.get(f"/orders/{order.number}/").content.decode()
    arrive(browser, order)

    assert Order.objects.get(pk=order.pk).arrived_at is not None


def test_a_cancelled_order_has_nothing_to_pick_up(browser, shop, shopper):
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    cancel_order(order=order, reason="Changed my mind", actor="customer", channel="web")
    before = written()

    page = browser.get(f"/orders/{order.number}/").content.decode()
    response = arrive(browser, order)

    assert 'id="arrived-form"' not in page
    assert response.status_code == 200
    assert written() == before


def test_get_is_not_allowed(browser, ready):
    assert browser.get(f"/orders/{ready.number}/arrived/").status_code == 405


MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("status", "to_slot", "offered"),
    [
        ("ready", timedelta(hours=4), True),
        ("placed", timedelta(hours=4), False),
        ("placed", ARRIVAL_GRACE + MINUTE, False),  # a minute before the grace opens
        ("placed", ARRIVAL_GRACE, True),  # the grace opens
        ("placed", ARRIVAL_GRACE - MINUTE, True),  # a minute into it
        ("preparing", ARRIVAL_GRACE + MINUTE, False),
        ("preparing", ARRIVAL_GRACE - MINUTE, True),
        ("preparing", -timedelta(minutes=30), True),
        ("pending_payment", -5 * MINUTE, False),
        ("collected", -5 * MINUTE, False),
        ("expired", -5 * MINUTE, False),
    ],
)
def test_when_the_button_is_offered(status, to_slot, offered):
    now = timezone.now()
    order = Order(status=status, slot_start=now + to_slot)

    assert order.check_in_open(now) is offered


@pytest.mark.parametrize(
    ("before_slot", "allowed"),
    [(ARRIVAL_GRACE - MINUTE, True), (ARRIVAL_GRACE + MINUTE, False)],
    ids=["a-minute-inside-the-grace", "a-minute-before-the-grace"],
)
def test_i_am_here_opens_the_grace_period_before_the_slot(shop, shopper, before_slot, allowed):
    # given a placed order (not ready yet)
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    now = order.slot_start - before_slot
    before = written()

    # when the customer says they are here ``before_slot`` ahead of their slot
    if allowed:
        mark_arrived(order=order, channel="web", now=now)
    else:
        with pytest.raises(OrderError) as exc:
            mark_arrived(order=order, channel="web", now=now)

    # then inside the grace it is recorded; before it, refused and nothing written
    order.refresh_from_db()
    if allowed:
        assert order.arrived_at == now
        assert OrderEvent.objects.filter(order=order, note="customer arrived").count() == 1
    else:
        assert (exc.value.code, exc.value.extra) == ("too_early", {"current": "placed"})
        assert order.arrived_at is None
        assert written() == before

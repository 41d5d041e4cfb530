"""The tablet's queue at scale: a bounded board, and a poll that sends nothing while nothing
changed (the board carries a version; the poll sends it back and gets 204 when it still holds).
"""

import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import selectors
from orders.models import Order, OrderLine, OrderStatus
from orders.services import mark_arrived, mark_preparing, mark_ready
from tests.support.web_helpers import collect_in_full, column, place_at, text

pytest_plugins = ["tests.support.web_fixtures"]

POLL = {"HX-Request": "true"}


def _board(tablet, store, **params):
    response = tablet.get(f"/store/{store.code}/", params, headers=POLL)
    assert response.status_code == 200
    return text(response)


def _since(board: str) -> str:
    return re.search(r'<input type="hidden" name="since" value="([^"]+)">', board).group(1)


def _poll(tablet, store, since, **params):
    return tablet.get(f"/store/{store.code}/", {"since": since, **params}, headers=POLL)


def _badge(board: str, name: str) -> int:
    return int(re.search(r'<span class="badge">(\d+)</span>', column(board, name)).group(1))


def test_a_poll_with_nothing_changed_gets_204_and_no_board(shop, tablet):
    place_at(shop.store, (shop.lamp, 1))
    since = _since(_board(tablet, shop.store))

    response = _poll(tablet, shop.store, since)

    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("change", ["placed", "preparing", "ready", "arrived", "collected"])
def test_a_poll_after_a_change_gets_the_new_board(shop, clerk, tablet, change):
    order = place_at(shop.store, (shop.lamp, 1))
    if change in ("ready", "arrived", "collected"):
        mark_preparing(order=order, user=clerk)
    if change == "arrived":
        mark_ready(order=order, user=clerk)
    since = _since(_board(tablet, shop.store))

    if change == "placed":
        order = place_at(shop.store, (shop.mug, 1))
    elif change == "preparing":
        mark_preparing(order=order, user=clerk)
    elif change == "ready":
        mark_ready(order=order, user=clerk)
    elif change == "arrived":
        mark_arrived(order=order, channel="web")
    else:
        mark_ready(order=order, user=clerk)
        since = _since(_board(tablet, shop.store))
        collect_in_full(order, clerk)
    response = _poll(tablet, shop.store, since)

    assert response.status_code == 200
    board = text(response)
    assert _since(board) != since
    shown = {"placed": "placed", "preparing": "preparing", "ready": "ready", "arrived": "ready"}
    if change == "collected":
        assert order.number not in board
    else:
        assert order.number in column(board, shown[change])
    if change == "arrived":
        assert f'data-arrived-number="{order.number}"' in board
    assert _poll(tablet, shop.store, _since(board)).status_code == 204


def test_a_poll_after_an_order_turned_overdue_with_time_gets_the_new_board(shop, tablet):
    order = place_at(shop.store, (shop.lamp, 1))
    board = _board(tablet, shop.store)
    assert order.number in column(board, "placed")

    with time_machine.travel(order.slot_start + timedelta(minutes=1), tick=False):
        response = _poll(tablet, shop.store, _since(board))

    assert response.status_code == 200
    assert order.number in column(text(response), "overdue")


def test_a_poll_without_a_version_gets_the_board(shop, tablet):
    order = place_at(shop.store, (shop.lamp, 1))

    assert order.number in column(_board(tablet, shop.store), "placed")


def _clone_open_orders(order, n, *, status=OrderStatus.PLACED, arrived=False):
    """n more open orders like ``order`` (one line each), inserted in bulk."""
    line = order.lines.first()
    fields = {
        f.attname: getattr(order, f.attname)
        for f in Order._meta.concrete_fields
        if f.attname
        not in {"id", "number", "pickup_token", "pickup_code", "idempotency_key", "cart_id"}
    }
    made = Order.objects.bulk_create(
        [
            Order(
                **{**fields, "status": status, "arrived_at": order.created_at if arrived else None}
            )
            for _ in range(n)
        ],
        batch_size=2000,
    )
    line_fields = {
        f.attname: getattr(line, f.attname)
        for f in OrderLine._meta.concrete_fields
        if f.attname not in {"id", "order_id"}
    }
    OrderLine.objects.bulk_create(
        [OrderLine(**{**line_fields, "order_id": o.pk}) for o in made], batch_size=2000
    )
    return made


def test_each_column_shows_its_first_tickets_and_counts_the_rest(shop, tablet):
    first = place_at(shop.store, (shop.lamp, 2))
    _clone_open_orders(first, selectors.QUEUE_SHOWN + 2)
    total = selectors.QUEUE_SHOWN + 3

    board = _board(tablet, shop.store)

    placed = column(board, "placed")
    assert placed.count('<article class="ticket') == selectors.QUEUE_SHOWN
    assert _badge(board, "placed") == total
    assert first.number in placed  # the oldest first
    assert "3 more orders — find one with the box above." in placed
    assert f'<a href="?placed={2 * selectors.QUEUE_SHOWN}">Show more</a>' in placed

    more = _board(tablet, shop.store, placed=2 * selectors.QUEUE_SHOWN)

    assert column(more, "placed").count('<article class="ticket') == total
    assert "more order" not in column(more, "placed")
    # The poll keeps what is shown: the board sends its limits back with its version.
    assert f'<input type="hidden" name="placed" value="{2 * selectors.QUEUE_SHOWN}">' in more


@pytest.mark.parametrize(
    ("asked", "shown"),
    [
        ("abc", "default"),
        ("-5", "default"),
        ("", "default"),
        ("1e9", "default"),
        ("99999999999999999999", "most"),
    ],
)
def test_a_show_more_value_that_is_not_a_sensible_count_is_bounded(shop, tablet, asked, shown):
    first = place_at(shop.store, (shop.lamp, 1))
    _clone_open_orders(first, selectors.QUEUE_SHOWN + 2)
    expected = {"default": selectors.QUEUE_SHOWN, "most": selectors.QUEUE_SHOWN + 3}[shown]

    board = _board(tablet, shop.store, placed=asked)

    assert column(board, "placed").count('<article class="ticket') == expected
    assert selectors.queue_limits({"placed": asked})["placed"] <= selectors.QUEUE_SHOWN_MAX


def test_arrived_customers_come_first_even_in_a_long_column(shop, clerk, tablet):
    first = place_at(shop.store, (shop.lamp, 1))
    _clone_open_orders(first, selectors.QUEUE_SHOWN + 5)
    late_arrival = place_at(shop.store, (shop.mug, 1))
    mark_arrived(order=late_arrival, channel="web", now=late_arrival.slot_start)

    placed = column(_board(tablet, shop.store), "placed")

    assert placed.count('<article class="ticket') == selectors.QUEUE_SHOWN
    assert placed.index(late_arrival.number) < placed.index(first.number)
    assert f'data-arrived-number="{late_arrival.number}"' in placed


OPEN_ORDERS = 10_000


def test_the_poll_stays_small_with_ten_thousand_open_orders(shop, clerk, tablet):
    first = place_at(shop.store, (shop.lamp, 1))
    for status in (OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY):
        _clone_open_orders(first, (OPEN_ORDERS - 1) // 3, status=status)
    open_orders = Order.objects.filter(store=shop.store, status__in=selectors.OPEN_STATUSES)
    assert open_orders.count() == OPEN_ORDERS
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order; ANALYZE orders_orderline")
    board = _board(tablet, shop.store)  # warm up

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as full_queries:
        board = _board(tablet, shop.store)
    full = time.perf_counter() - start
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as poll_queries:
        response = _poll(tablet, shop.store, _since(board))
    poll = time.perf_counter() - start
    print(
        f"\ntablet board with {OPEN_ORDERS} open orders: {full * 1000:.1f} ms, "
        f"{len(board) / 1024:.0f} KiB, {len(full_queries)} queries; unchanged poll: "
        f"{poll * 1000:.1f} ms, {len(poll_queries)} queries"
    )

    assert response.status_code == 204
    assert board.count('<article class="ticket') == 3 * selectors.QUEUE_SHOWN
    assert sum(_badge(board, name) for name in selectors.QUEUE_COLUMNS) == OPEN_ORDERS
    assert len(poll_queries) < len(full_queries)

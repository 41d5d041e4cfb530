"""Read pages under wrk against the bare views: each HTML page against the bare 20-row template
view, each API read against the bare one-query JSON view, requests/s, interleaved A/B three
times (median). Whether the page wrote anything: exact row counts of every table before and
after its runs (the bare views write nothing). The tablet queue and its htmx poll: median
latency with 10,000 open orders at the store (made in bulk first), against the bare template
view's latency."""

from __future__ import annotations

import time
import traceback

from django.db import transaction
from django.utils import timezone

from bench import data, db
from bench.harness import Context, Http, Row, interleave_all, median, ratio, wrk
from customers.models import Customer, User
from orders.selectors import queue_version
from orders.services.checkout import place_order
from shop.management.demo.people import CLERK, SHOPPER
from shop.models import Variant
from shop.services import add_to_cart, choose_store
from stores.models import StaffMembership

PAIRS = 3
SECONDS = 2
CONNECTIONS = 8
QUEUE_ORDERS = 10_000
TEMPLATE, JSON = "/_bench/template/", "/_bench/json/"


def _setup(ctx: Context) -> dict:
    shopper = Customer.objects.get(email=SHOPPER["email"])
    clerk = User.objects.get(email=CLERK["email"])
    store = StaffMembership.objects.filter(user=clerk).select_related("store").first().store
    variant = (
        Variant.objects.filter(
            is_active=True, stock_levels__store=store, stock_levels__on_hand__gt=2
        )
        .select_related("product")
        .order_by("id")
        .first()
    )
    data.set_stock(store, variant, 1_000_000)
    # An order of the shopper's for the order page, then a cart for the cart and checkout pages.
    with transaction.atomic():
        add_to_cart(customer=shopper, sku=variant.sku, quantity=1, channel="web")
    from shop.services import cart_for_customer

    cart = cart_for_customer(customer=shopper)
    order = place_order(
        cart=cart,
        store=store,
        slot_start=data.a_slot(store).start,
        payment_method="in_store",
        channel="web",
        customer=shopper,
        now=timezone.now(),
    )
    add_to_cart(customer=shopper, sku=variant.sku, quantity=2, channel="web")
    choose_store(customer=shopper, store_id=store.pk, channel="web")
    token = data.make_customers(1, "reader")[0][1]
    return {
        "shopper_cookie": f"sessionid={data.session_for(shopper.user)}",
        "clerk_cookie": f"sessionid={data.session_for(clerk)}",
        "token": token,
        "store": store,
        "product": variant.product.slug,
        "order": order.number,
        "variant": variant,
    }


def _rps(ctx, path, headers, connections=CONNECTIONS, seconds=SECONDS):
    return lambda: (
        wrk(
            ctx.base_url + path, seconds=seconds, connections=connections, headers=headers
        ).requests_per_s
    )


def _check(ctx: Context, path: str, headers: dict) -> int:
    client = Http(ctx.base_url, headers)
    try:
        status, _ = client.request("GET", path)
    finally:
        client.close()
    return status


def _page_row(ctx, name, path, headers, bare) -> Row:
    status = _check(ctx, path, headers)
    if status != 200:
        return Row(name, None, None, "req/s", None, "≥0.5x, 0 writes", False, f"GET {status}")
    before = db.row_counts(ctx.dsn)
    app, base = interleave_all([_rps(ctx, path, headers), _rps(ctx, bare, {})], rounds=PAIRS)
    changes = db.count_changes(before, db.row_counts(ctx.dsn))
    figure, baseline = median(app), median(base)
    r = ratio(figure, baseline)
    written = sum(changes.values())
    kind = "JSON" if bare == JSON else "20-row template"
    note = (
        f"{path} vs bare {kind} view; runs {[round(x) for x in app]} vs "
        f"{[round(x) for x in base]} req/s; rows written during the runs: "
        + (", ".join(f"{t} +{n}" for t, n in changes.items()) if changes else "none")
    )
    return Row(
        name,
        figure,
        baseline,
        "req/s",
        r,
        "≥0.5x, 0 writes",
        r is not None and r >= 0.5 and written == 0,
        note,
    )


def _latency(ctx, path, headers, expect=200):
    """Median latency (ms) of GETs one after another on one keep-alive connection, for at
    least 2 s (at least one request, however slow)."""

    def run():
        client = Http(ctx.base_url, headers)
        times = []
        start = time.perf_counter()
        try:
            while not times or time.perf_counter() - start < 2:
                t0 = time.perf_counter()
                status, _ = client.request("GET", path)
                times.append((time.perf_counter() - t0) * 1000)
                if status != expect:
                    raise RuntimeError(f"GET {path}: {status}")
        finally:
            client.close()
        return median(times)

    return run


def _queue_row(ctx, name, path, headers, expect=200) -> Row:
    status = _check(ctx, path, headers)
    if status != expect:
        return Row(name, None, None, "ms", None, "≤50 ms", False, f"GET {status}")
    before = db.row_counts(ctx.dsn)
    app, base = interleave_all(
        [_latency(ctx, path, headers, expect), _latency(ctx, TEMPLATE, {})], PAIRS
    )
    changes = db.count_changes(before, db.row_counts(ctx.dsn))
    figure, baseline = median(app), median(base)
    note = (
        f"{path} with {QUEUE_ORDERS:,} open orders at the store; median latency of GETs in a "
        "row on one keep-alive connection (Python client, ≥2 s per run) "
        f"{[round(x, 1) for x in app]} vs bare template "
        f"{[round(x, 1) for x in base]} ms; ratio = figure/baseline (lower is better); "
        "rows written: " + (", ".join(f"{t} +{n}" for t, n in changes.items()) or "none")
    )
    return Row(
        name,
        figure,
        baseline,
        "ms",
        ratio(figure, baseline),
        "≤50 ms",
        figure <= 50 and not changes,
        note,
    )


def _guarded(name, unit, measure, *args) -> Row:
    """The row, or a row saying it failed (the other rows still run)."""
    try:
        return measure(*args)
    except Exception as exc:
        traceback.print_exc()
        return Row(name, None, None, unit, None, "-", False, f"failed: {exc!r}")


def rows(ctx: Context) -> list[Row]:
    s = _setup(ctx)
    shopper = {"Cookie": s["shopper_cookie"]}
    api = {"Authorization": f"Token {s['token']}"}
    pages = [
        ("catalogue", "/", shopper, TEMPLATE),
        ("product page", f"/p/{s['product']}/", shopper, TEMPLATE),
        ("cart page", "/cart/", shopper, TEMPLATE),
        ("checkout page", "/checkout/", shopper, TEMPLATE),
        ("order page", f"/orders/{s['order']}/", shopper, TEMPLATE),
        ("API product list", "/api/v1/products/", api, JSON),
        ("API product detail", f"/api/v1/products/{s['product']}/", api, JSON),
    ]
    out = []
    for name, path, headers, bare in pages:
        if ctx.part_remaining() < 20:
            out.append(
                Row(
                    name, None, None, "req/s", None, "≥0.5x, 0 writes", None, "skipped: out of time"
                )
            )
            continue
        ctx.log(f"pages: {name}")
        out.append(_guarded(name, "req/s", _page_row, ctx, name, path, headers, bare))

    ctx.log(f"pages: {QUEUE_ORDERS:,} open orders at {s['store'].code}")
    owner = data.make_customers(1, "queue")[0][0]
    data.open_orders(s["store"], QUEUE_ORDERS, owner, s["variant"])
    clerk = {"Cookie": s["clerk_cookie"]}
    queue = f"/store/{s['store'].code}/"
    poll = {**clerk, "HX-Request": "true"}
    # The poll sends back the version it was given: 204 and nothing else while nothing changed.
    unchanged = f"{queue}?since={queue_version(store=s['store'])}"
    for name, path, headers, expect in [
        ("tablet queue", queue, clerk, 200),
        ("tablet queue poll, board changed", queue, poll, 200),
        ("tablet queue poll, nothing changed", unchanged, poll, 204),
    ]:
        if ctx.part_remaining() < 15:
            out.append(Row(name, None, None, "ms", None, "≤50 ms", None, "skipped: out of time"))
            continue
        ctx.log(f"pages: {name}")
        out.append(_guarded(name, "ms", _queue_row, ctx, name, path, headers, expect))
    return out

"""Side by side with a peer: django-oscar's shop and Omnicollect's web shop, placing orders
through their HTML pages with the same client, the same concurrency and the same server.

Both run under gunicorn with production settings (DEBUG off) on loopback, on the same
PostgreSQL and Redis; Oscar from PyPI in its own virtualenv (bench/oscar/). Each order is a new
anonymous shopper (a fresh cookie jar, a unique email) on a client's keep-alive connection,
doing what a browser does, CSRF tokens read from the pages and redirects followed:

- Oscar: product page → add to basket → checkout (guest email) → shipping address → (free
  shipping, chosen by Oscar as the only method) → payment details (none taken) → preview →
  place order → thank-you page.
- Omnicollect: product page → add to cart → checkout page → checkout paying at the counter
  (a pickup time picked at random from the page) → order page.

The figure is Omnicollect's orders/s, the baseline Oscar's, in interleaved runs (Oscar, then
Omnicollect, ``PAIRS`` times), medians reported. Run alone: ``BENCH_PARTS=peer .venv/bin/python
-m bench``.

Its own databases, named after the run's: ``oscar_bench`` and ``omni_bench_peer`` (created,
migrated and loaded by the part, Omnicollect's made afresh every run; stock and slot capacity
reset every run) and the Redis database two after the run's.
Oscar's virtualenv and project are kept under ``var/bench/``. Knobs (environment):
``BENCH_PEER_CLIENTS`` (8), ``BENCH_PEER_SECONDS`` (15 per run), ``BENCH_PEER_PAIRS`` (3),
``BENCH_PEER_BUDGET`` (300 s for the whole part).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from contextlib import ExitStack

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import db, processes
from bench.browser import Browser, FlowError, LoadResult, find_form, run_load
from bench.harness import Context, Row, interleave, ratio
from bench.oscar import project as oscar_project

# This part's own databases, named after the run's (omni_bench → oscar_bench, omni_bench_peer),
# and Redis database: the orders' queued messages must never reach a Celery worker of another
# part (whose database does not have these orders).
PEER_REDIS_OFFSET = 2

CLIENTS = int(os.environ.get("BENCH_PEER_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_PEER_SECONDS", "15"))
MIN_SECONDS = 5.0
# Warm-up rounds (each worker compiles its templates, opens its connections) until every client
# has placed an order in a round, at most WARMUP_ROUNDS of them.
WARMUP_SECONDS = 5.0
WARMUP_ROUNDS = 3
# The whole part, Oscar's install and both databases' setup included; the runs are shortened
# (not below MIN_SECONDS) to end within it.
BUDGET_SECONDS = float(os.environ.get("BENCH_PEER_BUDGET", "300"))
PAIRS = int(os.environ.get("BENCH_PEER_PAIRS", "3"))
PRODUCTS = 20
# The same gunicorn for both: gthread workers, so the clients' keep-alive connections stay
# open, and enough threads for every client.
WORKERS = 2 * (os.cpu_count() or 1) + 1
THREADS = 2
WORKER_CLASS = "gthread"
STOCK = 1_000_000
SLOT_CAPACITY = 32_767  # the column's maximum: no slot fills during the run


# --- the two flows -------------------------------------------------------------------------


def _is_post(action: str):
    return lambda form: form.method == "post" and form.action.rstrip("/").endswith(action)


def _posts_field(name: str):
    return lambda form: form.method == "post" and any(k == name for k, _ in form.fields)


def oscar_flow(products: list[str]):
    def flow(browser: Browser, n: int) -> None:
        page = browser.get(random.choice(products))
        add = find_form(page.text, lambda f: f.attrs.get("id") == "add_to_basket_form", "basket")
        browser.submit(page, add, quantity="1")
        page = browser.get("/checkout/")
        gateway = find_form(page.text, _posts_field("username"), "checkout gateway")
        page = browser.submit(
            page, gateway, username=f"shopper{n}@bench.example", options="anonymous"
        )
        if not page.path.startswith("/checkout/shipping-address/"):
            raise FlowError(f"gateway went to {page.path}")
        address = find_form(page.text, _posts_field("line1"), "address")
        page = browser.submit(
            page,
            address,
            first_name="Ana",
            last_name=f"Shopper {n}",
            line1="Calle Mayor 1",
            line4="Madrid",
            postcode="28013",
            phone_number="",
        )
        if not page.path.startswith("/checkout/payment-details/"):
            raise FlowError(f"shipping address went to {page.path}")
        page = browser.get("/checkout/preview/")
        place = find_form(page.text, _posts_field("action"), "place order")
        page = browser.submit(page, place, action="place_order")
        if not page.path.startswith("/checkout/thank-you/"):
            raise FlowError(f"place order went to {page.path}")

    return flow


def omni_flow(products: list[str]):
    def flow(browser: Browser, n: int) -> None:
        page = browser.get(random.choice(products))
        add = find_form(page.text, _is_post("/cart/add"), "add to cart")
        page = browser.submit(page, add, quantity="1")
        page = browser.get("/checkout/")
        checkout = find_form(page.text, lambda f: f.attrs.get("id") == "checkout-form", "checkout")
        slots = checkout.radios.get("slot")
        if not slots:
            raise FlowError("no pickup time offered")
        page = browser.submit(
            page,
            checkout,
            slot=random.choice(slots),
            name=f"Ana Shopper {n}",
            email=f"shopper{n}@bench.example",
            phone="",
            payment="in_store",
        )
        if not page.path.startswith("/orders/"):
            raise FlowError(f"checkout went to {page.path}")

    return flow


# --- databases ------------------------------------------------------------------------------


def database_names(dsn: str) -> tuple[str, str]:
    """(Oscar's, Omnicollect's) databases of this part, named after the run's database."""
    name = db.name_of(dsn)
    oscar = name.replace("omni", "oscar", 1) if name.startswith("omni") else f"oscar_{name}"
    return oscar, f"{name}_peer"


def count_orders(conninfo: str, table: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


# --- Omnicollect's side ---------------------------------------------------------------------


def omni_reset(conninfo: str) -> list[str]:
    """Stock for every run at every store, and slots that never fill; returns product pages."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE stores_stocklevel SET on_hand = reserved + %s", [STOCK])
        conn.execute("UPDATE stores_store SET slot_capacity = %s", [SLOT_CAPACITY])
        rows = conn.execute(
            "SELECT p.slug FROM shop_product p WHERE p.is_active AND EXISTS "
            "(SELECT 1 FROM shop_variant v WHERE v.product_id = p.id AND v.is_active) "
            "ORDER BY p.id LIMIT %s",
            [PRODUCTS],
        ).fetchall()
    return [f"/p/{slug}/" for (slug,) in rows]


def oscar_reset(conninfo: str) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE partner_stockrecord SET num_in_stock = %s, num_allocated = 0", [STOCK])


# --- the part -------------------------------------------------------------------------------


def rows(ctx: Context) -> list[Row]:
    started = time.monotonic()
    processes.VAR.mkdir(parents=True, exist_ok=True)
    oscar_venv = processes.VAR / "oscar-venv"
    oscar_dir = processes.VAR / "oscar-project"
    redis_url = processes.redis_db(
        ctx.redis_url, processes.redis_number(ctx.redis_url) + PEER_REDIS_OFFSET
    )
    load_before = os.getloadavg()

    version = oscar_project.ensure_venv(oscar_venv, ctx.log)
    oscar_name, omni_name = database_names(ctx.dsn)
    oscar_db, omni_db = db.conninfo(oscar_name, ctx.dsn), db.conninfo(omni_name, ctx.dsn)
    db.ensure(oscar_db)
    # Made again every run, like the run's own database: migrated from nothing, whatever an
    # earlier run of other code left there.
    db.recreate(omni_name)
    oscar_project.write_project(
        oscar_dir,
        db=conninfo_to_dict(oscar_db),
        redis_url=redis_url,
        secret_key=processes.throwaway_key(),
        oscar_venv=oscar_venv,
    )
    oscar_env = oscar_project.environment(oscar_dir)
    omni_env = processes.app_env(
        dsn=omni_db, redis_url=redis_url, secret_key=processes.throwaway_key()
    )
    outputs = processes.run_all(
        {
            "oscar": (
                oscar_project.prepare_commands(oscar_venv, oscar_dir, products=PRODUCTS),
                oscar_env,
                oscar_dir,
            ),
            # The runner collected the static files: only migrate and seed here.
            "omnicollect": (
                processes.setup_commands(ctx.python, collect_static=False),
                omni_env,
                processes.ROOT,
            ),
        },
        ctx.log,
    )
    oscar_products = json.loads(outputs["oscar"].strip().splitlines()[-1])
    oscar_reset(oscar_db)
    omni_products = omni_reset(omni_db)
    if not omni_products:
        raise RuntimeError("no products in Omnicollect's bench database")

    oscar_port, omni_port = processes.free_port(), processes.free_port()
    logs = ctx.tmp / "peer-logs"
    logs.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[LoadResult]] = {"oscar": [], "omni": []}

    def measure(name: str, port: int, flow, seconds: float, record: bool = True) -> float:
        result = run_load("127.0.0.1", port, flow, clients=CLIENTS, seconds=seconds)
        if record:
            samples[name].append(result)
        ctx.log(
            f"{name}: {result.completed} orders in {seconds:.0f}s = {result.rate:.1f}/s, "
            f"{result.requests} requests, {result.errors} errors {result.first_error}"
        )
        return result.rate

    with ExitStack() as stack:
        server = {"workers": WORKERS, "threads": THREADS, "worker_class": WORKER_CLASS}
        oscar_python = str(oscar_project.venv_python(oscar_venv))
        stack.enter_context(
            processes.running(
                processes.gunicorn(
                    oscar_python,
                    oscar_env,
                    oscar_port,
                    logs / "oscar-gunicorn.log",
                    app=oscar_project.WSGI_APP,
                    cwd=oscar_dir,
                    **server,
                ),
                f"http://127.0.0.1:{oscar_port}{oscar_products[0]}",
            )
        )
        stack.enter_context(
            processes.running(
                processes.gunicorn(
                    ctx.python, omni_env, omni_port, logs / "omni-gunicorn.log", **server
                ),
                f"http://127.0.0.1:{omni_port}{omni_products[0]}",
            )
        )
        ctx.log(f"servers up after {time.monotonic() - started:.0f}s; warming up")
        oscar = oscar_flow(oscar_products)
        omni = omni_flow(omni_products)
        oscar_before, omni_before = (
            count_orders(oscar_db, "order_order"),
            count_orders(omni_db, "orders_order"),
        )
        for name, port, flow in (("oscar", oscar_port, oscar), ("omni", omni_port, omni)):
            for _ in range(WARMUP_ROUNDS):
                rate = measure(name, port, flow, WARMUP_SECONDS, record=False)
                if rate * WARMUP_SECONDS >= CLIENTS:
                    break
        left = min(BUDGET_SECONDS - (time.monotonic() - started), ctx.part_remaining()) - 10
        seconds = max(MIN_SECONDS, min(SECONDS, left / (2 * PAIRS)))
        oscar_rate, omni_rate = interleave(
            lambda: measure("oscar", oscar_port, oscar, seconds),
            lambda: measure("omni", omni_port, omni, seconds),
            pairs=PAIRS,
        )
        oscar_placed = count_orders(oscar_db, "order_order") - oscar_before
        omni_placed = count_orders(omni_db, "orders_order") - omni_before
    _drop_queued_messages(redis_url)

    def summary(name: str) -> str:
        runs = samples[name]
        rates = ", ".join(f"{r.rate:.1f}" for r in runs)
        per_order = sum(r.requests for r in runs) / max(1, sum(r.completed for r in runs))
        errors = sum(r.errors for r in runs)
        first = next((r.first_error for r in runs if r.first_error), "")
        return f"{rates} orders/s, {per_order:.1f} requests per order, {errors} errors" + (
            f" ({first})" if first else ""
        )

    load_after = os.getloadavg()
    note = (
        f"{CLIENTS} clients × {seconds:.0f}s, {PAIRS} interleaved pairs, medians; gunicorn "
        f"{WORKERS} {WORKER_CLASS} workers × {THREADS} threads each, DEBUG off. "
        f"Omnicollect runs: {summary('omni')}. django-oscar {version} runs: {summary('oscar')}. "
        f"Orders in the databases over the runs (warm-up included): Omnicollect {omni_placed}, "
        f"Oscar {oscar_placed}. Load {load_before[0]:.2f} → {load_after[0]:.2f} on "
        f"{os.cpu_count()} CPUs; part took {time.monotonic() - started:.0f}s."
    )
    return [
        Row(
            name=f"web checkout vs django-oscar ({CLIENTS} clients)",
            figure=omni_rate,
            baseline=oscar_rate,
            unit="orders/s",
            ratio=ratio(omni_rate, oscar_rate),
            target="report",
            met=None,
            note=note,
        )
    ]


def _drop_queued_messages(redis_url: str) -> None:
    """The orders' messages queued for Celery in this part's own Redis database: nobody sends
    them, so they go (the outbox rows stay in omni_bench_peer)."""
    try:
        import redis

        redis.Redis.from_url(redis_url).delete("celery")
    except Exception as error:  # noqa: BLE001 (best effort clean-up)
        print(f"peer: could not clear queued messages: {error}", file=sys.stderr)

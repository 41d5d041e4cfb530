"""Checkout under load: the API flow (cart filled through the API, untimed; then the timed
``POST /api/v1/checkout/``, one customer and token per cart, each client thread on its own
keep-alive connection) against (a) the bare Django view doing the conditional decrement and
the insert through the same gunicorn and client, and (b) pgbench running that as one SQL
statement. Hot SKU (one SKU, one store, one slot) at 1, 8 and 32 clients; spread over 1,000
SKUs and 3 stores at 8. Then oversold units, SQL statements per checkout and how long the hot
rows stay locked per order (in-process, see ``_in_process``)."""

from __future__ import annotations

import random
import re
import subprocess
import time
import traceback
import uuid
from contextlib import contextmanager

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import data, db
from bench.harness import Context, Http, Row, interleave_all, median, ratio, run_clients
from orders.models import OrderLine
from stores.models import StockLevel, Store

ROUNDS = 3
BASE_SECONDS = 2
# Orders per client and round, by number of clients (the API's rounds are counted, not timed).
PER_CLIENT = {1: 20, 8: 10, 32: 4}
SHORT_STOCK, SHORT_ATTEMPTS = 40, 64
IN_PROCESS_ORDERS = 15

PGBENCH_SCRIPT = """\\set s random(:lo, :hi)
WITH u AS (UPDATE bench_stock SET reserved = reserved + 1
           WHERE id = :s AND on_hand >= reserved + 1 RETURNING id)
INSERT INTO bench_order (stock_id, quantity, created_at) SELECT id, 1, now() FROM u;
"""


class Shop:
    """What the rounds draw on: customers with tokens, SKUs, stores and their slots."""

    def __init__(self, ctx: Context):
        data.roomy_slots()
        self.stores = list(Store.objects.order_by("code"))
        self.store = self.stores[0]
        # Bench-only SKUs: the hot one, the short one (oversold check), then the 1,000 spread.
        skus = data.bench_skus(1002)
        self.hot, self.short = skus[0], skus[1]
        data.set_stock(self.store, self.hot, 100_000_000)
        data.set_stock(self.store, self.short, SHORT_STOCK)
        self.spread = [v.sku for v in skus[2:]]
        self.slots = {s.code: data.a_slot(s).start.isoformat() for s in self.stores}
        self.customers = [token for _, token in data.make_customers(200, "buyer")]
        ctx.log(f"checkout: hot SKU {self.hot.sku} at {self.store.code}")


def _api(ctx, token):
    return Http(ctx.base_url, {"Authorization": f"Token {token}"})


def _fill(ctx, carts: list[tuple[str, str, str]], clients: int) -> None:
    """Each (token, sku, store) cart gets one unit of its SKU, ``clients`` at a time."""

    def job(part):
        def run():
            for token, sku, _store in part:
                client = _api(ctx, token)
                status, body = client.request(
                    "POST", "/api/v1/cart/lines/", {"sku": sku, "quantity": 1}
                )
                client.close()
                if status != 201:
                    raise RuntimeError(f"add to cart: {status} {body[:200]!r}")

        return run

    run_clients([job(carts[i::clients]) for i in range(clients)])


def _checkouts(ctx, shop: Shop, carts, clients: int) -> tuple[float, dict]:
    """Check out every cart, ``clients`` at a time; (placed orders per second, statuses)."""
    statuses: dict[int, int] = {}

    def job(part):
        def run():
            for token, _sku, store in part:
                client = _api(ctx, token)
                status, _ = client.request(
                    "POST",
                    "/api/v1/checkout/",
                    {"store": store, "slot_start": shop.slots[store], "payment": "in_store"},
                    {"Idempotency-Key": str(uuid.uuid4())},
                )
                client.close()
                statuses[status] = statuses.get(status, 0) + 1

        return run

    elapsed = run_clients([job(carts[i::clients]) for i in range(clients)])
    return statuses.get(201, 0) / elapsed, statuses


def _api_round(ctx, shop: Shop, clients: int, spread: bool, log: list):
    def run():
        n = clients * PER_CLIENT.get(clients, 10)
        rng = random.Random()
        carts = []
        for token in shop.customers[:n]:
            if spread:
                carts.append((token, rng.choice(shop.spread), rng.choice(shop.stores).code))
            else:
                carts.append((token, shop.hot.sku, shop.store.code))
        _fill(ctx, carts, clients)
        rate, statuses = _checkouts(ctx, shop, carts, clients)
        log.append(statuses)
        return rate

    return run


def _bare_round(ctx, clients: int, spread: bool):
    def run():
        deadline = time.perf_counter() + BASE_SECONDS
        counts = []

        def job():
            rng = random.Random()
            client = Http(ctx.base_url)
            done = 0
            while time.perf_counter() < deadline:
                stock = rng.randint(db.SPREAD_FIRST, db.SPREAD_FIRST + 2999) if spread else db.HOT
                status, body = client.request("POST", "/_bench/checkout/", {"stock": stock})
                if status != 201:
                    raise RuntimeError(f"bare checkout: {status} {body[:200]!r}")
                done += 1
            client.close()
            counts.append(done)

        elapsed = run_clients([job] * clients)
        return sum(counts) / elapsed

    return run


def _pgbench_round(ctx, clients: int, spread: bool):
    script = ctx.tmp / "checkout.pgbench"
    script.write_text(PGBENCH_SCRIPT)
    lo, hi = (db.SPREAD_FIRST, db.SPREAD_FIRST + 2999) if spread else (db.HOT, db.HOT)

    def run():
        out = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-f", str(script), "-c", str(clients),
             "-j", str(min(clients, 2)), "-T", str(BASE_SECONDS), "-D", f"lo={lo}",
             "-D", f"hi={hi}", "-h", "127.0.0.1", "-U", "postgres",
             ctx.dsn.rsplit("dbname=", 1)[1]],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
        if not m:
            raise RuntimeError(f"pgbench said:\n{out.stdout}\n{out.stderr}")
        return float(m.group(1))

    return run


def _statuses(log: list[dict]) -> str:
    total: dict[int, int] = {}
    for statuses in log:
        for k, v in statuses.items():
            total[k] = total.get(k, 0) + v
    return ", ".join(f"{n}x{k}" for k, n in sorted(total.items()))


def _load_rows(ctx, shop: Shop, clients: int, spread: bool) -> list[Row]:
    log: list[dict] = []
    app, bare, pg = interleave_all(
        [
            _api_round(ctx, shop, clients, spread, log),
            _bare_round(ctx, clients, spread),
            _pgbench_round(ctx, clients, spread),
        ],
        rounds=ROUNDS,
    )
    a, b, p = median(app), median(bare), median(pg)
    what = "spread (1,000 SKUs x 3 stores)" if spread else "hot SKU"
    runs = (
        f"runs API {[round(x, 1) for x in app]}, bare view {[round(x) for x in bare]}, "
        f"pgbench {[round(x) for x in pg]} orders/s; API answers {_statuses(log)}"
    )
    at8 = clients == 8
    return [
        Row(
            f"checkout {what}, {clients} clients vs bare view",
            a, b, "orders/s", ratio(a, b),
            "≥0.3x" if at8 else "-",
            (ratio(a, b) or 0) >= 0.3 if at8 else None,
            f"API cart filled untimed, then POST /api/v1/checkout/ timed; {runs}",
        ),
        Row(
            f"checkout {what}, {clients} clients vs PostgreSQL",
            a, p, "orders/s", ratio(a, p),
            "≥0.1x" if at8 else "-",
            (ratio(a, p) or 0) >= 0.1 if at8 else None,
            "pgbench -M prepared, one statement: conditional UPDATE ... RETURNING + INSERT "
            f"(CTE) on bench_stock/bench_order, {BASE_SECONDS} s per run",
        ),
    ]  # fmt: skip


def _oversold_rows(ctx, shop: Shop) -> Row:
    carts = [(token, shop.short.sku, shop.store.code) for token in shop.customers[:SHORT_ATTEMPTS]]
    _fill(ctx, carts, 32)
    _rate, statuses = _checkouts(ctx, shop, carts, 32)
    level = StockLevel.objects.get(store=shop.store, variant=shop.short)
    ordered = sum(
        OrderLine.objects.filter(
            variant=shop.short, order__store=shop.store, order__status="placed"
        ).values_list("quantity", flat=True)
    )
    api_over = max(0, ordered - level.on_hand)

    db.execute(ctx.dsn, "UPDATE bench_stock SET on_hand = %s, reserved = 0 WHERE id = %s",
               [SHORT_STOCK, db.SHORT])  # fmt: skip
    answers: list[int] = []

    def job():
        client = Http(ctx.base_url)
        for _ in range(SHORT_ATTEMPTS // 32):
            answers.append(client.request("POST", "/_bench/checkout/", {"stock": db.SHORT})[0])
        client.close()

    run_clients([job] * 32)
    bare_orders = db.scalar(ctx.dsn, "SELECT count(*) FROM bench_order WHERE stock_id = %s",
                            [db.SHORT])  # fmt: skip
    bare_over = max(0, bare_orders - SHORT_STOCK)
    return Row(
        "oversold units",
        api_over,
        bare_over,
        "units",
        None,
        "0",
        api_over == 0 and level.reserved == ordered,
        f"{SHORT_ATTEMPTS} one-unit checkouts by 32 clients for {SHORT_STOCK} units of "
        f"{shop.short.sku}: API answered {_statuses([statuses])}; "
        f"{ordered} units on placed orders, stock reserved {level.reserved} of {level.on_hand}; "
        f"bare view: {bare_orders} orders for {SHORT_STOCK} units",
    )


class HotRowClock:
    """From the start of the first conditional UPDATE of a stock or slot row (the app's) or
    of bench_stock (the bare view's) to the end of that transaction's COMMIT."""

    HOT = ('"stores_stocklevel"', '"stores_slotbooking"', "bench_stock")

    def __init__(self):
        self.t0: float | None = None
        self.spans: list[float] = []

    def __call__(self, execute, sql, params, many, context):
        if (
            self.t0 is None
            and sql.lstrip().upper().startswith("UPDATE")
            and any(t in sql for t in self.HOT)
        ):
            self.t0 = time.perf_counter()
        return execute(sql, params, many, context)

    @contextmanager
    def installed(self):
        commit, rollback = connection._commit, connection._rollback

        def timed_commit():
            commit()
            if self.t0 is not None:
                self.spans.append((time.perf_counter() - self.t0) * 1000)
                self.t0 = None

        def timed_rollback():
            rollback()
            self.t0 = None

        connection._commit, connection._rollback = timed_commit, timed_rollback
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            del connection._commit, connection._rollback


def _in_process(ctx, shop: Shop) -> list[Row]:
    """One checkout at a time in this process (Django set up with bench.settings against the
    bench database, the test client; nothing else running): the SQL statements of the checkout
    request (CaptureQueriesContext) and the hot-row span per order (HotRowClock)."""
    customers = data.make_customers(IN_PROCESS_ORDERS, "inproc")
    app_counts, bare_counts = [], []
    app_clock, bare_clock = HotRowClock(), HotRowClock()
    body = {
        "store": shop.store.code,
        "slot_start": shop.slots[shop.store.code],
        "payment": "in_store",
    }
    for _customer, token in customers:
        client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
        added = client.post(
            "/api/v1/cart/lines/", {"sku": shop.hot.sku, "quantity": 1}, "application/json"
        )
        if added.status_code != 201:
            raise RuntimeError(f"add to cart in process: {added.status_code}")
        with CaptureQueriesContext(connection) as queries, app_clock.installed():
            placed = client.post(
                "/api/v1/checkout/",
                body,
                "application/json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
        if placed.status_code != 201:
            raise RuntimeError(f"checkout in process: {placed.status_code} {placed.content[:300]}")
        app_counts.append(len(queries))
        bare = Client(HTTP_HOST="127.0.0.1")
        with CaptureQueriesContext(connection) as queries, bare_clock.installed():
            done = bare.post("/_bench/checkout/", {"stock": db.HOT}, "application/json")
        if done.status_code != 201:
            raise RuntimeError(f"bare checkout in process: {done.status_code}")
        bare_counts.append(len(queries))
    sql, sql_bare = median(app_counts), median(bare_counts)
    lock, lock_bare = median(app_clock.spans), median(bare_clock.spans)
    return [
        Row(
            "SQL statements per checkout",
            sql, sql_bare, "statements", ratio(sql, sql_bare), "≤12", sql <= 12,
            f"counted with django.test.utils.CaptureQueriesContext around one API checkout "
            f"request run in-process against the bench database (median of "
            f"{IN_PROCESS_ORDERS}: {sorted(app_counts)}); pg_stat_statements is not preloaded "
            f"on this server; baseline: the bare view the same way {sorted(bare_counts)}",
        ),
        Row(
            "hot rows locked per order",
            lock, lock_bare, "ms", ratio(lock, lock_bare), "≤1.5 ms", lock <= 1.5,
            "in-process, one checkout at a time (no waiting on other orders): from the start "
            "of the first conditional UPDATE of a stock or slot row to the end of COMMIT, "
            "timed by a connection.execute_wrapper and a wrapped commit; median of "
            f"{len(app_clock.spans)}: {[round(x, 2) for x in sorted(app_clock.spans)]} ms; "
            f"baseline: the bare view's UPDATE to COMMIT "
            f"{[round(x, 2) for x in sorted(bare_clock.spans)]} ms",
        ),
    ]  # fmt: skip


def rows(ctx: Context) -> list[Row]:
    shop = Shop(ctx)
    out: list[Row] = []
    for clients, spread in [(1, False), (8, False), (8, True), (32, False)]:
        if ctx.part_remaining() < 45:
            out.append(Row(f"checkout {clients} clients", None, None, "orders/s", None, "-",
                           None, "skipped: out of time"))  # fmt: skip
            continue
        ctx.log(f"checkout: {clients} clients, {'spread' if spread else 'hot SKU'}")
        out.extend(_guarded(f"checkout {clients} clients", _load_rows, ctx, shop, clients, spread))
    ctx.log("checkout: oversold")
    out.extend(_guarded("oversold units", lambda: [_oversold_rows(ctx, shop)]))
    ctx.log("checkout: SQL statements and hot-row time, in process")
    out.extend(_guarded("SQL statements and hot-row time", _in_process, ctx, shop))
    return out


def _guarded(name, measure, *args) -> list[Row]:
    """The rows, or one row saying they failed (the other rows still run)."""
    try:
        return measure(*args)
    except Exception as exc:
        traceback.print_exc()
        return [Row(name, None, None, "", None, "-", False, f"failed: {exc!r}")]

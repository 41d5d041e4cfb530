"""A million orders: ``generate`` writes a realistic order history with COPY, ``rows`` times the
pages that list orders against the one SQL query each page needs.

The history: the demo's stores, catalogue and logins (``seed_demo``), one customer per five
orders, two years of orders in every status (collected, cancelled, expired, and the newest
still open: 10,000 at MAD-01's counter), each with its lines, its events, its payments and,
once collected, its handover. The demo shopper has an order history of their own.
Foreign-key triggers are off while copying (``session_replication_role = replica``): the rows
are consistent by construction. The tables' non-unique indexes are dropped before the COPY and
built again after it (two at a time), which is cheaper than keeping them up to date row by row.

The history is written once and kept in ``omni_bench_big`` until the schema changes: it is
keyed by the latest migration of every app (and the generator's own version), so a run after a
new migration writes it again, and every other run reuses it.
"""

import os
import random
import statistics
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from bench import db, processes
from bench.harness import Context, Http, Row, interleave, ratio, wrk

ORDERS = 1_000_000
OPEN_AT_QUEUE_STORE = 10_000
OPEN_ELSEWHERE = 600
QUEUE_STORE = "MAD-01"
SHOPPER_ORDERS = 60
CUSTOMERS_PER_ORDER = 0.2
HISTORY_DAYS = 730

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # orders.models.CODE_ALPHABET
SPACE = len(ALPHABET) ** 8

FIRST = [
    "Lucía", "Javier", "Carmen", "Sofía", "Martín", "Paula", "Hugo", "Álvaro", "Elena", "Daniel",
    "Marta", "Pablo", "Laura", "Alejandro", "Irene", "Sergio", "Nuria", "Andrés", "Inés", "Raúl",
    "José", "María", "Ana", "Jorge", "Beatriz", "Iván", "Noelia", "Óscar", "Rocío", "Tomás",
]  # fmt: skip
LAST = [
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
    "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
    "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
    "Gil", "Ramírez", "Serrano", "Blanco", "Molina", "Castro", "Ortiz", "Rubio", "Núñez",
]  # fmt: skip


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _code(value: int) -> str:
    chars = []
    for _ in range(8):
        value, digit = divmod(value, 31)
        chars.append(ALPHABET[digit])
    return "".join(chars)


def order_number(i: int) -> str:
    """A distinct, random-looking "CC-XXXXXXXX" for each index (a bijection on 31⁸)."""
    return "CC-" + _code((i * 387_420_489 + 12_345_678_901) % SPACE)


def pickup_code(i: int) -> str:
    return _code((i * 282_475_249 + 98_765_432_101) % SPACE)


def _ts(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class Catalogue:
    stores: dict[str, int]
    variants: list[tuple[int, str, str, Decimal]]  # id, sku, name, price
    clerk_id: int
    shopper_id: int  # the demo shopper's customer id
    shopper_name: str
    shopper_email: str
    next_customer_id: int


def _catalogue(conn) -> Catalogue:
    stores = dict(conn.execute("SELECT code, id FROM stores_store ORDER BY id").fetchall())
    variants = conn.execute(
        """SELECT v.id, v.sku, p.name || CASE WHEN v.title <> '' THEN ' · ' || v.title ELSE '' END,
                  v.price
           FROM shop_variant v JOIN shop_product p ON p.id = v.product_id ORDER BY v.id"""
    ).fetchall()
    clerk_id = conn.execute("SELECT id FROM customers_user WHERE email = 'clerk@example.com'")
    shopper = conn.execute(
        "SELECT id, name, email FROM customers_customer WHERE email = 'shopper@example.com'"
    ).fetchone()
    next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM customers_customer").fetchone()
    return Catalogue(
        stores=stores,
        variants=variants,
        clerk_id=clerk_id.fetchone()[0],
        shopper_id=shopper[0],
        shopper_name=shopper[1],
        shopper_email=shopper[2],
        next_customer_id=next_id[0],
    )


class _Copy:
    """Rows for one table, written in blocks of text to a COPY on a connection of its own (one
    COPY at a time per connection; the tables' backends work side by side)."""

    def __init__(self, dsn: str, table: str, columns: str) -> None:
        self.conn = psycopg.connect(dsn)
        self.conn.execute("SET session_replication_role = replica")
        self.conn.execute("SET synchronous_commit = off")
        self.manager = self.conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN")
        self.copy = self.manager.__enter__()
        self.buffer: list[str] = []
        self.count = 0

    def add(self, line: str) -> None:
        self.buffer.append(line)
        if len(self.buffer) >= 20_000:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.copy.write("\n".join(self.buffer) + "\n")
            self.count += len(self.buffer)
            self.buffer = []

    def close(self) -> None:
        self.flush()
        self.manager.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()

    def abort(self) -> None:
        self.conn.close()


def _customers(dsn: str, cat: Catalogue, count: int, rng: random.Random, now: datetime):
    """``count`` customers; their (id, name, email, phone) in a list."""
    people = []
    out = _Copy(
        dsn,
        "customers_customer",
        "id, email, name, phone, language, preferred_channels, marketing_opt_in,"
        " email_verified_at, created_at, timezone, search_name, reference",
    )
    start = now - timedelta(days=HISTORY_DAYS + 30)
    try:
        _write_customers(out, cat, count, rng, start, people)
    except BaseException:
        out.abort()
        raise
    out.close()
    return people


def _write_customers(out, cat, count, rng, start, people) -> None:
    for n in range(count):
        cid = cat.next_customer_id + n
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        email = f"{_fold(first)}.{_fold(last)}.{n}@example.com".replace(" ", "")
        phone = f"+346{rng.randrange(10**8):08d}"
        verified = _ts(start + timedelta(days=rng.random() * HISTORY_DAYS))
        channels = '["email"]' if rng.random() < 0.7 else '["sms", "email"]'
        out.add(
            f"{cid}\t{email}\t{name}\t{phone}\t{'es' if rng.random() < 0.8 else 'en'}\t"
            f"{channels}\t{'t' if rng.random() < 0.3 else 'f'}\t{verified}\t{verified}\t\t"
            f"{_fold(name)}\tbench{cid:010d}{rng.getrandbits(48):012x}"
        )
        people.append((cid, name, email, phone))


COPIED_TABLES = [
    "customers_customer",
    "orders_order",
    "orders_orderline",
    "orders_orderevent",
    "orders_payment",
    "orders_handover",
]


ORDER_COLUMNS = (
    "id, number, guest_checkout, channel, status, payment_method, payment_status, currency,"
    " total, slot_start, slot_end, hold_until, contact_name, contact_email, contact_phone,"
    " pickup_person, pickup_token, pickup_code, code_failures, cancel_reason, created_at,"
    " updated_at, customer_id, store_id, arrived_at, request_fingerprint, language"
)


def _history(dsn: str, cat: Catalogue, people, orders: int, rng: random.Random, now: datetime):
    """The orders and everything hanging off them."""
    order_out = _Copy(dsn, "orders_order", ORDER_COLUMNS)
    line_out = _Copy(
        dsn,
        "orders_orderline",
        "order_id, variant_id, sku, name, unit_price, quantity, collected_quantity,"
        " refunded_quantity",
    )
    event_out = _Copy(
        dsn,
        "orders_orderevent",
        "order_id, from_status, to_status, actor, channel, note, created_at, user_id",
    )
    payment_out = _Copy(
        dsn,
        "orders_payment",
        "order_id, provider, method, reference, provider_reference, pending_operation, note,"
        " currency, amount_authorised, amount_captured, amount_refunded, status, created_at,"
        " captured_at",
    )
    handover_out = _Copy(
        dsn,
        "orders_handover",
        "order_id, collector, collector_name, verified_by, clerk_id, device, collected_at",
    )
    outs = [order_out, line_out, event_out, payment_out, handover_out]
    try:
        _write_history(outs, cat, people, orders, rng, now)
    except BaseException:
        for out in outs:
            out.abort()
        raise
    counts = {}
    for name, out in zip(["orders", "lines", "events", "payments", "handovers"], outs, strict=True):
        out.close()
        counts[name] = out.count
    return counts


def _write_history(outs, cat: Catalogue, people, orders: int, rng, now: datetime) -> None:
    order_out, line_out, event_out, payment_out, handover_out = outs
    queue_store = cat.stores[QUEUE_STORE]
    other_stores = [sid for code, sid in cat.stores.items() if code != QUEUE_STORE]
    store_pick = [queue_store] * 45 + [other_stores[0]] * 35 + [other_stores[-1]] * 20
    open_from = orders - OPEN_AT_QUEUE_STORE - OPEN_ELSEWHERE
    shopper_every = max(1, open_from // (SHOPPER_ORDERS - 2))
    start = now - timedelta(days=HISTORY_DAYS)
    step = (now - timedelta(hours=1) - start) / orders
    variants = cat.variants
    clerk = cat.clerk_id
    for i in range(orders):
        oid = i + 1
        created = start + step * i
        is_open = i >= open_from
        shopper = (i % shopper_every == 7 and not is_open) or i in (orders - 5, orders - 900)
        if shopper:
            customer_id, name, email, phone = (
                cat.shopper_id,
                cat.shopper_name,
                cat.shopper_email,
                "+34612345678",
            )
        else:
            customer_id, name, email, phone = people[rng.randrange(len(people))]
        if is_open:
            store = queue_store if i < open_from + OPEN_AT_QUEUE_STORE else rng.choice(other_stores)
            draw = rng.random()
            status = "placed" if draw < 0.5 else "preparing" if draw < 0.75 else "ready"
            slot_start = now.replace(minute=0, second=0, microsecond=0) + timedelta(
                minutes=30 * rng.randrange(-6, 8 * 24)
            )
            created = min(created, slot_start - timedelta(hours=1))
        else:
            store = rng.choice(store_pick)
            draw = rng.random()
            status = "collected" if draw < 0.88 else "cancelled" if draw < 0.95 else "expired"
            slot_start = (created + timedelta(hours=2 + rng.random() * 70)).replace(
                minute=0, second=0, microsecond=0
            )
        slot_end = slot_start + timedelta(minutes=30)
        channel_draw = rng.random()
        channel = "web" if channel_draw < 0.5 else "mobile" if channel_draw < 0.85 else "store"
        online = channel != "store" and rng.random() < 0.4
        # Lines.
        picks = rng.sample(range(len(variants)), 1 + (rng.random() < 0.45) + (rng.random() < 0.15))
        total = Decimal(0)
        for pick in picks:
            vid, sku, vname, price = variants[pick]
            quantity = 1 + (rng.random() < 0.25) + (rng.random() < 0.1)
            total += price * quantity
            collected = str(quantity) if status == "collected" else "\\N"
            line_out.add(f"{oid}\t{vid}\t{sku}\t{vname}\t{price}\t{quantity}\t{collected}\t0")
        # Events: the path to the status.
        path = {
            "placed": ["placed"],
            "preparing": ["placed", "preparing"],
            "ready": ["placed", "preparing", "ready"],
            "collected": ["placed", "preparing", "ready", "collected"],
            "cancelled": ["placed", "cancelled"],
            "expired": ["placed", "preparing", "ready", "expired"],
        }[status]
        moment = created
        ready_at = None
        previous = ""
        for to in path:
            if to == "placed":
                actor, user = "customer", "\\N"
            elif to == "expired":
                actor, user = "system", "\\N"
                moment = max(moment, slot_start) + timedelta(hours=48)
            elif to == "cancelled":
                actor, user = ("customer", "\\N") if rng.random() < 0.6 else ("staff", clerk)
            elif to == "collected":
                actor, user = "staff", clerk
                moment = max(moment, slot_start) + timedelta(minutes=rng.randrange(0, 90))
            else:
                actor, user = "staff", clerk
            if to == "ready":
                ready_at = moment
            event_channel = channel if actor == "customer" else "store"
            event_out.add(
                f"{oid}\t{previous}\t{to}\t{actor}\t{event_channel}\t\t{_ts(moment)}\t{user}"
            )
            previous = to
            moment += timedelta(minutes=rng.randrange(5, 240))
        hold_until = (
            _ts(max(ready_at, slot_start) + timedelta(hours=48)) if ready_at is not None else "\\N"
        )
        # Payments.
        if online:
            payment_status = {
                "collected": "paid",
                "cancelled": "voided",
                "expired": "voided",
            }.get(status, "authorised")
            captured = total if status == "collected" else 0
            captured_at = _ts(moment) if status == "collected" else "\\N"
            payment_out.add(
                f"{oid}\tstripe\tcard\t\tpi_bench{oid:09d}\t\t\tEUR\t{total}\t{captured}\t0\t"
                f"{payment_status}\t{_ts(created)}\t{captured_at}"
            )
        elif status == "collected":
            payment_status = "paid"
            method = "cash" if rng.random() < 0.3 else "card"
            payment_out.add(
                f"{oid}\tin_store\t{method}\t\t\t\t\tEUR\t{total}\t{total}\t0\tpaid\t"
                f"{_ts(moment)}\t{_ts(moment)}"
            )
        else:
            payment_status = "unpaid"
        if status == "collected":
            handover_out.add(
                f"{oid}\tcustomer\t{name}\t{'qr' if rng.random() < 0.8 else 'code'}\t{clerk}\t"
                f"tablet\t{_ts(moment)}"
            )
        arrived = (
            _ts(slot_start - timedelta(minutes=5))
            if is_open and status == "ready" and rng.random() < 0.05
            else "\\N"
        )
        cancel_reason = "Customer asked" if status == "cancelled" else ""
        order_out.add(
            f"{oid}\t{order_number(i)}\tf\t{channel}\t{status}\t"
            f"{'online' if online else 'in_store'}\t{payment_status}\tEUR\t{total}\t"
            f"{_ts(slot_start)}\t{_ts(slot_end)}\t{hold_until}\t{name}\t{email}\t{phone}\t\t"
            f"{oid:010x}{rng.getrandbits(160):040x}\t{pickup_code(i)}\t0\t{cancel_reason}\t"
            f"{_ts(created)}\t{_ts(moment)}\t{customer_id}\t{store}\t{arrived}\t\tes"
        )


def generate(dsn: str, *, orders: int = ORDERS, seed: int = 0, log=print) -> dict:
    """Write ``orders`` orders (and their customers, lines, events, payments, handovers) into
    the migrated, demo-seeded database ``dsn``; what was written, and how long it took."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    with psycopg.connect(dsn) as conn:
        cat = _catalogue(conn)
    indexes = _drop_indexes(dsn)
    people = _customers(dsn, cat, max(1000, int(orders * CUSTOMERS_PER_ORDER)), rng, now)
    log(f"bigdata: {len(people):,} customers in {time.monotonic() - started:.1f} s")
    counts = _history(dsn, cat, people, orders, rng, now)
    with psycopg.connect(dsn) as conn:
        counts["customers"] = len(people)
        for table in COPIED_TABLES:
            last = f"SELECT coalesce(max(id), 1) FROM {table}"  # noqa: S608 - our tables
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ({last}))")
        conn.commit()
        copied = time.monotonic() - started
        log(f"bigdata: copied {counts} in {copied:.1f} s")
    _build_indexes(dsn, indexes)
    built = time.monotonic() - started - copied
    log(f"bigdata: {len(indexes)} indexes built again in {built:.1f} s")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    counts["copy_seconds"] = round(copied, 1)
    counts["index_seconds"] = round(built, 1)
    counts["seconds"] = round(time.monotonic() - started, 1)
    log(f"bigdata: vacuumed and analysed; {counts['seconds']} s in all")
    return counts


def _drop_indexes(dsn: str) -> list[str]:
    """Drop the copied tables' non-unique indexes (none backs a constraint); their
    definitions, to build them again after the COPY."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique
                 AND NOT i.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
               ORDER BY pg_relation_size(i.indrelid) DESC""",
            [COPIED_TABLES],
        ).fetchall()
        for name, _definition in found:
            conn.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in found]


def _build_indexes(dsn: str, definitions: list[str], parallel: int = 2) -> None:
    """CREATE INDEX for each definition, ``parallel`` at a time (one per core)."""
    pending = list(definitions)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '256MB'")
                conn.execute("SET max_parallel_maintenance_workers = 0")
                while True:
                    with lock:
                        if not pending:
                            return
                        definition = pending.pop(0)
                    conn.execute(definition)
        except BaseException as exc:  # raised below, once the others are done
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# The generator's version: a change to what it writes bumps it (and writes the history again).
GENERATOR = 2


def history_key(orders: int = ORDERS, seed: int = 0) -> str:
    """What the written history depends on: its size and seed, the generator and the schema
    (the latest migration of every app, as the project's code has them)."""
    from django.db.migrations.loader import MigrationLoader

    leaves = sorted(f"{app}.{name}" for app, name in MigrationLoader(None).graph.leaf_nodes())
    return f"orders={orders} seed={seed} generator={GENERATOR} " + " ".join(leaves)


def generated(dsn: str, key: str) -> bool:
    """Whether ``dsn`` already holds the history of ``key``."""
    try:
        with psycopg.connect(dsn) as conn:
            found = conn.execute("SELECT key FROM _bench_bigdata").fetchone()
    except psycopg.Error:
        return False
    return bool(found and found[0] == key)


# --- The pages against their SQL ----------------------------------------------------------------

RUN_SECONDS = 1.5
PAIRS = 3
# The pages are measured within this many seconds (the history is written before).
MEASURE_BUDGET = 180

QUEUE_SQL = """
SELECT o.id, o.number, o.status, o.slot_start, o.slot_end, o.hold_until, o.arrived_at,
       o.contact_name, o.payment_method, o.total, o.currency,
       SUM(l.quantity) AS item_count, COUNT(l.id) AS line_count,
       EXISTS (SELECT 1 FROM orders_payment p
               WHERE p.order_id = o.id AND p.provider = 'stripe' AND p.refund_of_id IS NULL
                 AND p.status IN ('authorised', 'paid')) AS card_held
FROM orders_order o LEFT JOIN orders_orderline l ON l.order_id = o.id
WHERE o.store_id = %(store)s AND o.status IN ('placed', 'preparing', 'ready')
GROUP BY o.id
ORDER BY o.arrived_at ASC NULLS LAST, o.slot_start, o.created_at
"""

ACCOUNT_SQL = """
SELECT o.id, o.number, o.status, o.slot_start, o.total, o.currency, o.created_at,
       s.name, s.timezone, SUM(l.quantity) AS item_count
FROM orders_order o JOIN stores_store s ON s.id = o.store_id
     LEFT JOIN orders_orderline l ON l.order_id = o.id
WHERE o.customer_id = %(customer)s
GROUP BY o.id, s.id
ORDER BY o.created_at DESC, o.id DESC
LIMIT 50
"""

API_ORDERS_SQL = """
SELECT o.number, o.status, s.code, o.channel, o.slot_start, o.slot_end, o.payment_method,
       o.payment_status, o.total, o.currency, o.pickup_code, o.hold_until,
       count(*) OVER () AS total_count,
       (SELECT json_agg(json_build_object('sku', l.sku, 'name', l.name, 'quantity', l.quantity,
                 'collected_quantity', l.collected_quantity, 'unit_price', l.unit_price)
                 ORDER BY l.id)
        FROM orders_orderline l WHERE l.order_id = o.id) AS lines,
       (SELECT json_agg(json_build_object('from', e.from_status, 'to', e.to_status,
                 'at', e.created_at) ORDER BY e.created_at, e.id)
        FROM orders_orderevent e WHERE e.order_id = o.id) AS events,
       (SELECT json_agg(json_build_object('provider', p.provider, 'status', p.status,
                 'amount', p.amount_captured) ORDER BY p.created_at, p.id)
        FROM orders_payment p WHERE p.order_id = o.id) AS payments
FROM orders_order o JOIN stores_store s ON s.id = o.store_id
WHERE o.customer_id = %(customer)s
ORDER BY o.created_at DESC, o.id DESC
LIMIT 20
"""

ADMIN_COLUMNS = """
SELECT o.id, o.number, o.status, s.name, s.code, s.timezone, o.channel, o.payment_method,
       o.payment_status, o.total, o.currency, o.slot_start, o.created_at
FROM orders_order o JOIN stores_store s ON s.id = o.store_id
"""
ADMIN_ORDER = "ORDER BY o.created_at DESC, o.id DESC LIMIT 100"
ADMIN_LIST_SQL = ADMIN_COLUMNS + ADMIN_ORDER
ADMIN_EMAIL_SQL = ADMIN_COLUMNS + "WHERE o.contact_email ILIKE %(like)s " + ADMIN_ORDER
ADMIN_NUMBER_SQL = ADMIN_COLUMNS + "WHERE o.number = %(number)s " + ADMIN_ORDER


@dataclass
class Page:
    name: str
    path: str
    login: str  # whose session or token
    auth: str  # "session" | "token"
    sql: str
    params: dict
    target_ms: float | None = None
    htmx: bool = False


def _sql_run(conn, sql: str, params: dict, seconds: float) -> float:
    """The median time of the query (executed and fetched) over ``seconds``, in ms."""
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or not times:
        started = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def ensure_history(ctx: Context, env: dict, *, orders: int = ORDERS, seed: int = 0) -> dict | None:
    """Write the history unless the one there has the same key; what was written (None:
    reused). ``env``: the app's environment on the database."""
    key = history_key(orders, seed)
    if generated(ctx.big_dsn, key):
        ctx.log("bigdata: reusing the history already written (same schema)")
        return None
    started = time.monotonic()
    db.recreate(db.name_of(ctx.big_dsn))
    processes.setup_app(ctx.python, env, ctx.log)
    ctx.log(f"bigdata: database migrated and seeded in {time.monotonic() - started:.1f} s")
    written = generate(ctx.big_dsn, orders=orders, seed=seed, log=ctx.log)
    written["setup_seconds"] = round(time.monotonic() - started - written["seconds"], 1)
    with psycopg.connect(ctx.big_dsn) as conn:
        conn.execute("CREATE TABLE _bench_bigdata (key text, generated_at timestamptz)")
        conn.execute("INSERT INTO _bench_bigdata VALUES (%s, now())", [key])
    return written


def _pages(conn) -> list[Page]:
    store = conn.execute("SELECT id FROM stores_store WHERE code = %s", [QUEUE_STORE]).fetchone()
    shopper = conn.execute(
        "SELECT id FROM customers_customer WHERE email = 'shopper@example.com'"
    ).fetchone()
    # A customer's address as a manager would type part of it, and an order number.
    number, email = conn.execute(
        "SELECT number, contact_email FROM orders_order"
        " WHERE id = (SELECT max(id) / 2 FROM orders_order)"
    ).fetchone()
    fragment = email.split("@")[0].split(".", 1)[1]
    return [
        Page("shopper: API order list", "/api/v1/orders/", "shopper", "token",
             API_ORDERS_SQL, {"customer": shopper[0]}),
        Page("shopper: /account/ (orders)", "/account/", "shopper", "session",
             ACCOUNT_SQL, {"customer": shopper[0]}),
        Page(f"tablet queue, {OPEN_AT_QUEUE_STORE:,} open", f"/store/{QUEUE_STORE}/", "clerk",
             "session", QUEUE_SQL, {"store": store[0]}, target_ms=50),
        Page("tablet queue poll (htmx)", f"/store/{QUEUE_STORE}/", "clerk", "session",
             QUEUE_SQL, {"store": store[0]}, target_ms=50, htmx=True),
        Page("admin order list", "/admin/orders/order/", "manager", "session",
             ADMIN_LIST_SQL, {}, target_ms=100),
        Page("admin search: email fragment", f"/admin/orders/order/?q={fragment}", "manager",
             "session", ADMIN_EMAIL_SQL, {"like": f"%{fragment}%"}, target_ms=100),
        Page("admin search: order number", f"/admin/orders/order/?q={number}", "manager",
             "session", ADMIN_NUMBER_SQL, {"number": number}, target_ms=100),
    ]  # fmt: skip


def _headers(page: Page, credentials: dict) -> dict[str, str]:
    login = credentials[f"{page.login}@example.com"]
    headers = {}
    if page.auth == "token":
        headers["Authorization"] = f"Token {login['token']}"
    else:
        headers["Cookie"] = f"sessionid={login['session']}"
    if page.htmx:
        headers["HX-Request"] = "true"
    return headers


def rows(ctx: Context) -> list[Row]:
    started = time.monotonic()
    env = processes.app_env(
        dsn=ctx.big_dsn, redis_url=ctx.redis_url, secret_key=processes.throwaway_key()
    )
    written = ensure_history(ctx, env)
    note_data = (
        f"history written in {written['seconds']} s ({written['copy_seconds']} s of COPY, "
        f"{written['index_seconds']} s rebuilding indexes) after {written['setup_seconds']} s "
        "of migrate and seed"
        if written
        else "history reused (written by an earlier run on the same schema)"
    )
    port = processes.free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = processes.gunicorn(
        ctx.python, env, port, ctx.tmp / "gunicorn-big.log",
        worker_class="sync", workers=os.cpu_count() or 2,
    )  # fmt: skip
    with processes.running(server, f"{base_url}/_bench/json/"):
        credentials = processes.logins(
            ctx.python, env, ["shopper@example.com", "clerk@example.com", "manager@example.com"]
        )
        with psycopg.connect(ctx.big_dsn, autocommit=True) as conn:
            found = []
            deadline = time.monotonic() + MEASURE_BUDGET
            for page in _pages(conn):
                if time.monotonic() > min(deadline, ctx.part_deadline or deadline):
                    late = "not measured: past this part's budget"
                    found.append(
                        Row(page.name + " @1M", None, None, "ms", None, _target(page), None, late)
                    )
                    continue
                found.append(_measure(ctx, conn, base_url, page, credentials, note_data))
    ctx.log(f"bigdata: rows measured; {time.monotonic() - started:.0f} s for this part")
    return found


def _measure(ctx: Context, conn, base_url: str, page: Page, credentials, note_data: str) -> Row:
    url = base_url + page.path
    headers = _headers(page, credentials)
    client = Http(base_url, headers)
    probe = time.perf_counter()
    status, body = client.request("GET", page.path)
    probe = time.perf_counter() - probe
    size = f"{len(body) / 1024:,.0f} KiB"
    if status != 200:
        client.close()
        return Row(page.name + " @1M", None, None, "ms", None, _target(page), False,
                   f"HTTP {status} for {page.path}")  # fmt: skip
    failures = []
    # wrk (one connection) for pages that answer within a fraction of the run; a page slower
    # than that is timed request by request with the same keep-alive client (wrk would finish
    # too few requests to have a median).
    slow = probe > RUN_SECONDS / 4

    def run_page() -> float:
        if slow:
            times = []
            deadline = time.monotonic() + RUN_SECONDS
            while not times or time.monotonic() < deadline:
                started = time.perf_counter()
                answer, _ = client.request("GET", page.path)
                times.append((time.perf_counter() - started) * 1000)
                if answer != 200:
                    failures.append(1)
            return statistics.median(times)
        result = wrk(url, headers=headers, seconds=RUN_SECONDS, connections=1)
        if result.errors or result.non_2xx:
            failures.append(result.errors + result.non_2xx)
        return result.latency_p50_ms

    def run_sql() -> float:
        return _sql_run(conn, page.sql, page.params, RUN_SECONDS)

    try:
        figure, baseline = interleave(run_page, run_sql, pairs=PAIRS)
    finally:
        client.close()
    met = figure <= page.target_ms if page.target_ms is not None else None
    ctx.log(f"bigdata: {page.name}: {figure:.1f} ms vs SQL {baseline:.1f} ms")
    how = "one keep-alive connection, one request at a time" if slow else "wrk -c1"
    note = f"p50, {PAIRS} interleaved pairs ({how}); response {size}; {note_data}"
    if failures:
        note += f"; {sum(failures)} failed requests"
    return Row(page.name + " @1M", round(figure, 2), round(baseline, 2), "ms",
               ratio(baseline, figure), _target(page), met, note)  # fmt: skip


def _target(page: Page) -> str:
    return f"≤ {page.target_ms:.0f} ms" if page.target_ms is not None else ""

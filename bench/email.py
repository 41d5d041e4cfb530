"""Ready → e-mail: orders marked ready through the staff API, timed until a local SMTP server
(aiosmtpd on loopback) has each one's "ready for pickup" message, paced (20 a second) and in a
burst (all at once).

The app runs as in production: gunicorn (bench.settings) takes the API calls, and a Celery
worker (prefork, consuming from Redis) sends the messages to the SMTP server. Each message
names its order in its ``X-Omnicollect-Message`` header. The clock starts when the API answered
(the order is ready and committed, its message queued) and stops when the SMTP server has the
whole message.

The baseline, in the same run against the same SMTP server: the bench itself handing a message
of the same size to the server with ``smtplib`` at the same pace (paced, or all at once from the
same number of threads): what delivery alone costs.

The orders (customers who read e-mail, orders being prepared at MAD-01) are written into the
bench database for each run. The broker is the next Redis database after the bench's, so no
other worker of the bench takes these messages.
"""

import email.parser
import logging
import os
import secrets
import smtplib
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import psycopg
from aiosmtpd.controller import Controller

from bench import processes
from bench.harness import Context, Http, Row, ratio

ORDERS_PER_RUN = 200
PACE_PER_SECOND = 20
PAIRS = 3
THREADS = 16
STORE = "MAD-01"
WAIT_SECONDS = 60.0
TARGET_P95_MS = 1000.0

logging.getLogger("mail.log").setLevel(logging.WARNING)

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


class Inbox:
    """What the SMTP server received: arrival time by key (order number, or a baseline id)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: dict[str, float] = {}
        self.parser = email.parser.BytesHeaderParser()

    async def handle_DATA(self, server, session, envelope):
        at = time.monotonic()
        headers = self.parser.parsebytes(envelope.content)
        key = headers.get("X-Omnicollect-Message") or headers.get("X-Bench-Key") or ""
        with self.lock:
            self.arrived[key.split(":", 1)[0]] = at
        return "250 Message accepted for delivery"

    def wait(self, keys: list[str], timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(key in self.arrived for key in keys):
                    break
            time.sleep(0.05)
        with self.lock:
            return {key: self.arrived[key] for key in keys if key in self.arrived}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _write_orders(dsn: str, count: int) -> list[str]:
    """``count`` orders being prepared at the store, each of its own customer who reads e-mail;
    their numbers."""
    now = datetime.now(UTC)
    run = secrets.token_hex(4)
    numbers = []
    with psycopg.connect(dsn) as conn:
        store = conn.execute("SELECT id FROM stores_store WHERE code = %s", [STORE]).fetchone()[0]
        variant = conn.execute("SELECT id, sku, price FROM shop_variant ORDER BY id LIMIT 1")
        variant_id, sku, price = variant.fetchone()
        slot = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
        with conn.cursor() as cur:
            for n in range(count):
                address = f"ready.{run}.{n}@example.com"
                customer = cur.execute(
                    """INSERT INTO customers_customer (email, name, phone, language,
                         preferred_channels, marketing_opt_in, email_verified_at, created_at,
                         timezone, search_name, reference)
                       VALUES (%s, 'Ana Ready', '', 'es', '["email"]', false, %s, %s, '',
                               'ana ready', %s) RETURNING id""",
                    [address, now, now, secrets.token_urlsafe(16)],
                ).fetchone()[0]
                number = f"CC-{_code()}"
                order = cur.execute(
                    """INSERT INTO orders_order (number, guest_checkout, channel, status,
                         payment_method, payment_status, currency, total, slot_start, slot_end,
                         contact_name, contact_email, contact_phone, pickup_person, pickup_token,
                         pickup_code, code_failures, cancel_reason, created_at, updated_at,
                         customer_id, store_id, request_fingerprint, language)
                       VALUES (%s, false, 'web', 'preparing', 'in_store', 'unpaid', 'EUR', %s,
                               %s, %s, 'Ana Ready', %s, '', '', %s, %s, 0, '', %s, %s, %s, %s,
                               '', 'es') RETURNING id""",
                    [
                        number,
                        price,
                        slot,
                        slot + timedelta(minutes=30),
                        address,
                        secrets.token_urlsafe(32),
                        _code(),
                        now,
                        now,
                        customer,
                        store,
                    ],
                ).fetchone()[0]
                cur.execute(
                    """INSERT INTO orders_orderline (order_id, variant_id, sku, name, unit_price,
                         quantity, refunded_quantity)
                       VALUES (%s, %s, %s, 'Bench item', %s, 1, 0)""",
                    [order, variant_id, sku, price],
                )
                cur.execute(
                    """INSERT INTO orders_orderevent (order_id, from_status, to_status, actor,
                         channel, note, created_at)
                       VALUES (%s, '', 'placed', 'customer', 'web', '', %s),
                              (%s, 'placed', 'preparing', 'staff', 'store', '', %s)""",
                    [order, now, order, now],
                )
                numbers.append(number)
        conn.commit()
    return numbers


class _Clients:
    """Keep-alive HTTP connections, one per thread."""

    def __init__(self, base_url: str, headers: dict) -> None:
        self.base_url, self.headers = base_url, headers
        self.local = threading.local()
        self.all: list[Http] = []

    def http(self) -> Http:
        if not hasattr(self.local, "http"):
            self.local.http = Http(self.base_url, self.headers, timeout=30)
            self.all.append(self.local.http)
        return self.local.http

    def close(self) -> None:
        for client in self.all:
            client.close()


def _fire(jobs, *, paced: bool) -> None:
    """Run ``jobs`` (callables) from a pool of threads: at PACE_PER_SECOND, or all at once."""
    with ThreadPoolExecutor(THREADS) as pool:
        started = time.monotonic()
        futures = []
        for k, job in enumerate(jobs):
            if paced:
                delay = started + k / PACE_PER_SECOND - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            futures.append(pool.submit(job))
        for future in futures:
            future.result()


def _app_run(*, inbox, numbers, paced, clients, failures) -> list[float]:
    ready_at: dict[str, float] = {}

    def mark(number: str):
        def job():
            status, _ = clients.http().request(
                "POST", f"/api/v1/store/{STORE}/orders/{number}/status/", {"status": "ready"}
            )
            if status != 200:
                failures.append(f"{number}: HTTP {status}")
                return
            ready_at[number] = time.monotonic()

        return job

    _fire([mark(number) for number in numbers], paced=paced)
    arrived = inbox.wait(list(ready_at), WAIT_SECONDS)
    missing = len(ready_at) - len(arrived)
    if missing:
        failures.append(f"{missing} messages did not arrive in {WAIT_SECONDS:.0f} s")
    return [(arrived[number] - ready_at[number]) * 1000 for number in arrived]


def _baseline_run(*, port, inbox, count, paced, size, failures) -> list[float]:
    """Messages of ``size`` bytes handed to the SMTP server by the bench itself."""
    run = secrets.token_hex(4)
    sent_at: dict[str, float] = {}

    def send(key: str):
        def job():
            message = EmailMessage()
            message["From"] = "bench@localhost"
            message["To"] = "ready@example.com"
            message["Subject"] = "Bench"
            message["X-Bench-Key"] = key
            message.set_content("x" * size)
            started = time.monotonic()
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                smtp.send_message(message)
            sent_at[key] = started

        return job

    keys = [f"base-{run}-{n}" for n in range(count)]
    _fire([send(key) for key in keys], paced=paced)
    arrived = inbox.wait(keys, WAIT_SECONDS)
    if len(arrived) < len(keys):
        failures.append(f"{len(keys) - len(arrived)} baseline messages lost")
    return [(arrived[key] - sent_at[key]) * 1000 for key in arrived]


def rows(ctx: Context) -> list[Row]:
    from bench import data

    started = time.monotonic()
    # The next Redis database after the run's: no other worker of the bench takes these tasks.
    broker = processes.redis_db(ctx.redis_url, processes.redis_number(ctx.redis_url) + 1)
    numbers = _write_orders(ctx.dsn, ORDERS_PER_RUN * 2 * PAIRS)
    ctx.log(f"email: {len(numbers)} orders being prepared written")

    inbox = Inbox()
    port = processes.free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = processes.app_env(
        dsn=ctx.dsn,
        redis_url=broker,
        secret_key=processes.throwaway_key(),
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
    )
    web_port = processes.free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    token = data.logins(["clerk@example.com"])["clerk@example.com"]["token"]
    clients = _Clients(base_url, {"Authorization": f"Token {token}"})
    with ExitStack() as stack:
        stack.callback(controller.stop)
        stack.callback(clients.close)
        stack.enter_context(
            processes.running(processes.celery_worker(ctx.python, env, ctx.tmp / "celery-mail.log"))
        )
        stack.enter_context(
            processes.running(
                processes.gunicorn(
                    ctx.python, env, web_port, ctx.tmp / "gunicorn-mail.log",
                    worker_class="sync", workers=os.cpu_count() or 2,
                ),
                f"{base_url}/_bench/json/",
            )
        )  # fmt: skip
        found = []
        batches = iter(
            numbers[i : i + ORDERS_PER_RUN] for i in range(0, len(numbers), ORDERS_PER_RUN)
        )
        for paced in (True, False):
            app_p50, app_p95, base_p50, base_p95 = [], [], [], []
            failures: list[str] = []
            for _ in range(PAIRS):
                app = _app_run(
                    inbox=inbox,
                    numbers=next(batches),
                    paced=paced,
                    clients=clients,
                    failures=failures,
                )
                base = _baseline_run(
                    port=port,
                    inbox=inbox,
                    count=ORDERS_PER_RUN,
                    paced=paced,
                    size=2000,
                    failures=failures,
                )
                for values, p50, p95 in [(app, app_p50, app_p95), (base, base_p50, base_p95)]:
                    if values:
                        p50.append(_percentile(values, 0.5))
                        p95.append(_percentile(values, 0.95))
            mode = f"paced {PACE_PER_SECOND}/s" if paced else f"burst of {ORDERS_PER_RUN}"
            note = (
                f"{ORDERS_PER_RUN} orders × {PAIRS} interleaved runs, median of the runs;"
                " baseline: smtplib straight to the same server"
            )
            if failures:
                note += "; " + "; ".join(sorted(set(failures))[:3])
            for label, figures, baselines in [
                ("p50", app_p50, base_p50),
                ("p95", app_p95, base_p95),
            ]:
                figure = statistics.median(figures) if figures else None
                baseline = statistics.median(baselines) if baselines else None
                target = f"< {TARGET_P95_MS:.0f} ms" if (label == "p95" and not paced) else ""
                met = (figure is not None and figure < TARGET_P95_MS) if target else None
                found.append(
                    Row(
                        f"ready → e-mail {label}, {mode}",
                        round(figure, 1) if figure is not None else None,
                        round(baseline, 1) if baseline is not None else None,
                        "ms",
                        ratio(baseline, figure),
                        target,
                        met,
                        note,
                    )
                )
                ctx.log(f"email: {label} {mode}: {figure} ms vs {baseline} ms")
    ctx.log(f"email: done in {time.monotonic() - started:.0f} s")
    return found

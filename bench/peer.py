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
Omnicollect, ``PAIRS`` times), medians reported. Run alone: ``.venv/bin/python -m bench.peer``.

Its own databases: ``oscar_bench`` and ``omni_bench_peer`` (created, migrated and loaded by the
part; stock and slot capacity reset every run) and Redis database ``BENCH_PEER_REDIS_DB`` (13).
Oscar's virtualenv and project are kept under ``var/bench/``. Knobs (environment):
``BENCH_PEER_CLIENTS`` (8), ``BENCH_PEER_SECONDS`` (15 per run), ``BENCH_PEER_PAIRS`` (3),
``BENCH_PEER_BUDGET`` (300 s for the whole part).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.browser import Browser, FlowError, LoadResult, find_form, run_load
from bench.harness import Context, Row, interleave, machine_load, print_table, ratio
from bench.oscar import project as oscar_project

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
# Omnicollect's var/ for this part: its collected static files (production settings serve them
# through WhiteNoise's manifest).
OMNI_STATIC = VAR / "omni-peer" / "static"
OSCAR_DB = "oscar_bench"
OMNI_DB = "omni_bench_peer"
# A Redis database for this part alone: the orders' queued messages must never reach a Celery
# worker of another part (whose database does not have these orders).
PEER_REDIS_DB = int(os.environ.get("BENCH_PEER_REDIS_DB", "13"))

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


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


@contextmanager
def serve(command: list[str], *, env: dict, cwd: Path, url: str, log_path: Path):
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log)  # noqa: S603
        try:
            wait_until_up(url, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- databases ------------------------------------------------------------------------------


def server_conninfo(dsn: str, dbname: str) -> str:
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if v is not None}
    params["dbname"] = dbname
    return make_conninfo(**params)


def database_url(dsn: str, dbname: str) -> str:
    p = conninfo_to_dict(dsn)
    auth = p.get("user", "postgres") + (f":{p['password']}" if p.get("password") else "")
    return f"postgres://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{dbname}"


def ensure_database(dsn: str, dbname: str) -> None:
    with psycopg.connect(server_conninfo(dsn, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')


def redis_url_for(redis_url: str, db: int) -> str:
    parts = redis_url.rstrip("/").rsplit("/", 1)
    base = parts[0] if len(parts) == 2 and parts[1].isdigit() else redis_url.rstrip("/")
    return f"{base}/{db}"


def count_orders(conninfo: str, table: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


# --- Omnicollect's side ---------------------------------------------------------------------


def omni_environment(ctx: Context, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(ctx.dsn, OMNI_DB),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        DJANGO_CACHE_PREFIX="omni-bench-peer",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_LOG_LEVEL="WARNING",
        OMNICOLLECT_VAR_DIR=str(OMNI_STATIC.parent),
    )
    return env


STATIC_STAMP = OMNI_STATIC.parent / "static-packages.txt"


def installed_packages() -> str:
    """The virtualenv's distributions and versions (their static files are collected too)."""
    return "\n".join(
        sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    )


def static_is_fresh() -> bool:
    """The collected files (and their manifest, which production settings need) are newer than
    the project's static files and were collected with the packages installed now."""
    manifest = OMNI_STATIC / "staticfiles.json"
    if not manifest.exists() or not STATIC_STAMP.exists():
        return False
    if STATIC_STAMP.read_text(encoding="utf-8") != installed_packages():
        return False
    sources = [ROOT / "static", *ROOT.glob("*/static")]
    newest = max(
        (f.stat().st_mtime for d in sources for f in d.rglob("*") if f.is_file()), default=0.0
    )
    return manifest.stat().st_mtime > newest


def omni_prepare_commands(ctx: Context, *, collect_static: bool) -> list[list[str]]:
    manage = [ctx.python, str(ROOT / "manage.py")]
    commands = [
        [*manage, "migrate", "--noinput", "-v", "0"],
        [*manage, "seed_demo", "-v", "0"],
    ]
    if collect_static:
        commands.append([*manage, "collectstatic", "--noinput", "-v", "0"])
    return commands


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


def _run_all(commands: dict[str, tuple[list[list[str]], dict, Path]], log) -> dict[str, str]:
    """Run each named sequence of commands, the sequences side by side; return the last
    command's output of each."""
    outputs: dict[str, str] = {}
    running = {name: (list(cmds), env, cwd, None) for name, (cmds, env, cwd) in commands.items()}
    while running:
        for name, (cmds, env, cwd, proc) in list(running.items()):
            if proc is not None:
                if proc.poll() is None:
                    continue
                out, err = proc.communicate()
                if proc.returncode != 0:
                    raise RuntimeError(f"{name}: {' '.join(proc.args[-3:])} failed:\n{err[-3000:]}")
                outputs[name] = out
            if not cmds:
                del running[name]
                continue
            command = cmds.pop(0)
            log(f"{name}: {' '.join(Path(c).name if '/' in c else c for c in command[:4])}")
            proc = subprocess.Popen(  # noqa: S603 - our interpreters, our commands
                command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            running[name] = (cmds, env, cwd, proc)
        time.sleep(0.1)
    return outputs


def rows(ctx: Context) -> list[Row]:
    started = time.monotonic()
    VAR.mkdir(parents=True, exist_ok=True)
    oscar_venv = VAR / "oscar-venv"
    oscar_dir = VAR / "oscar-project"
    redis_url = redis_url_for(ctx.redis_url, PEER_REDIS_DB)
    load_before = os.getloadavg()

    version = oscar_project.ensure_venv(oscar_venv, ctx.log)
    ensure_database(ctx.dsn, OSCAR_DB)
    ensure_database(ctx.dsn, OMNI_DB)
    oscar_project.write_project(
        oscar_dir,
        db=conninfo_to_dict(server_conninfo(ctx.dsn, OSCAR_DB)),
        redis_url=redis_url,
        secret_key=secrets.token_urlsafe(50),
        oscar_venv=oscar_venv,
    )
    oscar_env = oscar_project.environment(oscar_dir)
    omni_env = omni_environment(ctx, redis_url)
    collect_static = not static_is_fresh()
    outputs = _run_all(
        {
            "oscar": (
                oscar_project.prepare_commands(oscar_venv, oscar_dir, products=PRODUCTS),
                oscar_env,
                oscar_dir,
            ),
            "omnicollect": (
                omni_prepare_commands(ctx, collect_static=collect_static),
                omni_env,
                ROOT,
            ),
        },
        ctx.log,
    )
    if collect_static:
        STATIC_STAMP.write_text(installed_packages(), encoding="utf-8")
    oscar_products = json.loads(outputs["oscar"].strip().splitlines()[-1])
    oscar_db = server_conninfo(ctx.dsn, OSCAR_DB)
    omni_db = server_conninfo(ctx.dsn, OMNI_DB)
    oscar_reset(oscar_db)
    omni_products = omni_reset(omni_db)
    if not omni_products:
        raise RuntimeError("no products in Omnicollect's bench database")

    oscar_port, omni_port = free_port(), free_port()
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
        stack.enter_context(
            serve(
                oscar_project.gunicorn_command(
                    oscar_venv,
                    port=oscar_port,
                    workers=WORKERS,
                    threads=THREADS,
                    worker_class=WORKER_CLASS,
                ),
                env=oscar_env,
                cwd=oscar_dir,
                url=f"http://127.0.0.1:{oscar_port}{oscar_products[0]}",
                log_path=logs / "oscar-gunicorn.log",
            )
        )
        stack.enter_context(
            serve(
                [
                    ctx.python,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{omni_port}",
                    "--workers",
                    str(WORKERS),
                    "--worker-class",
                    WORKER_CLASS,
                    "--threads",
                    str(THREADS),
                    "--log-level",
                    "warning",
                ],
                env=omni_env,
                cwd=ROOT,
                url=f"http://127.0.0.1:{omni_port}{omni_products[0]}",
                log_path=logs / "omni-gunicorn.log",
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
        left = BUDGET_SECONDS - (time.monotonic() - started) - 10
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


def main() -> None:
    tmp = VAR / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        base_url="",
        dsn=os.environ.get("BENCH_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=omni_bench"),
        big_dsn="",
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        python=sys.executable,
        tmp=tmp,
    )
    result = rows(ctx)
    print_table(result)
    for row in result:
        print(f"\n{row.name}: {row.note}")
    print(json.dumps(machine_load()))


if __name__ == "__main__":
    main()

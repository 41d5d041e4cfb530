"""The bench's own PostgreSQL databases (their names have "bench"; never the test ones): made
if missing, emptied by resetting their public schema, addressed as conninfo or URL."""

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PG = "host=127.0.0.1 port=5432 user=postgres"


def conninfo(dbname: str, server: str = PG) -> str:
    """The conninfo of ``dbname`` on the server of ``server`` (a conninfo)."""
    params = {k: v for k, v in conninfo_to_dict(server).items() if v is not None}
    params["dbname"] = dbname
    return make_conninfo(**params)


def name_of(dsn: str) -> str:
    return conninfo_to_dict(dsn)["dbname"]


def url_of(dsn: str) -> str:
    """The ``postgres://`` URL (DATABASE_URL) of a conninfo."""
    p = conninfo_to_dict(dsn)
    auth = p.get("user", "postgres") + (f":{p['password']}" if p.get("password") else "")
    return f"postgres://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


def _check_name(dbname: str) -> None:
    if not dbname.replace("_", "").isalnum() or "bench" not in dbname:
        raise ValueError(f"refusing to touch {dbname!r}: the bench's databases have 'bench'")


def ensure(dsn: str) -> None:
    """The database of ``dsn``, made if missing (kept as it is otherwise)."""
    dbname = name_of(dsn)
    _check_name(dbname)
    with psycopg.connect(conninfo("postgres", dsn), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')


def recreate(dbname: str) -> None:
    """An empty ``dbname``: made if missing, else its public schema dropped and made again
    (DROP DATABASE waits for every backend of the server to answer a barrier, which a busy
    shared server may not do for minutes)."""
    _check_name(dbname)
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        found = conn.execute(
            "SELECT datconnlimit FROM pg_database WHERE datname = %s", [dbname]
        ).fetchone()
        if found and found[0] == -2:  # left invalid by an interrupted DROP DATABASE
            conn.execute("SET statement_timeout = '30s'")
            conn.execute(f'DROP DATABASE "{dbname}"')
            found = None
        if not found:
            conn.execute(f'CREATE DATABASE "{dbname}"')
            return
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [dbname],
        )
    with psycopg.connect(conninfo(dbname), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


BASELINE_TABLES = """
CREATE TABLE bench_stock (
    id integer PRIMARY KEY,
    on_hand integer NOT NULL,
    reserved integer NOT NULL DEFAULT 0
);
CREATE TABLE bench_order (
    id bigserial PRIMARY KEY,
    stock_id integer NOT NULL REFERENCES bench_stock (id),
    quantity integer NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX bench_order_stock ON bench_order (stock_id);
"""

# Rows of bench_stock: 1 is the hot SKU, 2 the short one (oversold check), 1001..4000 the
# spread (1,000 SKUs x 3 stores).
HOT, SHORT, SPREAD_FIRST, SPREAD_COUNT = 1, 2, 1001, 3000


def create_baseline_tables(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BASELINE_TABLES)
        conn.execute(
            "INSERT INTO bench_stock (id, on_hand) SELECT i, 100000000 FROM "
            "(SELECT 1 AS i UNION ALL SELECT generate_series(%s::int, %s::int)) s",
            [SPREAD_FIRST, SPREAD_FIRST + SPREAD_COUNT - 1],
        )
        conn.execute("INSERT INTO bench_stock (id, on_hand) VALUES (%s, 0)", [SHORT])


def scalar(dsn: str, sql: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params or []).fetchone()[0]


def execute(dsn: str, sql: str, params=None) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql, params or [])


def row_counts(dsn: str) -> dict[str, int]:
    """Exact row count of every table of the public schema."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
            for t in tables
        }


def count_changes(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        t: after.get(t, 0) - before.get(t, 0)
        for t in sorted(set(before) | set(after))
        if after.get(t, 0) != before.get(t, 0)
    }

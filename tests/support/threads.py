"""Running calls on real threads at the same moment, each on its own database connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def race(calls):
    """Run each zero-argument callable in its own thread, all released at once.

    Returns what each returned or raised, in order.
    """
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:  # collected and asserted by the test
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))

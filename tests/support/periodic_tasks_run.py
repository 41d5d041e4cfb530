"""Run every Celery beat task against a fresh database of any engine, with work for each.

    python -m tests.support.periodic_tasks_run     # DATABASE_URL picks the engine; prints JSON

``tests/project/test_periodic_tasks.py`` runs it on SQLite (the demo's engine) and on
PostgreSQL. The database is migrated, a store gets a ready order and an online order nobody
paid, and then each task in ``CELERY_BEAT_SCHEDULE`` runs (in this process, as a worker would)
at the instants where it has something to do: after the payment timeout, before the pickup slot,
before the hold ends, after it ended. The printed report maps each round to ``{task: result}``;
a task that raised reports ``{"error": "..."}``.
"""

import json
import os
import sys
import traceback
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

# A Wednesday, 09:00 in Madrid.
START = datetime(2025, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/Madrid"))


def _scenario() -> dict:
    from orders.services import mark_preparing, mark_ready, place_order
    from stores.models import StaffMembership
    from stores.selectors import pickup_slots
    from tests.support.factories import (
        CartFactory,
        CartLineFactory,
        CustomerFactory,
        StaffMembershipFactory,
        StockLevelFactory,
        StoreFactory,
        UserFactory,
        VariantFactory,
    )

    store = StoreFactory(reminder_minutes=60, hold_reminder_hours=2)
    variant = VariantFactory()
    StockLevelFactory(store=store, variant=variant, on_hand=10)
    clerk = UserFactory()
    StaffMembershipFactory(user=clerk, store=store, role=StaffMembership.Role.CLERK)
    slots = pickup_slots(store=store, now=START)

    def cart():
        basket = CartFactory()
        CartLineFactory(cart=basket, variant=variant, quantity=1)
        return basket

    ready = place_order(
        cart=cart(),
        store=store,
        slot_start=slots[4].start,
        payment_method="in_store",
        channel="web",
        customer=CustomerFactory(),
        now=START,
    )
    mark_preparing(order=ready, user=clerk)
    ready = mark_ready(order=ready, user=clerk, now=START)
    unpaid = place_order(
        cart=cart(),
        store=store,
        slot_start=slots[5].start,
        payment_method="online",
        channel="web",
        customer=CustomerFactory(),
        now=START,
        allow_online=True,
    )
    return {
        "ready": ready.number,
        "unpaid": unpaid.number,
        "unpaid_status": unpaid.status,
        "slot_start": ready.slot_start,
        "hold_until": ready.hold_until,
    }


def _run_beat() -> dict:
    from config.celery import app

    app.loader.import_default_modules()  # what a worker does at start: find the tasks
    results = {}
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        name = entry["task"]
        outcome = app.tasks[name].apply()
        if outcome.successful():
            results[name] = outcome.result
        else:
            results[name] = {"error": "".join(traceback.format_exception(outcome.result))}
    return results


def main() -> dict:
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)  # the demo's cache (no Redis here)
    with time_machine.travel(START, tick=False):
        scenario = _scenario()
    rounds = {
        "after the payment timeout": START
        + timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES + 1),
        "before the slot": scenario["slot_start"] - timedelta(minutes=30),
        "before the hold ends": scenario["hold_until"] - timedelta(hours=1),
        "after the hold ended": scenario["hold_until"] + timedelta(minutes=1),
    }
    report = {"engine": django.db.connection.vendor, "rounds": {}}
    for label, instant in rounds.items():
        with time_machine.travel(instant, tick=False):
            report["rounds"][label] = _run_beat()
    from customers.models import Notification
    from orders.models import Order

    report["orders"] = dict(
        Order.objects.filter(number__in=[scenario["ready"], scenario["unpaid"]]).values_list(
            "number", "status"
        )
    )
    report["scenario"] = {key: str(value) for key, value in scenario.items()}
    report["messages"] = sorted(
        Notification.objects.filter(order_number=scenario["ready"]).values_list("kind", flat=True)
    )
    return report


if __name__ == "__main__":
    json.dump(main(), sys.stdout, default=str)

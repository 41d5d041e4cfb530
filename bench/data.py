"""What the rows need in the bench database, written through the ORM of the process that runs
the bench (Django set up with bench.settings against ``omni_bench``): customers with API
tokens, logged-in sessions (``logins``, also run on other bench databases by
``bench.processes.logins``), roomy slots, bench SKUs and stock, open orders in bulk."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from knox.models import AuthToken

from customers.models import Customer, User, fold_for_search
from orders.models import Order, OrderLine, OrderStatus
from shop.models import Category, Product, Variant
from stores.models import StockLevel, Store
from stores.selectors import pickup_slots

# The most orders a slot may take (PositiveSmallIntegerField): the load tests book thousands
# of orders, and a full slot would refuse them for a reason that is not what is measured.
ROOMY_SLOT = 32767


def make_customers(n: int, prefix: str) -> list[tuple[Customer, str]]:
    """``n`` registered customers, each with a fresh API token."""
    users = User.objects.bulk_create(
        [
            User(email=f"{prefix}-{i}@bench.example", name=f"Bench {prefix} {i}", password="!")
            for i in range(n)
        ]
    )
    customers = Customer.objects.bulk_create(
        [
            Customer(user=u, email=u.email, name=u.name, search_name=fold_for_search(u.name))
            for u in users
        ]
    )
    return [(c, AuthToken.objects.create(c.user)[1]) for c in customers]


def session_for(user) -> str:
    """A logged-in session key for ``user`` (what the login view would store)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def logins(emails: list[str]) -> dict[str, dict[str, str]]:
    """A fresh session key and API token for each of these users: {email: {"session", "token"}}."""
    found = {}
    for email in emails:
        user = User.objects.get(email=email)
        found[email] = {"session": session_for(user), "token": AuthToken.objects.create(user)[1]}
    return found


def roomy_slots() -> None:
    Store.objects.update(slot_capacity=ROOMY_SLOT)


def a_slot(store: Store):
    """A slot far enough ahead to stay bookable for the whole run."""
    slots = pickup_slots(store=store)
    if not slots:
        raise RuntimeError(f"{store.code} has no bookable slot")
    return slots[len(slots) // 2]


def bench_skus(n: int = 1000, on_hand: int = 100000) -> list[Variant]:
    """``n`` bench-only SKUs (products of up to 10 variants) stocked at every store."""
    category = Category.objects.create(slug="bench-load", name="Bench", position=999)
    products = Product.objects.bulk_create(
        [
            Product(category=category, slug=f"bench-{p}", name=f"Bench {p}", is_active=True)
            for p in range((n + 9) // 10)
        ]
    )
    variants = Variant.objects.bulk_create(
        [
            Variant(
                product=products[i // 10],
                sku=f"BENCH-{i:04d}",
                title=f"V{i % 10}",
                price=Decimal("5.00"),
                currency="EUR",
                barcode=f"99{i:010d}",
                is_active=True,
            )
            for i in range(n)
        ]
    )
    stores = list(Store.objects.all())
    StockLevel.objects.bulk_create(
        [StockLevel(store=s, variant=v, on_hand=on_hand) for s in stores for v in variants]
    )
    return variants


def set_stock(store: Store, variant: Variant, on_hand: int) -> None:
    StockLevel.objects.update_or_create(
        store=store, variant=variant, defaults={"on_hand": on_hand, "reserved": 0}
    )


def open_orders(store: Store, n: int, customer: Customer, variant: Variant) -> int:
    """``n`` open orders (placed, preparing, ready) at ``store`` over the coming days, one line
    each, written in bulk (no stock held: only the counter's lists read them)."""
    now = timezone.now()
    rng = random.Random(14)
    statuses = [OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY]
    made = 0
    for start in range(0, n, 2000):
        orders = []
        for i in range(start, min(n, start + 2000)):
            status = statuses[i % 3]
            slot = now + timedelta(minutes=30 * rng.randint(1, 300))
            orders.append(
                Order(
                    customer=customer,
                    store=store,
                    channel="web",
                    status=status,
                    payment_method="in_store",
                    currency=variant.currency,
                    total=variant.price,
                    slot_start=slot,
                    slot_end=slot + timedelta(minutes=30),
                    hold_until=slot + timedelta(hours=48) if status == OrderStatus.READY else None,
                    contact_name=customer.name,
                    contact_email=customer.email,
                    created_at=now - timedelta(minutes=i % 600),
                    language="es",
                )
            )
        orders = Order.objects.bulk_create(orders)
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=o,
                    variant=variant,
                    sku=variant.sku,
                    name=str(variant),
                    unit_price=variant.price,
                    quantity=1,
                )
                for o in orders
            ]
        )
        made += len(orders)
    return made

"""Demo data for the embedded run: stores, catalogue, stock and the three demo logins.

What the demo holds is written in ``shop.management.demo``; this command writes it to the
database, deriving each variant's barcode and its starting stock per store.

Idempotent: every row is keyed on its natural key (store code, category and product slug, SKU,
email), so a second run changes nothing and creates nothing. Stores, hours, catalogue, logins and
staff roles are brought back to what is written here. Stock rows are only created when missing:
`make run` seeds on every start, and resetting `on_hand` would undo the demo's own sales and
break reservations held by open orders.
"""

import hashlib
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from customers.models import Customer, User
from shop.management.demo.catalogue import (
    CATALOGUE,
    CATEGORIES,
    CURRENCY,
    NAMES_EN,
    title_translations,
)
from shop.management.demo.people import (
    CLERK,
    DEMO_PASSWORD,
    MANAGER,
    MANAGER_FULL_APPS,
    MANAGER_GROUP,
    MANAGER_VIEW_APPS,
    SHOPPER,
)
from shop.management.demo.stores import STORES
from shop.models import Category, Product, Variant
from stores.models import OpeningHours, StaffMembership, StockLevel, Store


def ean13(twelve_digits: str) -> str:
    """Append the EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(twelve_digits))
    return twelve_digits + str((10 - total % 10) % 10)


def barcode_for(sku: str) -> str:
    """A stable EAN-13 for a SKU (Spanish GS1 prefix 84), independent of catalogue order."""
    digest = int(hashlib.sha256(sku.encode()).hexdigest(), 16)
    return ean13(f"84{digest % 10**10:010d}")


def stock_for(sku: str, store_code: str) -> int:
    """Deterministic starting stock: some variants sold out at a store, some running low."""
    rng = random.Random(f"{sku}@{store_code}")
    draw = rng.random()
    if draw < 0.12:
        return 0
    if draw < 0.30:
        return rng.randint(1, 3)
    return rng.randint(4, 40)


class Command(BaseCommand):
    help = "Create or refresh the demo stores, catalogue, stock and logins (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        stores = [self.seed_store(spec) for spec in STORES]
        variants = self.seed_catalogue()
        stock_created = self.seed_stock(stores, variants)
        self.seed_people(stores)

        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Seeded {len(stores)} stores, {Category.objects.count()} categories, "
                f"{Product.objects.count()} products, {len(variants)} variants; "
                f"{stock_created} new stock levels ({StockLevel.objects.count()} in all)."
            )
            self.stdout.write(self.summary(stores))

    # --- stores -------------------------------------------------------------------------------

    def seed_store(self, spec: dict) -> Store:
        fields = {key: value for key, value in spec.items() if key not in {"code", "hours"}}
        store, _ = Store.objects.update_or_create(
            code=spec["code"], defaults={**fields, "is_active": True}
        )
        kept = []
        for weekday, opens, closes in spec["hours"]:
            hours, _ = OpeningHours.objects.update_or_create(
                store=store, weekday=weekday, opens=opens, defaults={"closes": closes}
            )
            kept.append(hours.pk)
        OpeningHours.objects.filter(store=store).exclude(pk__in=kept).delete()
        return store

    # --- catalogue ----------------------------------------------------------------------------

    def seed_catalogue(self) -> list[Variant]:
        variants = []
        for position, (slug, name, name_en) in enumerate(CATEGORIES):
            category, _ = Category.objects.update_or_create(
                slug=slug,
                defaults={"name": name, "name_translations": {"en": name_en}, "position": position},
            )
            for item in CATALOGUE[slug]:
                product, _ = Product.objects.update_or_create(
                    slug=item.slug,
                    defaults={
                        "category": category,
                        "name": item.name,
                        "name_translations": {"en": NAMES_EN[item.slug]},
                        "description": item.description,
                        "is_active": True,
                    },
                )
                for code, title, *price in item.variants:
                    sku = f"{item.code}-{code}"
                    variant, _ = Variant.objects.update_or_create(
                        sku=sku,
                        defaults={
                            "product": product,
                            "title": title,
                            "title_translations": title_translations(title),
                            "price": Decimal(price[0] if price else item.price),
                            "currency": CURRENCY,
                            "barcode": barcode_for(sku),
                            "is_active": True,
                        },
                    )
                    variants.append(variant)
        return variants

    def seed_stock(self, stores: list[Store], variants: list[Variant]) -> int:
        created = 0
        for store in stores:
            for variant in variants:
                _, was_created = StockLevel.objects.get_or_create(
                    store=store,
                    variant=variant,
                    defaults={"on_hand": stock_for(variant.sku, store.code)},
                )
                created += was_created
        return created

    # --- people -------------------------------------------------------------------------------

    def seed_user(self, *, email: str, name: str, is_staff: bool = False) -> User:
        user, _ = User.objects.update_or_create(
            email=email,
            defaults={"name": name, "is_active": True, "is_staff": is_staff, "is_superuser": False},
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def seed_people(self, stores: list[Store]) -> None:
        shopper = self.seed_user(email=SHOPPER["email"], name=SHOPPER["name"])
        Customer.objects.update_or_create(
            email=SHOPPER["email"],
            defaults={
                "user": shopper,
                "name": SHOPPER["name"],
                "phone": SHOPPER["phone"],
                "language": "es",
            },
        )

        clerk = self.seed_user(**CLERK)
        first_store = stores[0]
        StaffMembership.objects.update_or_create(
            user=clerk, store=first_store, defaults={"role": StaffMembership.Role.CLERK}
        )
        StaffMembership.objects.filter(user=clerk).exclude(store=first_store).delete()

        manager = self.seed_user(**MANAGER, is_staff=True)
        for store in Store.objects.all():
            StaffMembership.objects.update_or_create(
                user=manager, store=store, defaults={"role": StaffMembership.Role.MANAGER}
            )
        group, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label__in=MANAGER_FULL_APPS)
            | Permission.objects.filter(
                content_type__app_label__in=MANAGER_VIEW_APPS, codename__startswith="view_"
            )
        )
        manager.groups.add(group)

    def summary(self, stores: list[Store]) -> str:
        codes = ", ".join(store.code for store in stores)
        rows = [
            (SHOPPER["email"], "shopper (web shop, orders)"),
            (CLERK["email"], f"clerk at {stores[0].code} (/store/)"),
            (MANAGER["email"], f"manager of {codes} (/store/, /admin/)"),
        ]
        width = max(len(email) for email, _ in rows)
        lines = [
            "",
            f"Omnicollect demo: {settings.SITE_URL}/",
            f"Password for every login: {DEMO_PASSWORD}",
        ]
        lines += [f"  {email.ljust(width)}  {role}" for email, role in rows]
        return "\n".join(lines)

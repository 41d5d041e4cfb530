"""factory_boy factories, one per model the service tests build on."""

from datetime import time
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from customers.models import Customer, User
from shop.models import Cart, CartLine, Category, Product, Variant
from stores.models import OpeningHours, StaffMembership, StockLevel, Store

PASSWORD = "pw-123456-test"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create and results:
            instance.save(update_fields=["password"])


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.test")
    name = factory.Sequence(lambda n: f"Customer {n}")
    phone = factory.Sequence(lambda n: f"+3460000{n:04d}")
    user = None


class StoreFactory(DjangoModelFactory):
    """A store open every day 08:00–22:00 (pass ``hours=False`` for a store with no hours)."""

    class Meta:
        model = Store
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"S-{n + 1:02d}")
    name = factory.Sequence(lambda n: f"Store {n + 1}")
    address = "Calle Mayor 1"
    city = "Madrid"
    timezone = "Europe/Madrid"
    slot_minutes = 30
    slot_capacity = 5
    lead_time_minutes = 60
    hold_hours = 48

    @factory.post_generation
    def hours(obj, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        OpeningHours.objects.bulk_create(
            [
                OpeningHours(store=obj, weekday=day, opens=time(8, 0), closes=time(22, 0))
                for day in range(7)
            ]
        )


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")


class VariantFactory(DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = "Standard"
    price = Decimal("10.00")
    currency = "EUR"


class StockLevelFactory(DjangoModelFactory):
    class Meta:
        model = StockLevel

    store = factory.SubFactory(StoreFactory)
    variant = factory.SubFactory(VariantFactory)
    on_hand = 10
    reserved = 0


class StaffMembershipFactory(DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    store = factory.SubFactory(StoreFactory)
    role = StaffMembership.Role.CLERK


class CartFactory(DjangoModelFactory):
    class Meta:
        model = Cart

    customer = None
    store = None


class CartLineFactory(DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory)
    quantity = 1
    channel = "web"

"""Catalogue and cart reads shared by the web shop, the API and the tablet."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F, Min, Prefetch, Q
from django.http import Http404
from django.utils import timezone

from shop.models import Cart, CartHandoff, CartLine, Category, Product, Variant
from stores.selectors import active_stores, availability, describe_pickup, earliest_pickups


def categories():
    return Category.objects.all()


def catalogue_products(*, search: str = "", category: str = "", store: str = ""):
    """Active products, searched and filtered, each with its lowest price (``price_from``, in
    ``currency``).

    ``store`` (a store code) keeps only products with at least one unit available there.
    """
    products = (
        Product.objects.filter(is_active=True, variants__is_active=True)
        .select_related("category")
        .annotate(price_from=Min("variants__price"), currency=Min("variants__currency"))
        .order_by("name", "pk")
    )
    search = (search or "").strip()[:100]
    if search:
        products = products.filter(
            Q(name__icontains=search)
            | Q(description__icontains=search)
            | Q(variants__sku__iexact=search)
            | Q(category__name__icontains=search)
        )
    if category:
        products = products.filter(category__slug=category)
    if store:
        # One filter call, so the same (active) variant must have the stock there.
        products = products.filter(
            variants__is_active=True,
            variants__stock_levels__store__code=store,
            variants__stock_levels__on_hand__gt=F("variants__stock_levels__reserved"),
        )
    return products.distinct()


def catalogue(*, search: str = "", category: str = "", page=1, per_page: int | None = None):
    """A page of the catalogue for the web shop."""
    products = catalogue_products(search=search, category=category)
    return Paginator(products, per_page or settings.CATALOGUE_PAGE_SIZE).get_page(page)


def product_by_slug(slug: str) -> Product:
    product = (
        Product.objects.filter(slug=slug, is_active=True)
        .select_related("category")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.filter(is_active=True).order_by("pk"))
        )
        .first()
    )
    if product is None or not product.variants.all():
        raise Http404("No such product")
    return product


@dataclass
class StoreAvailability:
    store: object
    available: int
    pickup: str  # "today from 17:30"
    has_pickup: bool = True  # False: no free slot in the next days


def product_availability(*, product: Product, now=None) -> dict[int, list[StoreAvailability]]:
    """{variant_id: [availability at each store, with the earliest pickup there]}."""
    stores = list(active_stores())
    earliest = earliest_pickups(stores=stores, now=now)
    labels = {s.pk: describe_pickup(slot=earliest[s.pk], store=s, now=now) for s in stores}
    variants = list(product.variants.all())
    stock = availability(variant_ids=[v.pk for v in variants])
    return {
        v.pk: [
            StoreAvailability(
                store=s,
                available=max(stock.get((s.pk, v.pk), 0), 0),
                pickup=labels[s.pk],
                has_pickup=earliest[s.pk] is not None,
            )
            for s in stores
        ]
        for v in variants
    }


def customer_cart(*, customer) -> Cart | None:
    """The customer's one cart with its store, or None before their first cart change."""
    return Cart.objects.filter(customer=customer).select_related("store").first()


def active_handoff(*, cart: Cart | None, code: str, now=None) -> CartHandoff | None:
    """The handoff with this code if it is for ``cart`` and can still be claimed."""
    if cart is None or cart.pk is None or not code:
        return None
    return CartHandoff.objects.filter(
        cart=cart, code=code, claimed_at__isnull=True, expires_at__gt=now or timezone.now()
    ).first()


def cart_lines(cart: Cart | None) -> list[CartLine]:
    if cart is None or cart.pk is None:
        return []
    return list(
        CartLine.objects.filter(cart=cart)
        .select_related("variant__product")
        .order_by("created_at", "pk")
    )


@dataclass
class CartSummary:
    cart: Cart | None
    lines: list
    total: Decimal
    currency: str
    count: int
    # {line_id: units available at the cart's store} (None when no store is chosen)
    available: dict | None


def cart_summary(cart: Cart | None) -> CartSummary:
    lines = cart_lines(cart)
    currency = lines[0].variant.currency if lines else "EUR"
    total = sum((line.line_total for line in lines), Decimal("0.00"))
    available = None
    if cart is not None and cart.store_id and lines:
        stock = availability(variant_ids=[ln.variant_id for ln in lines], store_ids=[cart.store_id])
        available = {ln.pk: max(stock.get((cart.store_id, ln.variant_id), 0), 0) for ln in lines}
    return CartSummary(
        cart=cart,
        lines=lines,
        total=total,
        currency=currency,
        count=sum(line.quantity for line in lines),
        available=available,
    )


def sku_for_code(code: str) -> str | None:
    """The SKU of the item with this SKU (any case) or barcode, as a scanner or clerk typed it."""
    code = (code or "").strip()[:40]
    if not code:
        return None
    return (
        Variant.objects.filter(Q(sku__iexact=code) | Q(barcode=code))
        .order_by("pk")
        .values_list("sku", flat=True)
        .first()
    )

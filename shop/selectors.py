"""Catalogue and cart reads shared by the web shop, the API and the tablet."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import CharField, Exists, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone, translation

from shop.models import Cart, CartHandoff, CartLine, Category, Product, Variant
from stores.models import StockLevel
from stores.selectors import active_stores, availability, describe_pickup, earliest_pickups


def categories():
    return Category.objects.all()


def catalogue_products(*, search: str = "", category: str = "", store: str = ""):
    """Active products, searched and filtered, each with its lowest price (``price_from``, in
    ``currency``), in the order of their names in the active language.

    ``store`` (a store code) keeps only products with at least one unit available there.

    Every condition on variants and stock is an ``EXISTS`` and the prices are subqueries: no
    join multiplies the rows, so the page needs no ``DISTINCT`` nor ``GROUP BY`` and its count
    is a plain ``COUNT(*)`` over products.
    """
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    active_variants = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
    products = (
        Product.objects.filter(Exists(active_variants), is_active=True)
        .select_related("category")
        .annotate(
            price_from=Subquery(active_variants.order_by("price").values("price")[:1]),
            currency=Subquery(active_variants.order_by("currency").values("currency")[:1]),
            local_name=Coalesce(
                KeyTextTransform(language, "name_translations"), "name", output_field=CharField()
            ),
        )
        .order_by("local_name", "pk")
    )
    search = (search or "").strip()[:100]
    if search:
        # The names in the active language too ("lamp" finds "Lámpara" for an English page).
        products = products.filter(
            Q(name__icontains=search)
            | Q(**{f"name_translations__{language}__icontains": search})
            | Q(description__icontains=search)
            | Exists(Variant.objects.filter(product=OuterRef("pk"), sku__iexact=search))
            | Q(category__name__icontains=search)
            | Q(**{f"category__name_translations__{language}__icontains": search})
        )
    if category:
        products = products.filter(category__slug=category)
    if store:
        # The same (active) variant must have the stock there.
        products = products.filter(
            Exists(
                StockLevel.objects.filter(
                    variant__product=OuterRef("pk"),
                    variant__is_active=True,
                    store__code=store,
                    on_hand__gt=F("reserved"),
                )
            )
        )
    return products


def _stock_exists(store_id: int | None = None) -> Exists:
    """Whether the product has an active variant with a unit available (at ``store_id``)."""
    levels = StockLevel.objects.filter(
        variant__product=OuterRef("pk"),
        variant__is_active=True,
        store__is_active=True,
        on_hand__gt=F("reserved"),
    )
    if store_id is not None:
        levels = levels.filter(store_id=store_id)
    return Exists(levels)


def catalogue(
    *,
    search: str = "",
    category: str = "",
    page=1,
    per_page: int | None = None,
    store_id: int | None = None,
):
    """A page of the catalogue for the web shop. Each product says whether any store has it
    (``in_stock``) and whether the shopper's store does (``in_stock_here``, with a store)."""
    products = catalogue_products(search=search, category=category).annotate(
        in_stock=_stock_exists()
    )
    if store_id is not None:
        products = products.annotate(in_stock_here=_stock_exists(store_id))
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


@dataclass
class BuyOptions:
    """What the product page offers for one variant at the shopper's store."""

    store: object | None  # the shopper's store; None until they choose one
    can_add: bool
    elsewhere: list[StoreAvailability]  # the other stores with stock

    @property
    def elsewhere_names(self) -> str:
        return ", ".join(row.store.name for row in self.elsewhere)


def buy_options(*, rows: list[StoreAvailability], store_id: int | None) -> BuyOptions:
    """Add to cart only where the shopper's store has the variant (any store before they
    choose); otherwise the stores that have it."""
    here = next((row for row in rows if row.store.pk == store_id), None)
    elsewhere = [row for row in rows if row.available > 0 and row is not here]
    if here is None:
        return BuyOptions(store=None, can_add=bool(elsewhere), elsewhere=elsewhere)
    return BuyOptions(store=here.store, can_add=here.available > 0, elsewhere=elsewhere)


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


def handoff_claimed(*, code: str, cart: Cart | None) -> bool | None:
    """Whether this cart's handoff with ``code`` was claimed (True), can still be (False), or
    is over without a claim or is not this cart's (None)."""
    if cart is None or cart.pk is None or not code:
        return None
    row = (
        CartHandoff.objects.filter(cart=cart, code=code)
        .values_list("claimed_at", "expires_at")
        .first()
    )
    if row is None:
        return None
    claimed_at, expires_at = row
    if claimed_at is not None:
        return True
    return False if expires_at > timezone.now() else None


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


@dataclass
class LineStock:
    line: CartLine
    available: int  # units available at the checkout's store

    @property
    def short(self) -> bool:
        return self.available < self.line.quantity


@dataclass
class CartStock:
    """The cart's lines against one store's stock, and the other stores that have them all."""

    store: object | None
    lines: list[LineStock]
    stores_with_all: list  # other stores where every line is available in full

    @property
    def short(self) -> list[LineStock]:
        return [row for row in self.lines if row.short]


def cart_stock(*, lines: list[CartLine], store, stores) -> CartStock:
    """Every line against the stock of ``store`` and of ``stores`` — one query in all."""
    stores = list(stores)
    stock = availability(
        variant_ids={ln.variant_id for ln in lines}, store_ids=[s.pk for s in stores]
    )

    def left(store_id, line) -> int:
        return max(stock.get((store_id, line.variant_id), 0), 0)

    rows = [LineStock(line=ln, available=left(store.pk, ln) if store else 0) for ln in lines]
    others = [
        s
        for s in stores
        if (store is None or s.pk != store.pk)
        and lines
        and all(left(s.pk, ln) >= ln.quantity for ln in lines)
    ]
    return CartStock(store=store, lines=rows, stores_with_all=others)


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

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from customers.models import Channel

# Names are written in the shop's default language (LANGUAGE_CODE); ``*_translations`` holds
# the same name in other languages, {"en": "Organic cotton T-shirt"}. Pages, the API and the
# tablet show the one for the active language, else the base name.


def translated(base: str, translations: dict | None, language: str | None = None) -> str:
    """``base`` in ``language`` (default: the active one) if a translation exists."""
    language = (language or translation.get_language() or "").split("-")[0]
    return (translations or {}).get(language) or base


@deconstructible
class TranslationsValidator:
    """``{language code: text}``: languages the site speaks, non-empty text of at most
    ``max_length`` characters."""

    def __init__(self, max_length: int):
        self.max_length = max_length

    def __call__(self, value) -> None:
        if not isinstance(value, dict):
            raise ValidationError(_('Give the names as {"en": "…"}.'))
        languages = {code for code, _name in settings.LANGUAGES}
        for code, text in value.items():
            if code not in languages:
                raise ValidationError(
                    _("We do not speak %(code)s: use one of %(codes)s."),
                    params={"code": code, "codes": ", ".join(sorted(languages))},
                )
            if not isinstance(text, str) or not text.strip() or len(text) > self.max_length:
                raise ValidationError(
                    _("The name in %(code)s must be text of 1 to %(max)d characters."),
                    params={"code": code, "max": self.max_length},
                )

    def __eq__(self, other) -> bool:
        return isinstance(other, TranslationsValidator) and other.max_length == self.max_length


def translations_field(max_length: int, verbose_name) -> models.JSONField:
    return models.JSONField(
        verbose_name,
        default=dict,
        blank=True,
        validators=[TranslationsValidator(max_length)],
        help_text=_("The same in other languages, by language code."),
    )


class Category(models.Model):
    name = models.CharField(_("name"), max_length=80)
    name_translations = translations_field(80, _("name in other languages"))
    slug = models.SlugField(unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the active language."""
        return translated(self.name, self.name_translations)


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(_("name"), max_length=160)
    name_translations = translations_field(160, _("name in other languages"))
    slug = models.SlugField(unique=True, max_length=180)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the active language."""
        return translated(self.name, self.name_translations)


class Variant(models.Model):
    """One sellable SKU of a product, with its price."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=40, unique=True)
    title = models.CharField(_("variant"), max_length=80, blank=True)
    title_translations = translations_field(80, _("variant in other languages"))
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    barcode = models.CharField(max_length=32, unique=True, null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["product_id", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_nonneg"),
        ]

    def __str__(self) -> str:
        """ "Product — variant", in the active language."""
        name = self.product.display_name
        return f"{name} — {self.display_title}" if self.title else name

    @property
    def display_title(self) -> str:
        """The variant's title in the active language."""
        return translated(self.title, self.title_translations)


class Cart(models.Model):
    """One cart per customer (any device); anonymous carts are found by their token."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="carts"
    )
    store = models.ForeignKey(
        "stores.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(customer__isnull=False),
                name="one_cart_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_line_quantity_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant_id}"

    @property
    def line_total(self):
        return self.variant.price * self.quantity


class CartHandoff(models.Model):
    """A short-lived code that lets another device (or the store tablet) take over a cart."""

    code = models.CharField(max_length=8, unique=True)
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="handoffs")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cart handoff")
        verbose_name_plural = _("cart handoffs")

    def __str__(self) -> str:
        return self.code

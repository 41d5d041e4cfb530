from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from core.display import money
from shop.models import Cart, CartHandoff, CartLine, Category, Product, Variant


def translated_form(model, field: str):
    """A model form with one text box per other language for ``field`` ("name_en"), kept in
    the model's ``<field>_translations``; an empty box drops that language."""
    store = f"{field}_translations"
    base = model._meta.get_field(field)
    languages = [
        (code, language) for code, language in settings.LANGUAGES if code != settings.LANGUAGE_CODE
    ]
    boxes = {
        f"{field}_{code}": forms.CharField(
            label=format_lazy("{} ({})", base.verbose_name, language),
            max_length=base.max_length,
            required=False,
        )
        for code, language in languages
    }

    def __init__(self, *args, **kwargs):
        forms.ModelForm.__init__(self, *args, **kwargs)
        current = getattr(self.instance, store) or {}
        for code, _language in languages:
            self.initial.setdefault(f"{field}_{code}", current.get(code, ""))

    def clean(self):
        cleaned = forms.ModelForm.clean(self)
        values = dict(getattr(self.instance, store) or {})
        for code, _language in languages:
            text = (cleaned.get(f"{field}_{code}") or "").strip()
            if text:
                values[code] = text
            else:
                values.pop(code, None)
        setattr(self.instance, store, values)
        return cleaned

    meta = type("Meta", (), {"model": model, "exclude": [store]})
    attrs = {"Meta": meta, "__init__": __init__, "clean": clean, **boxes}
    return type(f"{model.__name__}TranslatedForm", (forms.ModelForm,), attrs)


class TranslatedAdmin:
    """Admin pages with a box per other language for ``translated`` (made per request, for
    the languages of the settings in force)."""

    translated = "name"

    def get_form(self, request, obj=None, **kwargs):
        kwargs.setdefault("form", translated_form(self.model, self.translated))
        return super().get_form(request, obj, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("form", translated_form(self.model, self.translated))
        return super().get_formset(request, obj, **kwargs)


@admin.register(Category)
class CategoryAdmin(TranslatedAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}


class VariantInline(TranslatedAdmin, admin.TabularInline):
    model = Variant
    translated = "title"
    extra = 0


@admin.register(Product)
class ProductAdmin(TranslatedAdmin, admin.ModelAdmin):
    list_display = ["name", "category", "is_active", "created_at"]
    list_filter = ["category", "is_active"]
    search_fields = ["name", "slug", "variants__sku"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]
    inlines = [VariantInline]


@admin.register(Variant)
class VariantAdmin(TranslatedAdmin, admin.ModelAdmin):
    translated = "title"
    list_display = ["sku", "product", "title", "price_shown", "barcode", "is_active"]
    list_filter = ["is_active", "currency"]
    search_fields = ["sku", "barcode", "product__name"]
    list_select_related = ["product"]
    raw_id_fields = ["product"]

    @admin.display(description=gettext_lazy("Price"), ordering="price")
    def price_shown(self, variant: Variant) -> str:
        return money(variant.price, variant.currency)


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    raw_id_fields = ["variant"]
    readonly_fields = ["channel", "created_at", "updated_at"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["pk", "customer", "store", "updated_at"]
    search_fields = ["customer__email", "token"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "store"]
    inlines = [CartLineInline]


@admin.register(CartHandoff)
class CartHandoffAdmin(admin.ModelAdmin):
    list_display = ["code", "cart", "channel", "created_at", "expires_at", "claimed_at"]
    list_filter = ["channel"]
    search_fields = ["code"]
    raw_id_fields = ["cart"]

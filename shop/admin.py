from django.contrib import admin
from django.utils.translation import gettext_lazy

from config.display import money
from shop.models import Cart, CartHandoff, CartLine, Category, Product, Variant


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "is_active", "created_at"]
    list_filter = ["category", "is_active"]
    search_fields = ["name", "slug", "variants__sku"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]
    inlines = [VariantInline]


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
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

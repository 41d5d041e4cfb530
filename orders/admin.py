from django.contrib import admin

from orders.models import Handover, Order, OrderEvent, OrderLine, Payment, StripeEvent


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["variant", "sku", "name", "unit_price", "quantity", "collected_quantity"]


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "from_status", "to_status", "actor", "user", "channel", "note"]


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    readonly_fields = [
        "provider",
        "method",
        "reference",
        "currency",
        "amount_authorised",
        "amount_captured",
        "amount_refunded",
        "status",
        "created_at",
    ]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read-mostly: status changes go through the services (tablet), never a bare edit."""

    list_display = [
        "number",
        "status",
        "store",
        "channel",
        "payment_method",
        "payment_status",
        "total",
        "slot_start",
        "created_at",
    ]
    list_filter = ["status", "store", "channel", "payment_method", "payment_status"]
    search_fields = ["number", "contact_email", "contact_name", "contact_phone"]
    date_hierarchy = "created_at"
    list_select_related = ["store"]
    readonly_fields = [
        "number",
        "customer",
        "store",
        "cart",
        "channel",
        "status",
        "payment_method",
        "payment_status",
        "currency",
        "total",
        "slot_start",
        "slot_end",
        "hold_until",
        "guest_checkout",
        "idempotency_key",
        "pickup_code",
        "code_failures",
        "code_locked_at",
        "cancel_reason",
        "created_at",
    ]
    exclude = ["pickup_token"]
    inlines = [OrderLineInline, PaymentInline, OrderEventInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting would strand reserved stock and erase the audit trail.
        return False


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "from_status", "to_status", "actor", "channel", "user"]
    list_filter = ["to_status", "actor", "channel"]
    search_fields = ["order__number"]
    list_select_related = ["order", "user"]
    readonly_fields = [f.name for f in OrderEvent._meta.fields]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "order",
        "provider",
        "method",
        "amount_captured",
        "currency",
        "status",
    ]
    list_filter = ["provider", "method", "status"]
    search_fields = ["order__number", "reference", "provider_reference"]
    list_select_related = ["order"]
    readonly_fields = [f.name for f in Payment._meta.fields]


@admin.register(Handover)
class HandoverAdmin(admin.ModelAdmin):
    list_display = ["collected_at", "order", "collector_name", "collector", "verified_by", "clerk"]
    search_fields = ["order__number", "collector_name"]
    list_select_related = ["order", "clerk"]
    readonly_fields = [f.name for f in Handover._meta.fields]


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "event_id", "type", "payment", "changed"]
    list_filter = ["type", "changed"]
    search_fields = ["event_id", "payment__provider_reference", "payment__order__number"]
    list_select_related = ["payment"]
    readonly_fields = [f.name for f in StripeEvent._meta.fields]

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.display import money
from customers.models import Channel
from orders import services
from orders.errors import OrderError
from orders.forms import RefundForm
from orders.models import (
    Handover,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    StripeEvent,
)
from stores.selectors import is_manager


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = [
        "variant",
        "sku",
        "name",
        "unit_price",
        "quantity",
        "collected_quantity",
        "refunded_quantity",
    ]


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

    def get_queryset(self, request):
        return super().get_queryset(request).filter(refund_of__isnull=True)


class RefundInline(admin.TabularInline):
    """The refunds of the order, read-only: a refund is made through "Refund" (the service)."""

    model = Payment
    verbose_name = _("refund")
    verbose_name_plural = _("refunds")
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "amount_refunded",
        "currency",
        "provider",
        "method",
        "reference",
        "provider_reference",
        "user",
        "note",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(refund_of__isnull=False).select_related("user")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
        "total_money",
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
    inlines = [OrderLineInline, PaymentInline, RefundInline, OrderEventInline]
    change_form_template = "admin/orders/order/change_form.html"

    @admin.display(description=gettext_lazy("Total"), ordering="total")
    def total_money(self, order: Order) -> str:
        return money(order.total, order.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting would strand reserved stock and erase the audit trail.
        return False

    # --- Refunds: through the same service as the tablet ---------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="orders_order_refund",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def may_refund(request, order: Order) -> bool:
        """Superusers, and managers of the order's store."""
        return request.user.is_superuser or is_manager(request.user, order.store)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "can_refund": order is not None
            and order.status == OrderStatus.COLLECTED
            and self.may_refund(request, order),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def refund_view(self, request, object_id):
        order = get_object_or_404(Order.objects.select_related("store"), pk=object_id)
        if not self.has_view_permission(request, order) or not self.may_refund(request, order):
            raise PermissionDenied
        status = 200
        error = ""
        if request.method == "POST":
            form = RefundForm(request.POST, order=order)
            if form.is_valid():
                try:
                    refund = services.refund_order(
                        order=order,
                        user=request.user,
                        # The back office is a web page, not the store's counter.
                        channel=Channel.WEB,
                        **form.refund_arguments(),
                    )
                except OrderError as exc:
                    error, status = exc.message, exc.status
                else:
                    messages.success(
                        request,
                        _("%(amount)s refunded.")
                        % {"amount": money(refund.amount_refunded, refund.currency)},
                    )
                    return redirect(reverse("admin:orders_order_change", args=[order.pk]))
            else:
                status = 400
        else:
            form = RefundForm(order=order)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": order,
            "order": order,
            "form": form,
            "error": error,
            "refunds": order.payments.filter(refund_of__isnull=False).select_related("user"),
            "refund_at_till": order.payments.filter(
                provider=Payment.Provider.IN_STORE, refund_of__isnull=True
            ).exists(),
            "title": _("Refund order %(number)s") % {"number": order.number},
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context, status=status)


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

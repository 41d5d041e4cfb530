from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.admin import EstimatedCountPaginator
from core.display import admin_time_column, money
from customers.models import Channel
from orders import selectors, services
from orders.errors import OrderError
from orders.forms import RefundForm
from orders.models import (
    Handover,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentAnomaly,
    PickupVerification,
    StripeEvent,
)
from stores.selectors import is_manager


# Times in the admin: in the order's store's zone, named ("15 Jan 2025, 08:00 CST").
def _store_zone(obj) -> str:
    return obj.store.timezone


def _order_zone(obj) -> str:
    return obj.order.store.timezone


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "variant",
        "sku",
        "name",
        "price",
        "quantity",
        "collected_quantity",
        "refunded_quantity",
    ]

    @admin.display(description=gettext_lazy("Price"))
    def price(self, line: OrderLine) -> str:
        return money(line.unit_price, line.order.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "variant")


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "created_at_shown",
        "from_status",
        "to_status",
        "actor",
        "user",
        "channel",
        "note",
    ]
    created_at_shown = admin_time_column(OrderEvent, "created_at", _order_zone)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order__store", "user")


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "provider",
        "method",
        "reference",
        "authorised",
        "captured",
        "refunded",
        "status",
        "created_at_shown",
    ]
    created_at_shown = admin_time_column(Payment, "created_at", _order_zone)

    @admin.display(description=gettext_lazy("Authorised"))
    def authorised(self, payment: Payment) -> str:
        return money(payment.amount_authorised, payment.currency)

    @admin.display(description=gettext_lazy("Captured"))
    def captured(self, payment: Payment) -> str:
        return money(payment.amount_captured, payment.currency)

    @admin.display(description=gettext_lazy("Refunded"))
    def refunded(self, payment: Payment) -> str:
        return money(payment.amount_refunded, payment.currency)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(refund_of__isnull=True)
            .select_related("order__store")
        )


class RefundInline(admin.TabularInline):
    """The refunds of the order, read-only: a refund is made through "Refund" (the service)."""

    model = Payment
    verbose_name = _("refund")
    verbose_name_plural = _("refunds")
    extra = 0
    can_delete = False
    fields = [
        "created_at_shown",
        "amount",
        "provider",
        "method",
        "reference",
        "provider_reference",
        "user",
        "note",
    ]
    readonly_fields = fields
    created_at_shown = admin_time_column(Payment, "created_at", _order_zone)

    @admin.display(description=gettext_lazy("Amount"))
    def amount(self, refund: Payment) -> str:
        return money(refund.amount_refunded, refund.currency)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(refund_of__isnull=False)
            .select_related("user", "order__store")
        )

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
        "slot_start_shown",
        "created_at_shown",
    ]
    list_filter = [
        "status",
        "store",
        "channel",
        "payment_method",
        "payment_status",
        ("created_at", admin.DateFieldListFilter),
    ]
    # A million orders: no date hierarchy (a scan of every year), no full counts, and a search
    # on indexed fields only (see get_search_results).
    search_fields = ["number", "contact_email", "contact_name", "contact_phone"]
    search_help_text = gettext_lazy(
        "An order number, a phone number, or part of a customer's email address or name."
    )
    show_full_result_count = False
    paginator = EstimatedCountPaginator
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
        "total_money",
        "slot_start_shown",
        "slot_end_shown",
        "hold_until_shown",
        "arrived_at_shown",
        "guest_checkout",
        "idempotency_key",
        "pickup_code",
        "code_failures",
        "code_locked_at_shown",
        "cancel_reason",
        "created_at_shown",
        "updated_at_shown",
    ]
    fields = [
        *readonly_fields[:13],
        "contact_name",
        "contact_email",
        "contact_phone",
        "pickup_person",
        *readonly_fields[13:],
    ]
    slot_start_shown = admin_time_column(Order, "slot_start", _store_zone)
    slot_end_shown = admin_time_column(Order, "slot_end", _store_zone)
    hold_until_shown = admin_time_column(Order, "hold_until", _store_zone)
    arrived_at_shown = admin_time_column(Order, "arrived_at", _store_zone)
    code_locked_at_shown = admin_time_column(Order, "code_locked_at", _store_zone)
    created_at_shown = admin_time_column(Order, "created_at", _store_zone)
    updated_at_shown = admin_time_column(Order, "updated_at", _store_zone)
    inlines = [OrderLineInline, PaymentInline, RefundInline, OrderEventInline]
    change_form_template = "admin/orders/order/change_form.html"

    def get_search_results(self, request, queryset, search_term):
        """The order with this number, the orders with this phone number, or those whose email
        or name contains the term: each an index (unique number, phone, pg_trgm on email and
        name, migration 0011), so the search does not scan the table."""
        term = " ".join(search_term.split())[:100]
        if not term:
            return queryset, False
        found = (
            Q(number=term.upper())
            | Q(contact_phone=term)
            | Q(contact_email__icontains=term)
            | Q(contact_name__icontains=term)
        )
        return queryset.filter(found), False

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
            and self.may_refund(request, order)
            and selectors.refund_summary(order).can_refund,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def refund_order(object_id) -> Order:
        """The order with what its refund page shows: its lines, and its payments with who
        made them."""
        return get_object_or_404(
            Order.objects.select_related("store").prefetch_related(
                "lines", Prefetch("payments", queryset=Payment.objects.select_related("user"))
            ),
            pk=object_id,
        )

    def refund_view(self, request, object_id):
        order = self.refund_order(object_id)
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
        # After a refused refund: read again, the page shows the order as it is now.
        summary = selectors.refund_summary(
            self.refund_order(object_id) if request.method == "POST" else order
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": order,
            "order": order,
            "form": form,
            "error": error,
            "refunds": summary.refunds,
            "refund_at_till": summary.at_till,
            "title": _("Refund order %(number)s") % {"number": order.number},
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context, status=status)


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at_shown",
        "order",
        "from_status",
        "to_status",
        "actor",
        "channel",
        "user",
    ]
    list_filter = ["to_status", "actor", "channel"]
    search_fields = ["order__number"]
    list_select_related = ["order__store", "user"]
    readonly_fields = [
        *(f.name for f in OrderEvent._meta.fields if f.name != "created_at"),
        "created_at_shown",
    ]
    fields = readonly_fields  # nothing here is edited by hand
    created_at_shown = admin_time_column(OrderEvent, "created_at", _order_zone)


PAYMENT_TIMES = ("created_at", "captured_at", "pending_since")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "created_at_shown",
        "order",
        "provider",
        "method",
        "captured",
        "status",
    ]
    list_filter = ["provider", "method", "status"]
    search_fields = ["order__number", "reference", "provider_reference"]
    list_select_related = ["order__store"]
    readonly_fields = [
        *(f.name for f in Payment._meta.fields if f.name not in PAYMENT_TIMES),
        *(f"{name}_shown" for name in PAYMENT_TIMES),
    ]
    fields = readonly_fields  # nothing here is edited by hand
    created_at_shown = admin_time_column(Payment, "created_at", _order_zone)
    captured_at_shown = admin_time_column(Payment, "captured_at", _order_zone)
    pending_since_shown = admin_time_column(Payment, "pending_since", _order_zone)

    @admin.display(description=gettext_lazy("Captured"), ordering="amount_captured")
    def captured(self, payment: Payment) -> str:
        return money(payment.amount_captured, payment.currency)


@admin.register(PickupVerification)
class PickupVerificationAdmin(admin.ModelAdmin):
    """Which clerk checked which order's QR or code, and when (read-only)."""

    list_display = ["order", "user", "method", "verified_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Handover)
class HandoverAdmin(admin.ModelAdmin):
    list_display = [
        "collected_at_shown",
        "order",
        "collector_name",
        "collector",
        "verified_by",
        "clerk",
    ]
    search_fields = ["order__number", "collector_name"]
    list_select_related = ["order__store", "clerk"]
    readonly_fields = [
        *(f.name for f in Handover._meta.fields if f.name != "collected_at"),
        "collected_at_shown",
    ]
    fields = readonly_fields  # nothing here is edited by hand
    collected_at_shown = admin_time_column(Handover, "collected_at", _order_zone)


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "event_id", "type", "payment", "changed"]
    list_filter = ["type", "changed"]
    search_fields = ["event_id", "payment__provider_reference", "payment__order__number"]
    list_select_related = ["payment"]
    readonly_fields = [f.name for f in StripeEvent._meta.fields]


@admin.register(PaymentAnomaly)
class PaymentAnomalyAdmin(admin.ModelAdmin):
    """Refused provider events (also listed in the payments reconciliation): a record, never
    edited by hand."""

    list_display = ["created_at", "kind", "provider_reference", "order", "amount", "currency"]
    list_filter = ["kind"]
    search_fields = ["provider_reference", "event_id", "order__number"]
    list_select_related = ["order"]
    readonly_fields = [f.name for f in PaymentAnomaly._meta.fields]

    def has_add_permission(self, request):
        return False

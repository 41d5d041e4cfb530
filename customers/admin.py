from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from core.display import admin_time_column
from customers.models import (
    Customer,
    CustomerAccess,
    Notification,
    NpsAnswer,
    NpsFollowUp,
    Touchpoint,
    User,
)
from customers.services import send_again

# Times here belong to no store: shown in UTC, and labelled so.


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class TouchpointInline(admin.TabularInline):
    model = Touchpoint
    extra = 0
    fields = readonly_fields = ["created_at_shown", "channel", "kind", "payload"]
    can_delete = False
    created_at_shown = admin_time_column(Touchpoint, "created_at")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "phone", "user", "created_at"]
    search_fields = ["email", "name", "phone", "reference"]
    readonly_fields = ["reference"]
    raw_id_fields = ["user"]
    inlines = [TouchpointInline]


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ["created_at_shown", "customer", "channel", "kind"]
    created_at_shown = admin_time_column(Touchpoint, "created_at")
    list_filter = ["channel", "kind"]
    search_fields = ["customer__email"]
    raw_id_fields = ["customer"]
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox: what was sent to whom, what waits, and what failed (with why)."""

    list_display = [
        "created_at_shown",
        "kind",
        "order_number",
        "customer",
        "channel",
        "status",
        "attempts",
        "scheduled_for_shown",
        "reason",
    ]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["order_number", "customer__email", "dedupe_key"]
    raw_id_fields = ["customer"]
    readonly_fields = [
        "customer",
        "order_number",
        "kind",
        "context",
        "origin",
        "channel",
        "dedupe_key",
        "status",
        "scheduled_for_shown",
        "attempts",
        "sending_since_shown",
        "sent_at_shown",
        "provider_id",
        "reason",
        "created_at_shown",
    ]
    fields = readonly_fields  # nothing here is edited by hand
    actions = ["send_again_action"]
    created_at_shown = admin_time_column(Notification, "created_at")
    scheduled_for_shown = admin_time_column(Notification, "scheduled_for")
    sending_since_shown = admin_time_column(Notification, "sending_since")
    sent_at_shown = admin_time_column(Notification, "sent_at")

    @admin.action(description=_("Send the selected failed messages again"))
    def send_again_action(self, request, queryset):
        count = sum(1 for n in queryset if send_again(notification=n))
        self.message_user(request, _("%(count)d messages queued again.") % {"count": count})


@admin.register(NpsAnswer)
class NpsAnswerAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order_number", "customer", "score", "comment"]
    list_filter = ["score"]
    search_fields = ["order_number", "customer__email"]
    readonly_fields = ["customer", "order_number", "score", "comment", "created_at"]


@admin.register(NpsFollowUp)
class NpsFollowUpAdmin(ReadOnlyAdmin):
    """Follow-ups of detractors' answers: managers work them at /manage/follow-ups/ (each
    change is a touchpoint there); read here."""

    list_display = ["created_at", "answer", "status", "updated_by", "updated_at"]
    list_filter = ["status"]
    search_fields = ["answer__order_number", "answer__customer__email"]


@admin.register(CustomerAccess)
class CustomerAccessAdmin(ReadOnlyAdmin):
    """The log of customer records opened at the tablets: read, never written by hand."""

    list_display = ["viewed_at_shown", "store", "user", "customer", "via"]
    list_filter = ["store", "via"]
    search_fields = ["customer__email", "customer__name", "customer__reference", "user__email"]
    list_select_related = ["store", "user", "customer"]
    date_hierarchy = "viewed_at"
    fields = readonly_fields = ["viewed_at_shown", "store", "user", "customer", "via"]
    viewed_at_shown = admin_time_column(
        CustomerAccess, "viewed_at", lambda view: view.store.timezone
    )

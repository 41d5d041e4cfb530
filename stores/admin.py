from django.contrib import admin, messages
from django.utils.translation import gettext as _

from core.admin import ReadOnlyAdmin
from stores.models import Closure, OpeningHours, SlotBooking, StaffMembership, StockLevel, Store
from stores.services import set_on_hand


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ClosureInline(admin.TabularInline):
    model = Closure
    extra = 0


class StaffInline(admin.TabularInline):
    model = StaffMembership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "city",
        "timezone",
        "slot_minutes",
        "slot_capacity",
        "hold_hours",
        "reminder_minutes",
        "hold_reminder_hours",
        "is_active",
    ]
    search_fields = ["code", "name", "city"]
    inlines = [OpeningHoursInline, ClosureInline, StaffInline]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    """Staff set what is on the shelf; reservations belong to orders and are never edited."""

    list_display = ["store", "variant", "on_hand", "reserved"]
    list_filter = ["store"]
    search_fields = ["variant__sku", "variant__product__name"]
    raw_id_fields = ["variant"]
    list_select_related = ["store", "variant__product"]
    readonly_fields = ["reserved"]

    def get_readonly_fields(self, request, obj=None):
        # The row's identity is fixed once it exists.
        return ["store", "variant", "reserved"] if obj else ["reserved"]

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        if not set_on_hand(store_id=obj.store_id, variant_id=obj.variant_id, on_hand=obj.on_hand):
            obj.refresh_from_db()
            messages.error(
                request,
                _("On hand cannot go below the %(reserved)d units reserved for open orders.")
                % {"reserved": obj.reserved},
            )


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "store", "role"]
    list_filter = ["role", "store"]
    raw_id_fields = ["user"]


@admin.register(SlotBooking)
class SlotBookingAdmin(ReadOnlyAdmin):
    """Read-only: bookings are counted by checkouts and cancellations."""

    list_display = ["store", "start", "booked"]
    list_filter = ["store"]

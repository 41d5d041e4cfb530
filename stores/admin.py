from django.contrib import admin

from stores.models import Closure, OpeningHours, SlotBooking, StaffMembership, StockLevel, Store


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
        "is_active",
    ]
    search_fields = ["code", "name", "city"]
    inlines = [OpeningHoursInline, ClosureInline, StaffInline]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ["store", "variant", "on_hand", "reserved"]
    list_filter = ["store"]
    search_fields = ["variant__sku", "variant__product__name"]
    raw_id_fields = ["variant"]
    list_select_related = ["store", "variant"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "store", "role"]
    list_filter = ["role", "store"]
    raw_id_fields = ["user"]


@admin.register(SlotBooking)
class SlotBookingAdmin(admin.ModelAdmin):
    list_display = ["store", "start", "booked"]
    list_filter = ["store"]

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from customers.phones import country_for_timezone


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Store(models.Model):
    code = models.SlugField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=255)
    city = models.CharField(_("city"), max_length=80)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, validators=[validate_timezone])
    slot_minutes = models.PositiveSmallIntegerField(_("pickup slot length (minutes)"), default=30)
    slot_capacity = models.PositiveSmallIntegerField(_("orders per pickup slot"), default=6)
    lead_time_minutes = models.PositiveSmallIntegerField(
        _("preparation lead time (minutes)"), default=60
    )
    hold_hours = models.PositiveSmallIntegerField(_("hold ready orders for (hours)"), default=48)
    # The no-show policy's reminders to the customer of a ready order (0 turns one off).
    reminder_minutes = models.PositiveSmallIntegerField(
        _("pickup reminder before the slot (minutes)"),
        default=60,
        help_text=_("0: no reminder."),
    )
    hold_reminder_hours = models.PositiveSmallIntegerField(
        _("hold ending reminder before the hold ends (hours)"),
        default=6,
        help_text=_("0: no reminder."),
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(slot_minutes__gte=5), name="store_slot_minutes_min"),
            models.CheckConstraint(
                condition=Q(slot_capacity__gte=1), name="store_slot_capacity_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def country(self) -> str:
        """The store's country (ISO 3166), from its time zone: "ES", "MX"."""
        return country_for_timezone(self.timezone)


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="hours_close_after_open"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="hours_weekday_range"),
            models.UniqueConstraint(fields=["store", "weekday", "opens"], name="hours_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Closure(models.Model):
    """A whole local day the store does not hand out orders (holiday, stocktake)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta:
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        constraints = [models.UniqueConstraint(fields=["store", "date"], name="closure_unique")]

    def __str__(self) -> str:
        return f"{self.store.code} closed {self.date}"


class StockLevel(models.Model):
    """Units of one variant at one store. available = on_hand − reserved, never negative."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="stock_levels")
    variant = models.ForeignKey(
        "shop.Variant", on_delete=models.CASCADE, related_name="stock_levels"
    )
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["store", "variant"], name="stock_unique"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_nonneg"),
            models.CheckConstraint(
                condition=Q(on_hand__gte=F("reserved")), name="stock_available_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id}/{self.variant_id}: {self.on_hand - self.reserved} available"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class SlotBooking(models.Model):
    """How many orders are booked into one pickup slot (counter, changed by conditional UPDATE)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="slot_bookings")
    start = models.DateTimeField()
    booked = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "start"], name="slot_booking_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.start:%Y-%m-%d %H:%M} ({self.booked} booked)"


class StaffMembership(models.Model):
    class Role(models.TextChoices):
        CLERK = "clerk", _("Clerk")
        MANAGER = "manager", _("Manager")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships"
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.CLERK)

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="staff_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store.code} ({self.role})"

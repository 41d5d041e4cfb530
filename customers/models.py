import secrets
import unicodedata
import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    """Where an interaction happened. Exactly these three (DESIGN §1)."""

    WEB = "web", _("Web")
    MOBILE = "mobile", _("Mobile app")
    STORE = "store", _("Store")


class ContactChannel(models.TextChoices):
    """How we may reach a customer with a message (their preference list uses these)."""

    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")


# A touchpoint happens where the customer acted (web, app, store) or, for a message, on the
# channel it went out on.
TOUCHPOINT_CHANNELS = [*Channel.choices, *ContactChannel.choices]


def validate_timezone(value: str) -> None:
    if value:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                _("Unknown time zone: %(value)s"), params={"value": value}
            ) from None


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login: a shopper, a clerk or a manager. Identified by email."""

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        _("admin access"), default=False, help_text=_("Can log into the admin site.")
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


def fold_for_search(text: str) -> str:
    """``text`` without case or accents, for search: "Lucía" and "LUCIA" both become "lucia".

    Kept in ``Customer.search_name`` and applied to what the clerk types, so the search is the
    same on PostgreSQL and on the demo's SQLite (whose LIKE and lower() fold ASCII only).
    """
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# 16 random bytes: 22 url-safe characters, 128 bits (DESIGN §5's bar for an opaque token).
REFERENCE_BYTES = 16


def new_customer_reference() -> str:
    return secrets.token_urlsafe(REFERENCE_BYTES)


class Customer(models.Model):
    """One person, whatever the channel. The same email is the same customer (DESIGN §1)."""

    # How the store tablet names the customer in its URLs: random and unguessable, never the
    # sequential id, so no one walks the customer file by counting.
    reference = models.CharField(
        max_length=32, unique=True, default=new_customer_reference, editable=False
    )
    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="customer"
    )
    email = models.EmailField(_("email"))
    name = models.CharField(_("name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=8, default="es")
    preferred_channels = models.JSONField(_("preferred channels"), default=list, blank=True)
    quiet_hours_start = models.TimeField(_("quiet hours start"), null=True, blank=True)
    quiet_hours_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    # Quiet hours are in this time zone (IANA name); blank: the time zone of the store the
    # message is about, else the site's.
    timezone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_timezone]
    )
    marketing_opt_in = models.BooleanField(_("marketing opt-in"), default=False)
    # Set once the person proved they own the address; guest orders under this email are
    # shown to the account only after that.
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # ``name`` folded for search (see ``fold_for_search``), kept in step by ``save``.
    search_name = models.TextField(blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args, **kwargs):
        # Whoever writes the name (the services, the admin, seed_demo) keeps its search form.
        self.search_name = fold_for_search(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "search_name"}
        super().save(*args, **kwargs)


# What each touchpoint kind means, for people reading a timeline. Kinds not listed here are
# shown as they are stored.
TOUCHPOINT_KINDS = {
    "account_created": _("Created an account"),
    "logged_in": _("Logged in"),
    "profile_changed": _("Changed their details or preferences"),
    "verification_sent": _("Email confirmation link sent"),
    "email_verified": _("Confirmed their email address"),
    "password_reset_requested": _("Asked for a link to choose a new password"),
    "password_changed": _("Chose a new password"),
    "product_viewed": _("Looked at a product"),
    "cart_changed": _("Changed the cart"),
    "cart_merged": _("Two carts joined into one"),
    "store_chosen": _("Chose a pickup store"),
    "cart_handoff_started": _("Handed the cart to another device"),
    "cart_handed_off": _("Cart taken over by another device"),
    "cart_claimed": _("Took over a cart from another device"),
    "order_placed": _("Placed an order"),
    # An order waiting for its card (or switched to paying at the counter) goes ahead.
    "order_confirmed": _("Order confirmed"),
    "order_preparing": _("Order being prepared"),
    "order_ready": _("Order ready for pickup"),
    "order_collected": _("Collected an order"),
    "order_cancelled": _("Order cancelled"),
    "order_expired": _("Order not collected in time"),
    "customer_arrived": _("Arrived at the store"),
    "payment_authorised": _("Card payment authorised"),
    "payment_failed": _("Card payment refused"),
    "payment_captured": _("Card charged"),
    "payment_voided": _("Card hold released"),
    "payment_refunded": _("Money refunded"),
    "notification_sent": _("Message sent"),
    "notification_deferred": _("Message held until quiet hours end"),
    "notification_suppressed": _("Message not sent"),
    "notification_failed": _("Message could not be sent"),
    "nps_answered": _("Answered the satisfaction survey"),
}


class Touchpoint(models.Model):
    """One measured interaction with a customer, on one channel (the 360° timeline)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="touchpoints")
    channel = models.CharField(max_length=8, choices=TOUCHPOINT_CHANNELS)
    kind = models.CharField(max_length=48)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} ({self.channel})"

    @property
    def kind_label(self) -> str:
        return str(TOUCHPOINT_KINDS.get(self.kind, self.kind))

    @property
    def message_detail(self) -> str:
        """For a message's touchpoint: which message, and why it was held, not sent or failed
        ("Ready for pickup · quiet hours"); the channel it went on is the touchpoint's."""
        payload = self.payload or {}
        if "message" not in payload:
            return ""
        parts = [str(dict(NotificationKind.choices).get(payload["message"], payload["message"]))]
        reason = payload.get("reason") or ""
        if reason:
            parts.append(str(MESSAGE_REASONS.get(reason, reason)))
        return " · ".join(part for part in parts if part)


class NotificationKind(models.TextChoices):
    """What a message is about (DESIGN §6)."""

    CONFIRMED = "order_confirmed", _("Order confirmed")
    READY = "order_ready", _("Ready for pickup")
    REMINDER = "pickup_reminder", _("Pickup reminder")
    HOLD_EXPIRING = "hold_expiring", _("Hold ending soon")
    EXPIRED = "order_expired", _("Not collected in time")
    CANCELLED = "order_cancelled", _("Order cancelled")
    REFUND = "refund", _("Refund")
    RECEIPT = "receipt", _("Receipt")
    NPS = "nps_survey", _("Satisfaction survey")


# Why a message was held or not sent, as the contact policy and the order lifecycle say it.
MESSAGE_REASONS = {
    "quiet_hours": _("held for quiet hours"),
    "frequency_cap": _("too many messages lately"),
    "no_reachable_channel": _("no way to reach the customer"),
    "no_marketing_consent": _("no marketing consent"),
    "order collected": _("order already collected"),
    "order cancelled": _("order cancelled"),
    "order expired": _("order not collected in time"),
}

# Messages about an order the customer placed: they need no consent and are never capped.
# Everything else is capped per customer; marketing kinds (none yet) also need the opt-in.
TRANSACTIONAL_KINDS = frozenset(
    {
        NotificationKind.CONFIRMED,
        NotificationKind.READY,
        NotificationKind.REMINDER,
        NotificationKind.HOLD_EXPIRING,
        NotificationKind.EXPIRED,
        NotificationKind.CANCELLED,
        NotificationKind.REFUND,
        NotificationKind.RECEIPT,
    }
)
MARKETING_KINDS: frozenset[str] = frozenset()


class Notification(models.Model):
    """An outbox row: written in the same transaction as the change that causes it, delivered
    by a Celery task after commit, re-sent by the sweep if that task was lost."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        SUPPRESSED = "suppressed", _("Not sent (contact rules)")
        FAILED = "failed", _("Failed")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notifications")
    # The order it is about, by number (customers knows nothing of orders).
    order_number = models.CharField(max_length=16, blank=True, db_index=True)
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    # What the message says: store, pickup time, code, amounts... rendered when it is sent,
    # in ``language`` (the order's), else in the customer's language at that time.
    context = models.JSONField(default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    # Where the interaction that caused it happened (web, mobile, store): its touchpoints' channel.
    origin = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    # The channel it went (or goes) out on, decided by the contact policy at send time.
    channel = models.CharField(max_length=10, choices=ContactChannel.choices, blank=True)
    # Channels that refused this message for good (a bad number): the policy skips them.
    refused_channels = models.JSONField(default=list, blank=True)
    # One message per (order, kind): a retried or repeated trigger finds the row.
    dedupe_key = models.CharField(max_length=120, unique=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # Not before this time (quiet hours, a retry's back-off, a survey sent later).
    scheduled_for = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set while a worker is sending; one still set long after is a send that died.
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    # Why it was not sent, or the last delivery error.
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "scheduled_for"])]

    def __str__(self) -> str:
        return f"{self.kind} to {self.customer_id} ({self.status})"


class NpsAnswer(models.Model):
    """A customer's answer to the satisfaction survey sent after a collection (one per order)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="nps_answers")
    order_number = models.CharField(max_length=16, unique=True)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        constraints = [
            models.CheckConstraint(condition=models.Q(score__lte=10), name="nps_score_0_10")
        ]

    def __str__(self) -> str:
        return f"{self.order_number}: {self.score}"


class NpsFollowUp(models.Model):
    """A detractor's answer (0–6) waiting for the store's managers: opened with the answer,
    then marked contacted or resolved with a note (each a touchpoint on the timeline)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONTACTED = "contacted", _("Contacted")
        RESOLVED = "resolved", _("Resolved")

    answer = models.OneToOneField(NpsAnswer, on_delete=models.CASCADE, related_name="follow_up")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(blank=True, max_length=1000)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("survey follow-up")
        verbose_name_plural = _("survey follow-ups")
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.answer.order_number}: {self.status}"


class CustomerAccess(models.Model):
    """One view of a customer's record at a store's tablet: who looked, where, when, and how
    they got there. Managers read it for their stores; nothing here is edited."""

    class Via(models.TextChoices):
        SEARCH = "search", _("Customer search")
        ORDER = "order", _("Order page")
        NEW = "new", _("Added or found by email")
        # The page again: after an action on the cart, or reloaded.
        PAGE = "page", _("Customer page")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accesses")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("stores.Store", on_delete=models.PROTECT, related_name="+")
    via = models.CharField(_("via"), max_length=8, choices=Via.choices, default=Via.PAGE)
    viewed_at = models.DateTimeField(_("viewed at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer record view")
        verbose_name_plural = _("customer record views")
        ordering = ["-viewed_at", "-pk"]
        indexes = [models.Index(fields=["store", "-viewed_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id} by {self.user_id} at {self.store_id}"

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
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


class Customer(models.Model):
    """One person, whatever the channel. The same email is the same customer (DESIGN §1)."""

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
    marketing_opt_in = models.BooleanField(_("marketing opt-in"), default=False)
    # Set once the person proved they own the address; guest orders under this email are
    # shown to the account only after that.
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


# What each touchpoint kind means, for people reading a timeline. Kinds not listed here are
# shown as they are stored.
TOUCHPOINT_KINDS = {
    "account_created": _("Created an account"),
    "logged_in": _("Logged in"),
    "profile_changed": _("Changed their details or preferences"),
    "verification_sent": _("Email confirmation link sent"),
    "email_verified": _("Confirmed their email address"),
    "product_viewed": _("Looked at a product"),
    "cart_changed": _("Changed the cart"),
    "cart_merged": _("Two carts joined into one"),
    "store_chosen": _("Chose a pickup store"),
    "cart_handoff_started": _("Handed the cart to another device"),
    "cart_handed_off": _("Cart taken over by another device"),
    "cart_claimed": _("Took over a cart from another device"),
    "order_placed": _("Placed an order"),
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
}


class Touchpoint(models.Model):
    """One measured interaction with a customer, on one channel (the 360° timeline)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="touchpoints")
    channel = models.CharField(max_length=8, choices=Channel.choices)
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

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.display import money
from customers.models import Channel

# Unambiguous alphabet for anything a person reads aloud or types: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def random_code(length: int = 8) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_order_number() -> str:
    return f"CC-{random_code(8)}"


def new_pickup_token() -> str:
    # 32 bytes = 256 random bits, URL-safe, what the QR code carries.
    return secrets.token_urlsafe(32)


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PLACED = "placed", _("Placed")
    PREPARING = "preparing", _("Being prepared")
    READY = "ready", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Not collected")


# The only legal moves (DESIGN §3). Everything else is an OrderError("illegal_transition").
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING_PAYMENT: frozenset({OrderStatus.PLACED, OrderStatus.CANCELLED}),
    OrderStatus.PLACED: frozenset({OrderStatus.PREPARING, OrderStatus.CANCELLED}),
    OrderStatus.PREPARING: frozenset({OrderStatus.READY, OrderStatus.CANCELLED}),
    OrderStatus.READY: frozenset({OrderStatus.COLLECTED, OrderStatus.EXPIRED}),
    OrderStatus.COLLECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}

# States in which the order still holds reserved stock.
HOLDING_STOCK = frozenset(
    {OrderStatus.PENDING_PAYMENT, OrderStatus.PLACED, OrderStatus.PREPARING, OrderStatus.READY}
)


# "I'm here" tells the counter the customer is standing in the store, so it is open only when
# that can be true: a ready order (it waits for them until collected or expired), or an order
# still being prepared once its pickup slot is about to start (grace for an early arrival).
# Before that the store cannot act on the cue; a collected, cancelled, expired or unpaid
# order has nothing to pick up.
ARRIVAL_GRACE = timedelta(minutes=15)


class PaymentMethod(models.TextChoices):
    IN_STORE = "in_store", _("Pay at the counter")
    ONLINE = "online", _("Pay online")


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Not paid yet")
    AUTHORISED = "authorised", _("Authorised")
    PAID = "paid", _("Paid")
    REFUNDED = "refunded", _("Refunded")
    VOIDED = "voided", _("Voided")


class Actor(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    STAFF = "staff", _("Staff")
    SYSTEM = "system", _("System")


class Order(models.Model):
    number = models.CharField(max_length=16, unique=True, default=new_order_number, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders"
    )
    store = models.ForeignKey("stores.Store", on_delete=models.PROTECT, related_name="orders")
    cart = models.ForeignKey(
        "shop.Cart", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)
    # SHA-256 of the canonical checkout request sent with the idempotency key (API checkout):
    # the same key with a different request is refused instead of answered with this order.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # Placed without logging in: the email was typed, not proven.
    guest_checkout = models.BooleanField(default=False)
    # The language the order was placed in: its messages speak it (blank: the customer's).
    language = models.CharField(_("language"), max_length=8, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, db_index=True)
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    payment_status = models.CharField(
        max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    slot_start = models.DateTimeField()
    slot_end = models.DateTimeField()
    hold_until = models.DateTimeField(null=True, blank=True)
    # "I'm here": when the customer checked in at the store (the first time).
    arrived_at = models.DateTimeField(null=True, blank=True)
    # Contact at the time of ordering, and who will pick it up.
    contact_name = models.CharField(max_length=150)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=32, blank=True)
    pickup_person = models.CharField(
        _("collected by someone else"),
        max_length=150,
        blank=True,
        help_text=_("Name of the person the customer chose to collect the order."),
    )
    # Pickup secrets: the QR token (one use) and the short code typed at the counter.
    pickup_token = models.CharField(
        max_length=64, unique=True, default=new_pickup_token, editable=False
    )
    pickup_code = models.CharField(max_length=8, default=random_code, editable=False)
    code_failures = models.PositiveSmallIntegerField(default=0)
    code_locked_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="order_idempotency_unique",
            ),
            models.UniqueConstraint(
                fields=["store", "pickup_code"], name="order_pickup_code_unique"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_nonneg"),
            models.CheckConstraint(
                condition=Q(slot_end__gt=models.F("slot_start")), name="order_slot_order"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "status", "slot_start"]),
            # The tablet's columns: each one's first tickets walked in order, and the totals
            # counted from the index alone (``orders.selectors.queue``).
            models.Index(
                fields=["store", "status", "arrived_at", "slot_start", "created_at", "id"],
                include=["hold_until", "updated_at"],
                name="order_store_queue_idx",
            ),
            # The tablet poll's version: the store's latest order write.
            models.Index(fields=["store", "-updated_at"], name="order_store_updated_idx"),
            # A customer's orders, newest first (the account page and GET /api/v1/orders/).
            models.Index(
                fields=["customer", "-created_at", "-id"], name="order_customer_newest_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    # Only for deciding which buttons to show; services decide.
    def can_move_to(self, status: str) -> bool:
        return status in TRANSITIONS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in HOLDING_STOCK

    @property
    def code_locked(self) -> bool:
        return self.code_locked_at is not None

    def check_in_open(self, now=None) -> bool:
        """Whether "I'm here" makes sense now (see ``ARRIVAL_GRACE``)."""
        if self.status == OrderStatus.READY:
            return True
        if self.status in (OrderStatus.PLACED, OrderStatus.PREPARING):
            return (now or timezone.now()) >= self.slot_start - ARRIVAL_GRACE
        return False


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("shop.Variant", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=40)
    name = models.CharField(max_length=255)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    collected_quantity = models.PositiveIntegerField(null=True, blank=True)
    # Units given back (refunded) after collection.
    refunded_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_pos"),
            models.CheckConstraint(
                condition=Q(refunded_quantity=0)
                | Q(refunded_quantity__lte=models.F("collected_quantity")),
                name="order_line_refunded_le_collected",
            ),
            models.CheckConstraint(
                condition=Q(collected_quantity__isnull=True)
                | Q(collected_quantity__lte=models.F("quantity")),
                name="order_line_collected_le_ordered",
            ),
            models.UniqueConstraint(fields=["order", "variant"], name="order_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def line_total(self):
        return self.unit_price * self.quantity

    @property
    def collected_total(self):
        return self.unit_price * (self.collected_quantity or 0)


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True, choices=OrderStatus.choices)
    to_status = models.CharField(max_length=16, choices=OrderStatus.choices)
    actor = models.CharField(max_length=8, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"


class Payment(models.Model):
    class Provider(models.TextChoices):
        IN_STORE = "in_store", _("At the counter")
        STRIPE = "stripe", _("Stripe")

    class Method(models.TextChoices):
        CARD = "card", _("Card")
        CASH = "cash", _("Cash")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    # A refund is a row of its own pointing at the payment it gives money back from:
    # ``amount_refunded`` is what this refund gave back, ``provider_reference`` the provider's
    # refund id. The original keeps the running total in its own ``amount_refunded``.
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    # Who did it (a clerk at the counter, a manager in the admin), and why.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    method = models.CharField(max_length=8, choices=Method.choices, blank=True)
    reference = models.CharField(max_length=120, blank=True)
    # The provider's id for this payment (a Stripe PaymentIntent "pi_…"); blank at the counter.
    provider_reference = models.CharField(max_length=255, blank=True)
    # The provider operation in flight ("authorise", "capture", "cancel", "refund:…"), set under
    # the row lock before the network call and cleared when its answer is recorded: one at a
    # time. A card attempt is claimed ("authorise") before its PaymentIntent exists.
    pending_operation = models.CharField(max_length=80, blank=True)
    # When that operation was claimed: one still pending long after is a call whose answer was
    # lost (a crash, a timeout) and is settled by asking the provider.
    pending_since = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    amount_authorised = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    amount_captured = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = models.CharField(max_length=12, choices=PaymentStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # When the money was taken (capture online, the till at the counter); null until then.
    captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="payment_provider_reference_unique",
            ),
            models.CheckConstraint(
                condition=Q(refund_of__isnull=False)
                | (
                    Q(amount_captured__lte=models.F("amount_authorised"))
                    & Q(amount_refunded__lte=models.F("amount_captured"))
                ),
                name="payment_amounts_ordered",
            ),
            models.CheckConstraint(
                condition=Q(refund_of__isnull=True)
                | (Q(amount_refunded__gt=0) & Q(amount_captured=0) & Q(amount_authorised=0)),
                name="payment_refund_row_amounts",
            ),
        ]

    def __str__(self) -> str:
        if self.refund_of_id:
            return f"{self.provider} refund {money(self.amount_refunded, self.currency)}"
        return f"{self.provider} {money(self.amount_captured, self.currency)}"

    @property
    def refundable(self):
        return self.amount_captured - self.amount_refunded


class Handover(models.Model):
    """Proof of collection: who took the order, which clerk gave it, when, on which device."""

    class Collector(models.TextChoices):
        CUSTOMER = "customer", _("The customer")
        DELEGATE = "delegate", _("The person they named")

    class Verification(models.TextChoices):
        QR = "qr", _("QR code")
        CODE = "code", _("Pickup code")

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="handover")
    collector = models.CharField(max_length=8, choices=Collector.choices)
    collector_name = models.CharField(max_length=150)
    verified_by = models.CharField(max_length=4, choices=Verification.choices)
    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    device = models.CharField(max_length=200)
    collected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A day's collections (the tablet's "collected today", sales by day of collection).
            models.Index(fields=["collected_at"], name="handover_collected_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} to {self.collector_name}"


class PickupVerification(models.Model):
    """A clerk checked this order's QR code or pickup code: for a while they may hand it over."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=4, choices=Handover.Verification.choices)
    verified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "user"], name="one_verification_per_clerk")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} by {self.user_id} ({self.method})"


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once: a redelivery finds its id and does nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    # The PaymentIntent the event was about, when it was one of ours.
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="stripe_events"
    )
    # Whether it changed anything (False: a repeat in other words, stale, or of no interest).
    changed = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["received_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class PaymentAnomaly(models.Model):
    """Money news from the payment provider that the shop did not start, refused: a webhook
    about a PaymentIntent that is not one of an order's own and that the provider does not
    confirm was made for that order, its amount and currency. Nothing was applied; the
    reconciliation lists it for someone to look into."""

    class Kind(models.TextChoices):
        UNKNOWN_ORDER = "unknown_order", _("Names no order of ours paid online")
        UNKNOWN_INTENT = "unknown_intent", _("The provider does not know this payment")
        ORDER_MISMATCH = "order_mismatch", _("Made for another order")
        AMOUNT_MISMATCH = "amount_mismatch", _("Not the order's amount")
        CURRENCY_MISMATCH = "currency_mismatch", _("Not the order's currency")

    # The order the event named, when it is one of ours.
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_anomalies"
    )
    provider = models.CharField(
        max_length=10, choices=Payment.Provider.choices, default=Payment.Provider.STRIPE
    )
    provider_reference = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What the payment was for, as the provider says (else as the event said); null if unknown.
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = _("payment anomalies")

    def __str__(self) -> str:
        return f"{self.provider_reference} {self.kind}"

"""What the order API reads and writes: the serializers (input and output shapes only)."""

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictIntegerField
from customers.models import Channel
from orders import selectors
from orders.models import Actor, Handover, OrderStatus, Payment, PaymentMethod

# --- Output ----------------------------------------------------------------------------------


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    collected_quantity = serializers.IntegerField(
        allow_null=True, help_text="Units handed over; null until the order is collected"
    )
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderEventSerializer(serializers.Serializer):
    status = serializers.ChoiceField(source="to_status", choices=OrderStatus.choices)
    from_status = serializers.CharField(
        help_text='Status before; "" for the first event. The same as status for events that '
        "are not a status change (e.g. the customer checked in)"
    )
    actor = serializers.ChoiceField(choices=Actor.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    at = serializers.DateTimeField(source="created_at")


class AmountsSerializer(serializers.Serializer):
    """The order's money as it stands (``orders.selectors.money_summary``)."""

    ordered = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="The order's total as ordered"
    )
    collected = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="The value handed over at the counter; null until the order is collected",
    )
    authorised = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Held on the card and not charged yet"
    )
    charged = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="Taken: captured on the card or paid at the counter",
    )
    refunded = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Given back so far"
    )
    net = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Charged minus refunded"
    )
    status = serializers.CharField(
        help_text="awaiting_payment, authorised, pay_at_counter, charged, partly_refunded, "
        "refunded or not_charged"
    )
    label = serializers.CharField(help_text="The status in words, in the request's language")


class OrderSerializer(serializers.Serializer):
    """An order as its customer sees it (the fields of DESIGN §8)."""

    number = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    store = serializers.CharField(source="store.code", help_text="Store code")
    channel = serializers.ChoiceField(choices=Channel.choices)
    slot_start = serializers.DateTimeField()
    slot_end = serializers.DateTimeField()
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    payment_status = serializers.CharField()
    lines = OrderLineSerializer(many=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    pickup_code = serializers.CharField(help_text="The short code to say at the counter")
    hold_until = serializers.DateTimeField(
        allow_null=True, help_text="Kept for pickup until then (set when ready)"
    )
    arrived_at = serializers.DateTimeField(
        allow_null=True, help_text='When the customer said "I\'m here"'
    )
    created_at = serializers.DateTimeField()
    events = OrderEventSerializer(many=True)
    amounts = serializers.SerializerMethodField(
        help_text="What was ordered, handed over, charged and refunded, and the net; total and "
        "payment_status stay for older clients"
    )

    @extend_schema_field(AmountsSerializer)
    def get_amounts(self, order):
        return AmountsSerializer(selectors.money_summary(order)).data


class StaffOrderSerializer(OrderSerializer):
    """An order as the clerk at its store sees it: who may collect it, whether its code works."""

    contact_name = serializers.CharField()
    contact_email = serializers.EmailField()
    contact_phone = serializers.CharField()
    pickup_person = serializers.CharField(
        help_text='Someone else the customer named to collect ("" if nobody)'
    )
    code_locked = serializers.BooleanField(
        help_text="Too many wrong codes: only the QR code (or a manager's unlock) opens it"
    )


# --- Input -----------------------------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time with its UTC offset: a bare local time is ambiguous."""

    default_error_messages = {
        "naive": gettext_lazy("Give the time with its UTC offset, e.g. 2025-01-15T10:00:00+01:00."),
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class CheckoutSerializer(serializers.Serializer):
    store = serializers.CharField(max_length=16, help_text="Store code, e.g. MAD-01")
    slot_start = AwareDateTimeField(
        help_text="Start of a pickup slot from GET /api/v1/stores/{code}/slots/"
    )
    payment = serializers.ChoiceField(
        # The values of PaymentMethod, documented as their own enum (PaymentEnum).
        choices=[(value, value) for value in PaymentMethod.values],
        help_text='"in_store": pay at the counter. "online": the card in payment_method is '
        "authorised now and charged at pickup for what is collected (payment_unavailable "
        "where online payment is not configured)",
    )
    payment_method = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        help_text='With "online": the PaymentMethod id (pm_…) from Stripe\'s SDK on the '
        "device; never card data",
    )


class CheckoutOrderSerializer(OrderSerializer):
    client_secret = serializers.CharField(
        required=False,
        help_text="Only while an online order needs the customer to authenticate the card "
        "(3-D Secure): hand it to Stripe's SDK on the device. Never stored",
    )


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class LookupSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=100, required=False, help_text="The QR code's content, as scanned"
    )
    code = serializers.CharField(
        max_length=16,
        required=False,
        help_text="The 8-character pickup code; spaces, dashes and case are ignored",
    )

    def validate(self, attrs):
        if ("token" in attrs) == ("code" in attrs):
            raise serializers.ValidationError(_("Send either a token or a code, not both."))
        return attrs


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[(OrderStatus.PREPARING.value, "preparing"), (OrderStatus.READY.value, "ready")]
    )


class CollectLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    quantity = StrictIntegerField(
        min_value=0, max_value=100_000, help_text="Units handed over; 0 if refused"
    )


class CollectPaymentSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    reference = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="Card terminal receipt number (required for card)",
    )


class CollectSerializer(serializers.Serializer):
    lines = CollectLineSerializer(
        many=True,
        allow_empty=False,
        max_length=500,
        help_text="Every line of the order exactly once",
    )
    payment = CollectPaymentSerializer(
        required=False, help_text="How it was paid at the counter (orders paid in store)"
    )
    collector = serializers.ChoiceField(
        choices=Handover.Collector.choices, required=False, default=Handover.Collector.CUSTOMER
    )

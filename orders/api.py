"""Order, checkout and store-counter API (DESIGN §8).

Thin views over the services and selectors the web shop and the tablet use: they parse the
request, call one service or selector and shape the answer. Refusals come from the services as
``OrderError``/``StoreError`` and leave as ``{"code", "detail"}`` (core.api).

Objects are always fetched through the scoped selectors: a customer reaches only their own
orders, a clerk only the orders of a store they work at — anything else is a 404.
"""

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    NOT_JSON,
    THROTTLED,
    UNAUTHENTICATED,
    CheckoutThrottle,
    CodeLookupThrottle,
    error_response,
    requested_language,
)
from core.qr import qr_svg
from customers.api import TouchpointSerializer
from customers.models import Channel
from customers.services import customer_for_user
from orders import selectors, services
from orders.errors import OrderError
from orders.models import Actor, Handover, OrderStatus, Payment, PaymentMethod
from shop.services import cart_for_customer
from stores.selectors import active_stores, store_for_staff

IDEMPOTENCY_KEY_MAX_LENGTH = 80
# Statuses after which there is nothing to hand over.
CLOSED = (OrderStatus.COLLECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)


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


SLUG = r"^[-a-zA-Z0-9_]+$"
NUMBER = OpenApiParameter(
    "number",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=SLUG,
    description="Order number, e.g. CC-7K3F9QX2",
)
STORE_CODE = OpenApiParameter(
    "code",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=SLUG,
    description="Code of a store the caller works at, e.g. MAD-01",
)


NOT_FOUND = error_response("No such order among yours (not_found).")
STAFF_NOT_FOUND = error_response(
    "Not a store you work at, or no such order at this store (not_found)."
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


@extend_schema_field(OpenApiTypes.INT)
class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number: "3", 3.5 and true are refused, not coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


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


# The status request documented inline: as a component its two-value "status" enum would
# collide with the order's (drf-spectacular names enums after the field).
STATUS_REQUEST = {
    "application/json": {
        "type": "object",
        "properties": {
            "status": {
                "type": "string",
                "enum": [OrderStatus.PREPARING.value, OrderStatus.READY.value],
                "description": "preparing: start preparing a placed order; ready: a prepared "
                "order can be picked up",
            }
        },
        "required": ["status"],
    }
}


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


# --- Customer: checkout and own orders ----------------------------------------------------------


def _customer(request):
    return customer_for_user(user=request.user)


def _idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise OrderError(
            "idempotency_key_required",
            _("Send an Idempotency-Key header: a new random value for each checkout."),
            status=400,
        )
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not all(33 <= ord(ch) <= 126 for ch in key):
        raise OrderError(
            "idempotency_key_invalid",
            _(
                "The Idempotency-Key must be at most %(max)d visible ASCII characters "
                "(letters, digits, punctuation)."
            )
            % {"max": IDEMPOTENCY_KEY_MAX_LENGTH},
            status=400,
        )
    return key


def _checkout_fingerprint(body: dict) -> str:
    """The request as a retry must repeat it (``services.request_fingerprint``)."""
    return services.request_fingerprint(
        {
            "store": body["store"],
            "slot_start": body["slot_start"].isoformat(),
            "payment": body["payment"],
            "payment_method": body["payment_method"],
        }
    )


class CheckoutView(APIView):
    """Place the order from the customer's one cart (channel mobile)."""

    throttle_classes = [CheckoutThrottle]

    def check_throttles(self, request):
        """Not before the view runs: ``post`` counts the attempt once it knows the request is
        a new checkout. A retry of one already placed is answered, never throttled."""

    @extend_schema(
        operation_id="checkout",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                    "pattern": "^[!-~]+$",
                },
                OpenApiParameter.HEADER,
                required=True,
                description="A new random value per checkout (at most 80 visible ASCII "
                "characters). Retrying with the same key and the same body answers 201 with "
                "the same order (and the header Idempotent-Replayed: true) and does not count "
                "against the checkout rate limit; the same key with another body is refused "
                "with 422 idempotency_mismatch.",
            )
        ],
        request=CheckoutSerializer,
        responses={
            201: OpenApiResponse(
                CheckoutOrderSerializer,
                description="The order (also for a replayed request). Paid online: placed "
                "once the card is authorised; pending_payment with client_secret when the "
                "card needs authentication on the device (3-D Secure)",
            ),
            400: error_response(
                "idempotency_key_required, idempotency_key_invalid, invalid, parse_error, "
                "unknown_store, slot_invalid, payment_unavailable, empty_cart, "
                "mixed_currency, bad_payment_method"
            ),
            401: UNAUTHENTICATED,
            402: error_response(
                "card_declined, payment_failed: the card was refused; the order is cancelled "
                "and its stock and pickup time released"
            ),
            409: error_response(
                "out_of_stock (with skus), slot_full, unavailable (with skus); "
                "payment_in_progress: the same checkout's card is being authorised by another "
                "request: send it again with the same key after Retry-After seconds to get the "
                "order"
            ),
            415: NOT_JSON,
            422: error_response("idempotency_mismatch: the key was used for a different request"),
            429: THROTTLED,
        },
    )
    def post(self, request):
        key = _idempotency_key(request)
        data = CheckoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        store = active_stores().filter(code=body["store"]).first()
        if store is None:
            raise OrderError("unknown_store", _("We have no store with that code."), status=400)
        customer = _customer(request)
        if (
            body["payment"] == PaymentMethod.ONLINE
            and settings.STRIPE_SECRET_KEY
            and not services.PAYMENT_METHOD_ID.match(body["payment_method"])
        ):
            # Refused before anything is reserved; card numbers never get this far.
            raise OrderError("bad_payment_method", _("Choose a card to pay with."), status=400)
        cart = cart_for_customer(customer=customer)
        fingerprint = _checkout_fingerprint(body)
        order = services.replayed_order(cart=cart, idempotency_key=key, fingerprint=fingerprint)
        if order is None:
            super().check_throttles(request)
            order = services.place_order(
                cart=cart,
                store=store,
                slot_start=body["slot_start"],
                payment_method=body["payment"],
                channel=Channel.MOBILE,
                customer=customer,
                idempotency_key=key,
                fingerprint=fingerprint,
                user=request.user,
                allow_online=True,
                language=requested_language(request),
                replay_checked=True,
            )
        replayed = getattr(order, "replayed", False)
        client_secret = ""
        if order.payment_method == PaymentMethod.ONLINE:
            # After the checkout has committed and outside any lock; the attempt is claimed on
            # the order first, so a replay never authorises twice.
            order, client_secret = services.pay_online(
                order=order,
                payment_method=body["payment_method"],
                channel=Channel.MOBILE,
                user=request.user,
            )
        order = selectors.order_for_customer(customer=customer, number=order.number)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        data = OrderSerializer(order).data
        if client_secret:
            data["client_secret"] = client_secret
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)


class OrderListView(generics.ListAPIView):
    """The customer's own orders, newest first."""

    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="orders_list",
        responses={
            200: OrderSerializer(many=True),
            401: UNAUTHENTICATED,
            404: error_response("No such page (not_found)."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.customer_orders(customer=_customer(self.request), detailed=True)


class OrderDetailView(APIView):
    @extend_schema(
        operation_id="orders_retrieve",
        parameters=[NUMBER],
        responses={200: OrderSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request, number):
        order = selectors.order_for_customer(customer=_customer(request), number=number)
        return Response(OrderSerializer(order).data)


class OrderCancelView(APIView):
    """Cancel while the store has not started preparing it (status placed)."""

    @extend_schema(
        operation_id="orders_cancel",
        parameters=[NUMBER],
        request=CancelSerializer,
        responses={
            200: OrderSerializer,
            400: error_response("invalid, parse_error"),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: error_response("cancel_not_allowed: no longer placed (current gives the status)"),
            415: NOT_JSON,
        },
    )
    def post(self, request, number):
        customer = _customer(request)
        order = selectors.order_for_customer(customer=customer, number=number)
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.cancel_order_by_customer(
            order=order,
            channel=Channel.MOBILE,
            reason=data.validated_data["reason"],
            user=request.user,
        )
        order = selectors.order_for_customer(customer=customer, number=number)
        return Response(OrderSerializer(order).data)


class OrderArrivedView(APIView):
    """ "I'm here": tell the store the customer is at the counter (a second call changes
    nothing). Allowed while the order is placed, preparing or ready."""

    @extend_schema(
        operation_id="orders_arrived",
        parameters=[NUMBER],
        request=None,
        responses={
            200: OrderSerializer,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: error_response(
                "arrival_not_allowed: collected, cancelled or expired; too_early: not ready and "
                "the pickup slot starts more than 15 minutes from now"
            ),
        },
    )
    def post(self, request, number):
        customer = _customer(request)
        order = selectors.order_for_customer(customer=customer, number=number)
        services.mark_arrived(order=order, channel=Channel.MOBILE, user=request.user)
        order = selectors.order_for_customer(customer=customer, number=number)
        return Response(OrderSerializer(order).data)


class SvgRenderer(BaseRenderer):
    media_type = "image/svg+xml"
    format = "svg"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class FirstRendererNegotiation(BaseContentNegotiation):
    """Always the view's first renderer: an image is an image whatever Accept says."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class OrderQrView(APIView):
    """The pickup QR code (SVG) of one of the customer's own orders."""

    renderer_classes = [SvgRenderer]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="orders_qr",
        parameters=[NUMBER],
        responses={
            (200, "image/svg+xml"): OpenApiResponse(
                OpenApiTypes.BINARY, description="SVG image of the pickup token"
            ),
            (401, "application/json"): UNAUTHENTICATED,
            (404, "application/json"): NOT_FOUND,
        },
    )
    def get(self, request, number):
        order = selectors.order_for_customer(customer=_customer(request), number=number)
        response = Response(qr_svg(order.pickup_token))
        response["Cache-Control"] = "private, no-store"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # Errors are JSON like everywhere else in the API.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


# --- Staff: the store counter ---------------------------------------------------------------


def _closed(order) -> OrderError:
    """Scanning an order that is over explains what happened instead of opening it."""
    when = serializers.DateTimeField()
    extra = {"number": order.number, "current": order.status}
    if order.status == OrderStatus.COLLECTED:
        handover = order.handover
        return OrderError(
            "already_collected",
            _("Already collected on %(when)s by %(who)s (handed over by %(clerk)s).")
            % {
                "when": handover.collected_at.astimezone(order.store.tz).strftime("%Y-%m-%d %H:%M"),
                "who": handover.collector_name,
                "clerk": handover.clerk.email,
            },
            collected_at=when.to_representation(handover.collected_at),
            collected_by=handover.collector_name,
            handed_over_by=handover.clerk.email,
            **extra,
        )
    if order.status == OrderStatus.CANCELLED:
        return OrderError(
            "order_cancelled",
            _("This order was cancelled (%(reason)s). Nothing to hand over.")
            % {"reason": order.cancel_reason},
            cancelled_at=when.to_representation(order.updated_at),
            **extra,
        )
    return OrderError(
        "order_expired",
        _("This order was not collected in time; its items went back on sale."),
        hold_until=when.to_representation(order.hold_until) if order.hold_until else None,
        **extra,
    )


class PickupLookupView(APIView):
    """The clerk scans the QR code (token) or types the pickup code: the order, checked.

    A successful lookup lets this clerk hand the order over for the next 15 minutes.
    """

    throttle_classes = [CodeLookupThrottle]

    @extend_schema(
        operation_id="store_pickups_lookup",
        parameters=[STORE_CODE],
        request=LookupSerializer,
        responses={
            200: StaffOrderSerializer,
            400: error_response("invalid (send exactly one of token and code), parse_error"),
            401: UNAUTHENTICATED,
            404: error_response(
                "not_found (not a store you work at), unknown_token, wrong_code "
                "(counts against the clerk)"
            ),
            409: error_response(
                "already_collected (with collected_at, collected_by, handed_over_by), "
                "order_cancelled (with cancelled_at), order_expired (with hold_until); "
                "number and current (the status) in each"
            ),
            415: NOT_JSON,
            423: error_response(
                "code_locked: too many wrong codes for this order; scan the QR code"
            ),
            429: error_response(
                "throttled, or too_many_attempts (too many wrong codes by this clerk)"
            ),
        },
    )
    def post(self, request, code):
        store = store_for_staff(request.user, code)
        data = LookupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "token" in data.validated_data:
            order = selectors.order_for_pickup_token(
                store=store, token=data.validated_data["token"]
            )
            if order is None:
                raise OrderError(
                    "unknown_token",
                    _("This QR code is not for an order at this store."),
                    status=404,
                )
            method = Handover.Verification.QR
        else:
            found = services.find_by_pickup_code(
                store=store, user=request.user, code=data.validated_data["code"]
            )
            order = selectors.order_for_store(store=store, number=found.number)
            method = Handover.Verification.CODE
        if order.status in CLOSED:
            raise _closed(order)
        services.mark_pickup_verified(order=order, user=request.user, method=method)
        return Response(StaffOrderSerializer(order).data)


class OrderStatusView(APIView):
    """Start preparing a placed order, or mark a prepared order ready."""

    @extend_schema(
        operation_id="store_orders_status",
        parameters=[STORE_CODE, NUMBER],
        request=STATUS_REQUEST,
        responses={
            200: StaffOrderSerializer,
            400: error_response("invalid, parse_error"),
            401: UNAUTHENTICATED,
            404: STAFF_NOT_FOUND,
            409: error_response("illegal_transition (current gives the status)"),
            415: NOT_JSON,
        },
    )
    def post(self, request, code, number):
        store = store_for_staff(request.user, code)
        order = selectors.order_for_store(store=store, number=number)
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.advance_order(
            order=order, to=data.validated_data["status"], user=request.user, channel=Channel.STORE
        )
        order = selectors.order_for_store(store=store, number=number)
        return Response(StaffOrderSerializer(order).data)


class OrderCollectView(APIView):
    """Hand the order over after a lookup by this clerk: what was taken, how it was paid."""

    @extend_schema(
        operation_id="store_orders_collect",
        parameters=[STORE_CODE, NUMBER],
        request=CollectSerializer,
        responses={
            200: StaffOrderSerializer,
            400: error_response(
                "invalid, parse_error, not_verified (look the order up first), "
                "duplicate_line, missing_line, unknown_line (with skus), bad_quantity, "
                "nothing_collected, bad_payment, reference_required, no_delegate"
            ),
            401: UNAUTHENTICATED,
            404: STAFF_NOT_FOUND,
            402: error_response(
                "card_declined, payment_failed: an online order's card could not be charged "
                "the collected total; nothing was handed over"
            ),
            409: error_response(
                "illegal_transition: the order is not ready; not_authorised: an online order "
                "without a card authorisation; payment_busy"
            ),
            415: NOT_JSON,
            502: error_response(
                "payment_provider_unavailable: the card could not be charged; nothing was "
                "handed over"
            ),
        },
    )
    def post(self, request, code, number):
        store = store_for_staff(request.user, code)
        order = selectors.order_for_store(store=store, number=number)
        data = CollectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        quantities = _quantities(order, body["lines"])
        payment = body.get("payment") or {}
        services.collect_order(
            order=order,
            user=request.user,
            quantities=quantities,
            payment_method=payment.get("method", ""),
            reference=payment.get("reference", ""),
            collector=body["collector"],
            verified_by=services.pickup_verification(order=order, user=request.user),
            device="api " + request.headers.get("User-Agent", ""),
        )
        services.forget_pickup_verification(order=order, user=request.user)
        order = selectors.order_for_store(store=store, number=number)
        return Response(StaffOrderSerializer(order).data)


def _quantities(order, lines) -> dict[str, int]:
    """{sku: quantity} with every line of the order listed exactly once."""
    quantities: dict[str, int] = {}
    duplicates = set()
    for line in lines:
        if line["sku"] in quantities:
            duplicates.add(line["sku"])
        quantities[line["sku"]] = line["quantity"]
    if duplicates:
        duplicates = sorted(duplicates)
        raise OrderError(
            "duplicate_line",
            _("List each item once: %(skus)s") % {"skus": ", ".join(duplicates)},
            status=400,
            skus=duplicates,
        )
    unknown = sorted(set(quantities) - {line.sku for line in order.lines.all()})
    if unknown:
        raise OrderError(
            "unknown_line",
            _("These items are not in the order: %(skus)s") % {"skus": ", ".join(unknown)},
            status=400,
            skus=unknown,
        )
    missing = [line.sku for line in order.lines.all() if line.sku not in quantities]
    if missing:
        raise OrderError(
            "missing_line",
            _("Say how many were handed over of every item (0 if refused): %(skus)s")
            % {"skus": ", ".join(missing)},
            status=400,
            skus=missing,
        )
    return quantities


class TimelineView(generics.ListAPIView):
    """The customer's touchpoints on every channel, newest first (what they may see)."""

    serializer_class = TouchpointSerializer

    @extend_schema(
        responses={200: TouchpointSerializer(many=True), 401: UNAUTHENTICATED, 404: NOT_FOUND}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        customer = customer_for_user(user=self.request.user)
        return selectors.customer_timeline(customer=customer, limit=None)

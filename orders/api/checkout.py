"""Checkout: the customer's one cart becomes an order (channel mobile), once per
Idempotency-Key.

The view parses the request and answers; the steps in between are the helpers below, each a
check or a call into ``orders.services``. A retry (same key, same body) is answered with the
order already placed and is not counted against the checkout rate limit.
"""

from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    NOT_JSON,
    THROTTLED,
    UNAUTHENTICATED,
    CheckoutThrottle,
    error_response,
    requested_language,
    validated,
)
from customers.models import Channel
from customers.services import customer_for_user
from orders import selectors, services
from orders.api.serializers import CheckoutOrderSerializer, CheckoutSerializer, OrderSerializer
from orders.errors import OrderError
from orders.models import Order, PaymentMethod
from shop.services import pickup_store

IDEMPOTENCY_KEY_MAX_LENGTH = 80


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
        body = validated(CheckoutSerializer, request)
        store = pickup_store(code=body["store"])
        customer = customer_for_user(user=request.user)
        _check_payment_method(body)
        order = _place_or_replay(
            request,
            customer=customer,
            store=store,
            body=body,
            key=key,
            count_attempt=partial(super().check_throttles, request),
        )
        replayed = getattr(order, "replayed", False)
        order, client_secret = _authorise(request, customer=customer, order=order, body=body)
        data = OrderSerializer(order).data
        if client_secret:
            data["client_secret"] = client_secret
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)


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


def _check_payment_method(body: dict) -> None:
    """Refused before anything is reserved; card numbers never get this far."""
    if (
        body["payment"] == PaymentMethod.ONLINE
        and settings.STRIPE_SECRET_KEY
        and not services.PAYMENT_METHOD_ID.match(body["payment_method"])
    ):
        raise OrderError("bad_payment_method", _("Choose a card to pay with."), status=400)


def _place_or_replay(
    request, *, customer, store, body: dict, key: str, count_attempt: Callable[[], None]
) -> Order:
    """The order this checkout placed before (marked ``replayed``), else a new one: only a new
    one is counted against the rate limit (``count_attempt``). The key is looked up once."""
    fingerprint = _checkout_fingerprint(body)
    cart, order = services.cart_and_replay(
        customer=customer, idempotency_key=key, fingerprint=fingerprint
    )
    if order is not None:
        return order
    count_attempt()
    return services.place_order(
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


def _authorise(request, *, customer, order: Order, body: dict) -> tuple[Order, str]:
    """The order as its customer now sees it, and the card's ``client_secret`` while the card
    needs 3-D Secure on the device ("" otherwise).

    An online order's card is authorised after the checkout has committed and outside any
    lock; the attempt is claimed on the order first, so a replay never authorises twice.
    """
    client_secret = ""
    if order.payment_method == PaymentMethod.ONLINE:
        order, client_secret = services.pay_online(
            order=order,
            payment_method=body["payment_method"],
            channel=Channel.MOBILE,
            user=request.user,
        )
    else:
        placed = services.with_written_rows(order)  # just placed: no need to read it back
        if placed is not None:
            return placed, ""
    return selectors.order_for_customer(customer=customer, number=order.number), client_secret

"""The store counter for staff: look an order up by QR or pickup code, move it on, hand it
over.

A clerk reaches only the orders of a store they work at (``stores.selectors.store_for_staff``,
``selectors.order_for_store``): anything else is a 404.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import NOT_JSON, UNAUTHENTICATED, CodeLookupThrottle, error_response, validated
from customers.models import Channel
from orders import selectors, services
from orders.api.schema import NUMBER, STAFF_NOT_FOUND, STATUS_REQUEST, STORE_CODE
from orders.api.serializers import (
    CollectSerializer,
    LookupSerializer,
    StaffOrderSerializer,
    StatusSerializer,
)
from orders.errors import OrderError
from stores.selectors import store_for_staff


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
        data = validated(LookupSerializer, request)
        order = services.open_for_pickup(store=store, user=request.user, **data)
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
        data = validated(StatusSerializer, request)
        services.advance_order(
            order=order, to=data["status"], user=request.user, channel=Channel.STORE
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
        body = validated(CollectSerializer, request)
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

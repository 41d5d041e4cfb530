"""The customer's own orders: list, detail, cancel, "I'm here", the pickup QR; the timeline.

A customer reaches only their own orders (``selectors.order_for_customer``): anything else is
a 404.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import NOT_JSON, UNAUTHENTICATED, error_response, validated
from core.qr import qr_svg
from customers.api import TouchpointSerializer
from customers.models import Channel
from customers.services import customer_for_user
from orders import selectors, services
from orders.api.schema import NOT_FOUND, NUMBER
from orders.api.serializers import CancelSerializer, OrderSerializer


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
        return selectors.customer_orders(
            customer=customer_for_user(user=self.request.user), detailed=True
        )


class OrderDetailView(APIView):
    @extend_schema(
        operation_id="orders_retrieve",
        parameters=[NUMBER],
        responses={200: OrderSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request, number):
        order = selectors.order_for_customer(
            customer=customer_for_user(user=request.user), number=number
        )
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
        customer = customer_for_user(user=request.user)
        order = selectors.order_for_customer(customer=customer, number=number)
        data = validated(CancelSerializer, request)
        services.cancel_order_by_customer(
            order=order,
            channel=Channel.MOBILE,
            reason=data["reason"],
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
        customer = customer_for_user(user=request.user)
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
        order = selectors.order_for_customer(
            customer=customer_for_user(user=request.user), number=number
        )
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

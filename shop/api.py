"""Catalogue and cart API (the mobile app's view of the same shop as the web).

The cart endpoints act on the caller's one cart, the same cart the web shop and the store
tablet show, through the same services; every change is recorded with channel ``mobile``.
"""

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    BAD_INPUT,
    NOT_FOUND,
    NOT_JSON,
    UNAUTHENTICATED,
    StrictIntegerField,
    WindowThrottle,
    error_response,
    validated,
)
from customers.models import Channel
from customers.services import customer_for_user
from shop import selectors
from shop.models import Product, Variant
from shop.services import (
    add_to_cart,
    choose_store,
    claim_handoff,
    pickup_store,
    record_product_view,
    remove_line,
    set_line_quantity,
    start_handoff,
)
from stores.selectors import active_stores, availability


class ProductListSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        source="display_name", read_only=True, help_text="In the Accept-Language if we have it"
    )
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    price_from = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)

    class Meta:
        model = Product
        fields = ["slug", "name", "category", "price_from"]


class StockSerializer(serializers.Serializer):
    store = serializers.CharField(help_text="Store code")
    available = serializers.IntegerField()


class VariantSerializer(serializers.ModelSerializer):
    title = serializers.CharField(
        source="display_title", read_only=True, help_text="In the Accept-Language if we have it"
    )
    stock = serializers.SerializerMethodField()

    class Meta:
        model = Variant
        fields = ["sku", "title", "price", "currency", "barcode", "stock"]

    @extend_schema_field(StockSerializer(many=True))
    def get_stock(self, variant) -> list[dict]:
        stock, stores = self.context["stock"], self.context["stores"]
        return [
            {"store": store.code, "available": max(stock.get((store.pk, variant.pk), 0), 0)}
            for store in stores
        ]


class ProductDetailSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        source="display_name", read_only=True, help_text="In the Accept-Language if we have it"
    )
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = ["slug", "name", "description", "category", "variants"]


class ProductListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ProductListSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("search", OpenApiTypes.STR),
            OpenApiParameter("category", OpenApiTypes.STR, description="Category slug"),
            OpenApiParameter(
                "store", OpenApiTypes.STR, description="Only products available there"
            ),
        ],
        responses={200: ProductListSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.catalogue_products(
            search=params.get("search", ""),
            category=params.get("category", "")[:60],
            store=params.get("store", "")[:16],
        )


class ProductDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ProductDetailSerializer, 404: NOT_FOUND})
    def get(self, request, slug):
        product = selectors.product_by_slug(slug)
        if request.user.is_authenticated:
            customer = customer_for_user(user=request.user)
            record_product_view(customer=customer, product=product, channel=Channel.MOBILE)
        stores = list(active_stores())
        stock = availability(variant_ids=[v.pk for v in product.variants.all()])
        context = {"stock": stock, "stores": stores}
        return Response(ProductDetailSerializer(product, context=context).data)


# --- Cart ------------------------------------------------------------------------------------


class HandoffClaimThrottle(WindowThrottle):
    """Claim attempts per user (or address): a handoff code must not be guessable by trying."""

    scope = "handoff_claim"


class CartLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="variant.sku")
    name = serializers.CharField(
        source="variant.product.display_name", help_text="In the Accept-Language if we have it"
    )
    title = serializers.CharField(source="variant.display_title")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, source="variant.price")
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="variant.currency")
    channel = serializers.ChoiceField(
        choices=Channel.choices, help_text="Channel of the line's last change"
    )
    available_at_store = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True,
            help_text="Units available at the cart's store; null while no store is chosen",
        )
    )
    def get_available_at_store(self, line) -> int | None:
        available = self.context["available"]
        return None if available is None else available.get(line.pk, 0)


class CartSerializer(serializers.Serializer):
    """The customer's one cart, with the same figures the web shop and the store tablet show."""

    id = serializers.SerializerMethodField()
    store = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    count = serializers.IntegerField(help_text="Number of units in the cart")

    @extend_schema_field(
        serializers.IntegerField(allow_null=True, help_text="null before the first change")
    )
    def get_id(self, summary) -> int | None:
        return summary.cart.pk if summary.cart is not None else None

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="Code of the pickup store, or null")
    )
    def get_store(self, summary) -> str | None:
        cart = summary.cart
        return cart.store.code if cart is not None and cart.store_id else None

    @extend_schema_field(CartLineSerializer(many=True))
    def get_lines(self, summary) -> list[dict]:
        context = {"available": summary.available}
        return CartLineSerializer(summary.lines, many=True, context=context).data


class AddLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    quantity = StrictIntegerField(min_value=1, max_value=settings.CART_MAX_LINE_QUANTITY)


class LineQuantitySerializer(serializers.Serializer):
    quantity = StrictIntegerField(
        min_value=0, max_value=settings.CART_MAX_LINE_QUANTITY, help_text="0 removes the line"
    )


class CartStoreSerializer(serializers.Serializer):
    store = serializers.CharField(max_length=16, help_text="Store code, e.g. MAD-01")


class HandoffSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="8 characters, to type or scan on the other device")
    expires_at = serializers.DateTimeField()


class ClaimSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=32, help_text="The handoff code; spaces, dashes and case are ignored"
    )


def _customer(request):
    return customer_for_user(user=request.user)


def _cart_response(customer, status_code=status.HTTP_200_OK) -> Response:
    cart = selectors.customer_cart(customer=customer)
    return Response(CartSerializer(selectors.cart_summary(cart)).data, status=status_code)


class CartView(APIView):
    """The caller's one cart, as the web shop and the store tablet see it."""

    @extend_schema(responses={200: CartSerializer, 401: UNAUTHENTICATED})
    def get(self, request):
        return _cart_response(_customer(request))


class CartLinesView(APIView):
    @extend_schema(
        summary="Add an item to the cart (quantities add up)",
        request=AddLineSerializer,
        responses={
            201: CartSerializer,
            400: error_response(
                "Invalid input, unknown_sku, or bad_quantity (over the line limit)."
            ),
            401: UNAUTHENTICATED,
            409: error_response(
                "out_of_stock: none available at the cart's store (or, before a store is "
                "chosen, at any store); `stores` lists the store codes that have it."
            ),
            415: NOT_JSON,
        },
    )
    def post(self, request):
        data = validated(AddLineSerializer, request)
        customer = _customer(request)
        add_to_cart(
            customer=customer, sku=data["sku"], quantity=data["quantity"], channel=Channel.MOBILE
        )
        return _cart_response(customer, status.HTTP_201_CREATED)


LINE_NOT_FOUND = error_response("No such line in the caller's cart (unknown_line).")


class WholeBodyPatchSchema(AutoSchema):
    """drf-spectacular documents every PATCH body as partial (all fields optional); this PATCH
    takes its one field as required, and the schema must say so."""

    def _get_request_for_media_type(self, serializer, direction="request"):
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"


class CartLineView(APIView):
    schema = WholeBodyPatchSchema()

    @extend_schema(
        summary="Change a line's quantity (0 removes it)",
        request=LineQuantitySerializer,
        responses={
            200: CartSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: LINE_NOT_FOUND,
            415: NOT_JSON,
        },
    )
    def patch(self, request, line_id):
        data = validated(LineQuantitySerializer, request)
        customer = _customer(request)
        set_line_quantity(
            customer=customer, line_id=line_id, quantity=data["quantity"], channel=Channel.MOBILE
        )
        return _cart_response(customer)

    @extend_schema(
        summary="Remove a line; answers with the cart",
        request=None,
        responses={
            200: OpenApiResponse(CartSerializer, description="The cart without the line."),
            401: UNAUTHENTICATED,
            404: LINE_NOT_FOUND,
        },
    )
    def delete(self, request, line_id):
        customer = _customer(request)
        remove_line(customer=customer, line_id=line_id, channel=Channel.MOBILE)
        return _cart_response(customer)


class CartStoreView(APIView):
    @extend_schema(
        summary="Choose the pickup store",
        request=CartStoreSerializer,
        responses={
            200: CartSerializer,
            400: error_response(
                "Invalid input, or unknown_store (no active store with that code)."
            ),
            401: UNAUTHENTICATED,
            415: NOT_JSON,
        },
    )
    def put(self, request):
        data = validated(CartStoreSerializer, request)
        store = pickup_store(code=data["store"])
        customer = _customer(request)
        choose_store(customer=customer, store_id=store.pk, channel=Channel.MOBILE)
        return _cart_response(customer)


class CartHandoffView(APIView):
    @extend_schema(
        summary="A short code to continue this cart on another device",
        description="The code is valid for a few minutes and can be claimed once, on the web, "
        "the store tablet or another app (POST /api/v1/cart/claim/). The web shop's QR for a "
        "handoff opens /cart/?code=CODE.",
        request=None,
        responses={
            201: HandoffSerializer,
            401: UNAUTHENTICATED,
            409: error_response("The cart is empty (empty_cart)."),
        },
    )
    def post(self, request):
        cart = selectors.customer_cart(customer=_customer(request))
        handoff = start_handoff(cart=cart, channel=Channel.MOBILE)
        return Response(HandoffSerializer(handoff).data, status=status.HTTP_201_CREATED)


class CartClaimView(APIView):
    throttle_classes = [HandoffClaimThrottle]

    @extend_schema(
        summary="Claim a handoff code: its cart's lines join the caller's cart",
        request=ClaimSerializer,
        responses={
            200: CartSerializer,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: error_response("The code is wrong, expired or already claimed (bad_handoff)."),
            415: NOT_JSON,
            429: error_response("Too many attempts (throttled); see Retry-After."),
        },
    )
    def post(self, request):
        data = validated(ClaimSerializer, request)
        customer = _customer(request)
        claim_handoff(code=data["code"], customer=customer, channel=Channel.MOBILE)
        return _cart_response(customer)

"""Catalogue and cart API (the mobile app's view of the same shop as the web)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.models import Channel
from customers.services import customer_for_user
from shop import selectors
from shop.models import Product, Variant
from shop.services import record_product_view
from stores.selectors import active_stores, availability


class ProductListSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    price_from = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)

    class Meta:
        model = Product
        fields = ["slug", "name", "category", "price_from"]


class StockSerializer(serializers.Serializer):
    store = serializers.CharField(help_text="Store code")
    available = serializers.IntegerField()


class VariantSerializer(serializers.ModelSerializer):
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
        ]
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

    @extend_schema(responses=ProductDetailSerializer)
    def get(self, request, slug):
        product = selectors.product_by_slug(slug)
        if request.user.is_authenticated:
            customer = customer_for_user(user=request.user)
            record_product_view(customer=customer, product=product, channel=Channel.MOBILE)
        stores = list(active_stores())
        stock = availability(variant_ids=[v.pk for v in product.variants.all()])
        context = {"stock": stock, "stores": stores}
        return Response(ProductDetailSerializer(product, context=context).data)

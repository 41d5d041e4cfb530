"""Cart API routes (included under /api/v1/)."""

from django.urls import path

from shop import api

urlpatterns = [
    path("cart/", api.CartView.as_view(), name="cart"),
    path("cart/lines/", api.CartLinesView.as_view(), name="cart_lines"),
    path("cart/lines/<int:line_id>/", api.CartLineView.as_view(), name="cart_line"),
    path("cart/store/", api.CartStoreView.as_view(), name="cart_store"),
    path("cart/handoff/", api.CartHandoffView.as_view(), name="cart_handoff"),
    path("cart/claim/", api.CartClaimView.as_view(), name="cart_claim"),
]

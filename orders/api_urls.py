"""Order and store-counter API routes (included under /api/v1/)."""

from django.urls import path

from orders import api

urlpatterns = [
    path("checkout/", api.CheckoutView.as_view(), name="checkout"),
    path("orders/", api.OrderListView.as_view(), name="orders"),
    path("orders/<slug:number>/", api.OrderDetailView.as_view(), name="order"),
    path("orders/<slug:number>/cancel/", api.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<slug:number>/arrived/", api.OrderArrivedView.as_view(), name="order-arrived"),
    path("orders/<slug:number>/qr.svg", api.OrderQrView.as_view(), name="order-qr"),
    path(
        "store/<slug:code>/pickups/lookup/",
        api.PickupLookupView.as_view(),
        name="store-pickup-lookup",
    ),
    path(
        "store/<slug:code>/orders/<slug:number>/status/",
        api.OrderStatusView.as_view(),
        name="store-order-status",
    ),
    path(
        "store/<slug:code>/orders/<slug:number>/collect/",
        api.OrderCollectView.as_view(),
        name="store-order-collect",
    ),
]

"""Order, checkout and store-counter API (DESIGN §8), one module per subject.

Thin views over the services and selectors the web shop and the tablet use: they parse the
request, call one service or selector and shape the answer. Refusals come from the services as
``OrderError``/``StoreError`` and leave as ``{"code", "detail"}`` (core.api).

Objects are always fetched through the scoped selectors: a customer reaches only their own
orders, a clerk only the orders of a store they work at — anything else is a 404.

- ``serializers``: what the endpoints read and write; ``schema``: shared OpenAPI pieces.
- ``checkout``: the cart becomes an order. ``orders``: the customer's own orders, their QR
  code and timeline. ``counter``: the store staff's lookup, status and collection.
"""

from orders.api.checkout import CheckoutView
from orders.api.counter import OrderCollectView, OrderStatusView, PickupLookupView
from orders.api.orders import (
    OrderArrivedView,
    OrderCancelView,
    OrderDetailView,
    OrderListView,
    OrderQrView,
    TimelineView,
)

__all__ = [
    "CheckoutView",
    "OrderArrivedView",
    "OrderCancelView",
    "OrderCollectView",
    "OrderDetailView",
    "OrderListView",
    "OrderQrView",
    "OrderStatusView",
    "PickupLookupView",
    "TimelineView",
]

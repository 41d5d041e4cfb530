"""How the order API documents its paths and errors (drf-spectacular), shared by its views."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from core.api import error_response
from orders.models import OrderStatus

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

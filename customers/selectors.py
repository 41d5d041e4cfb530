from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform

from customers.models import Customer, Touchpoint


def timeline(*, customer: Customer, limit: int | None = 50, hide_orders=None):
    """The customer's touchpoints, newest first (``limit=None`` for a paginated list).

    ``hide_orders`` (order numbers, or a queryset of them) leaves out the touchpoints about
    those orders: the customer may not see them yet (guest orders before the address is
    verified).
    """
    touchpoints = Touchpoint.objects.filter(customer=customer).order_by("-created_at", "-pk")
    if hide_orders is not None:
        touchpoints = touchpoints.annotate(about_order=KeyTextTransform("order", "payload")).filter(
            Q(about_order__isnull=True) | ~Q(about_order__in=hide_orders)
        )
    return touchpoints if limit is None else touchpoints[:limit]

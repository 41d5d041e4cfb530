from customers.models import Customer, Touchpoint


def timeline(*, customer: Customer, limit: int | None = 50):
    """The customer's touchpoints, newest first (``limit=None`` for a paginated list)."""
    touchpoints = Touchpoint.objects.filter(customer=customer).order_by("-created_at", "-pk")
    return touchpoints if limit is None else touchpoints[:limit]

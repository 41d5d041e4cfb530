from customers.models import Customer, Touchpoint


def timeline(*, customer: Customer, limit: int = 50):
    return Touchpoint.objects.filter(customer=customer).order_by("-created_at", "-pk")[:limit]

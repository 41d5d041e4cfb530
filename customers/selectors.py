import re

from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Replace
from django.http import Http404

from customers.models import (
    Customer,
    CustomerAccess,
    Notification,
    NpsAnswer,
    NpsFollowUp,
    Touchpoint,
    fold_for_search,
)

SEARCH_LIMIT = 20


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


def customer_by_reference(reference) -> Customer:
    """A customer record for the store tablet (staff only), by the opaque reference a search
    result or an order of the store links to; 404 if there is none (never by the id)."""
    reference = str(reference or "")[:32]
    customer = (
        Customer.objects.select_related("user").filter(reference=reference).first()
        if reference
        else None
    )
    if customer is None:
        raise Http404("No such customer")
    return customer


def customer_by_email(email: str) -> Customer | None:
    return Customer.objects.filter(email__iexact=(email or "").strip()).first()


_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


def search_customers(query: str):
    """Customers whose email, phone or name matches what the clerk typed (at most 20).

    Names match whatever the case and accents ("lucia" finds "Lucía"); phone numbers however
    they are spaced or punctuated, and without the country code.
    """
    query = (query or "").strip()[:100]
    if not query:
        return Customer.objects.none()
    match = Q(email__icontains=query) | Q(search_name__contains=fold_for_search(query))
    digits = _PHONE_PUNCTUATION.sub("", query)
    if re.fullmatch(r"\+?\d{4,}", digits):
        bare_phone = F("phone")
        for mark in (" ", "-", "(", ")", "."):
            bare_phone = Replace(bare_phone, Value(mark))
        return (
            Customer.objects.annotate(bare_phone=bare_phone)
            .filter(match | Q(bare_phone__contains=digits))
            .order_by("name", "email", "pk")[:SEARCH_LIMIT]
        )
    return Customer.objects.filter(match).order_by("name", "email", "pk")[:SEARCH_LIMIT]


def messages_about(*, customer: Customer, order_number: str):
    """The messages sent (or queued) to ``customer`` about one order, oldest first."""
    return Notification.objects.filter(customer=customer, order_number=order_number).order_by(
        "created_at", "pk"
    )


def message_keys(*, order_numbers, kinds) -> set[str]:
    """The dedupe keys of the messages already written about these orders, of these kinds."""
    return set(
        Notification.objects.filter(order_number__in=order_numbers, kind__in=kinds).values_list(
            "dedupe_key", flat=True
        )
    )


def sent_messages_by_order(*, order_numbers, kind: str) -> dict[str, int]:
    """How many messages of ``kind`` went out about each of these orders (``order_numbers``:
    a list, or a queryset of numbers read as a subquery)."""
    rows = (
        Notification.objects.filter(
            order_number__in=order_numbers, kind=kind, status=Notification.Status.SENT
        )
        .values("order_number")
        .annotate(sent=Count("pk"))
        .order_by()
    )
    return {row["order_number"]: row["sent"] for row in rows}


def survey_answers(*, order_numbers) -> list[NpsAnswer]:
    """The survey answers about these orders (a list, or a queryset of numbers), oldest
    first."""
    return list(NpsAnswer.objects.filter(order_number__in=order_numbers).order_by("created_at"))


def survey_follow_ups(*, order_numbers):
    """The follow-ups of detractors' answers about these orders (a queryset of numbers), open
    ones first, oldest first, with the answer and its customer."""
    return (
        NpsFollowUp.objects.filter(answer__order_number__in=order_numbers)
        .select_related("answer__customer", "updated_by")
        .order_by(Case(When(status=NpsFollowUp.Status.OPEN, then=0), default=1), "created_at", "pk")
    )


def customer_accesses(*, store_ids):
    """Views of customer records at these stores' tablets, newest first, with the customer,
    the clerk and the store (one query per page of them)."""
    return CustomerAccess.objects.filter(store_id__in=list(store_ids)).select_related(
        "customer", "user", "store"
    )

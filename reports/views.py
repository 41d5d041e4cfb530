"""Manager pages: the payments reconciliation (money per store and day, and what to check),
the log of who opened which customer's record at the tablet, and the follow-ups of unhappy
customers."""

from datetime import UTC, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from customers.errors import CustomerError
from customers.selectors import customer_accesses
from customers.services import FOLLOW_UP_NOTE_MAX, follow_up_answer
from orders import selectors
from reports.selectors import follow_up_for_manager, managed_scope
from reports.selectors import follow_ups as follow_up_list
from reports.web import csv_download
from stores.selectors import staff_stores

ACCESS_PAGE_SIZE = 50
DEFAULT_DAYS = 7
MAX_DAYS = 366
ISO_DATE = ["%Y-%m-%d"]
CSV_COLUMNS = [
    "date",
    "store",
    "currency",
    "online_captured",
    "in_store_card",
    "in_store_cash",
    "refunded_online",
    "refunded_counter",
    "net",
    "orders_collected",
]


class ReconciliationForm(forms.Form):
    """``?from=&to=&store=`` (``from`` is a Python keyword: the view maps it to ``start``)."""

    start = forms.DateField(required=False, input_formats=ISO_DATE)
    end = forms.DateField(required=False, input_formats=ISO_DATE)
    format = forms.ChoiceField(required=False, choices=[("", "html"), ("csv", "csv")])

    error_messages = {
        "reversed": gettext_lazy("The start date must be on or before the end date."),
        "too_long": gettext_lazy("Choose a range of at most %(days)s days."),
    }

    def __init__(self, params, **kwargs):
        data = {
            "start": params.get("from", ""),
            "end": params.get("to", ""),
            "format": params.get("format", ""),
        }
        super().__init__(data, **kwargs)
        self.fields["start"].error_messages["invalid"] = _(
            "“From” must be a date written YYYY-MM-DD."
        )
        self.fields["end"].error_messages["invalid"] = _("“To” must be a date written YYYY-MM-DD.")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(self.error_messages["reversed"])
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(self.error_messages["too_long"] % {"days": MAX_DAYS})
        return data


def _default_range(stores, chosen):
    """The last 7 days up to today, where "today" is the day at the store being looked at:
    the chosen store, else the first store the manager has (by code) — their stores are
    normally in one time zone, and a day there is what they reconcile. UTC without a store."""
    store = chosen or (stores[0] if stores else None)
    tz = store.tz if store else UTC
    today = timezone.now().astimezone(tz).date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def _managed_scope(request):
    """The stores the user manages and the one chosen with ``?store=`` (see
    ``reports.selectors.managed_scope``)."""
    return managed_scope(request.user, request.GET.get("store", ""))


def _error_text(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@login_required
@require_safe
def reconciliation(request):
    """Money taken and refunded per store and local day, and the orders needing attention.

    Managers see the stores they manage, superusers every store; anyone else is refused (403,
    like the tablet home for a user without a store). Asking for a store one does not manage
    is a 404, as on the tablet: no store is confirmed to exist.
    """
    stores, chosen = _managed_scope(request)
    form = ReconciliationForm(request.GET)
    context = {
        "stores": stores,
        # Orders at stores the user works at open on the tablet; others (a superuser's view of
        # every store) in the admin.
        "staff_store_ids": set(staff_stores(request.user).values_list("pk", flat=True)),
        "chosen": chosen,
        "from_value": request.GET.get("from", "")[:10],
        "to_value": request.GET.get("to", "")[:10],
    }
    if not form.is_valid():
        context["error"] = _error_text(form)
        return render(request, "manage/reconciliation.html", context, status=400)

    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    if start is None and end is None:
        start, end = _default_range(stores, chosen)
    else:
        try:
            if start is None:
                start = end - timedelta(days=DEFAULT_DAYS - 1)
            elif end is None:
                end = start + timedelta(days=DEFAULT_DAYS - 1)
        except OverflowError:
            context["error"] = _("Choose dates between the years 1 and 9999.")
            return render(request, "manage/reconciliation.html", context, status=400)

    scope = [chosen] if chosen else stores
    report = selectors.payment_reconciliation(stores=scope, start=start, end=end)
    if form.cleaned_data["format"] == "csv":
        return _csv(report, start, end, chosen)
    mismatches = selectors.payment_mismatches(stores=scope)
    # Refused events naming no order belong to no store: only who sees every store sees them.
    anomalies = selectors.payment_anomalies(
        stores=scope, unattributed=request.user.is_superuser and chosen is None
    )
    query = request.GET.copy()
    query["format"] = "csv"
    query["from"], query["to"] = start.isoformat(), end.isoformat()
    context.update(
        start=start,
        end=end,
        from_value=start.isoformat(),
        to_value=end.isoformat(),
        report=report,
        mismatches=mismatches,
        mismatch_limit=selectors.MISMATCH_LIMIT,
        mismatches_truncated=len({m.order.pk for m in mismatches}) >= selectors.MISMATCH_LIMIT,
        anomalies=anomalies,
        csv_query=query.urlencode(),
    )
    return render(request, "manage/reconciliation.html", context)


@login_required
@require_safe
def customer_access(request):
    """Who opened which customer's record at the tablet, where and when: the stores the user
    manages (or the one chosen), newest first, a page at a time. Refused like the
    reconciliation: 403 for anyone who manages no store, 404 for a store they do not."""
    stores, chosen = _managed_scope(request)
    scope = [chosen] if chosen else stores
    views = customer_accesses(store_ids=[store.pk for store in scope])
    page = Paginator(views, ACCESS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"stores": stores, "chosen": chosen, "page": page}
    return render(request, "manage/customer_access.html", context)


def _csv(report, start, end, chosen):
    scope = f"-{chosen.code}" if chosen else ""
    rows = (
        [
            row.day.isoformat(),
            row.store.code,
            row.currency,
            row.online_captured,
            row.in_store_card,
            row.in_store_cash,
            row.refunded_online,
            row.refunded_counter,
            row.net,
            row.orders_collected,
        ]
        for row in report.rows
    )
    return csv_download(
        f"reconciliation{scope}-{start.isoformat()}-{end.isoformat()}.csv", CSV_COLUMNS, rows
    )


@login_required
@require_safe
def follow_ups(request):
    """Unhappy customers to follow up: every detractor's answer (0–6) about an order of the
    stores the user manages, open ones first, flagged when open for more than 48 hours.
    Refused like the reconciliation (403 for anyone who manages no store, 404 for a store they
    do not)."""
    stores, chosen = _managed_scope(request)
    status = request.GET.get("status", "open")
    if status not in ("open", "all"):
        status = "open"
    return _follow_ups_page(request, stores, chosen, status)


def _follow_ups_page(request, stores, chosen, status, *, errors=None, http_status=200):
    items = follow_up_list(
        stores=[chosen] if chosen else stores, status="" if status == "all" else status
    )
    context = {
        "stores": stores,
        "chosen": chosen,
        "status": status,
        "items": items,
        "flagged": sum(1 for item in items if item.flagged),
        "errors": errors or {},
        "note_max": FOLLOW_UP_NOTE_MAX,
    }
    return render(request, "manage/follow_ups.html", context, status=http_status)


@login_required
@require_POST
def follow_up_update(request, follow_up_id):
    """Mark a follow-up contacted or resolved with a note (a touchpoint on the customer's
    timeline); refused input shows the list again with the reason beside the item."""
    follow_up = follow_up_for_manager(request.user, follow_up_id)
    stores, _chosen = _managed_scope(request)
    try:
        follow_up_answer(
            follow_up_id=follow_up.pk,
            status=request.POST.get("status", ""),
            note=request.POST.get("note", ""),
            user=request.user,
        )
    except CustomerError as error:
        return _follow_ups_page(
            request, stores, None, "all", errors={follow_up.pk: error.message}, http_status=400
        )
    messages.success(request, _("Follow-up saved."))
    return redirect(f"{reverse('manage:follow_ups')}?status=all")

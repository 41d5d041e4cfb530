"""The store tablet: live queue, scan or type a pickup code, prepare, hand over, cancel."""

import secrets
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.display import label_of, money
from core.errors import form_error
from counter.forms import (
    CancelForm,
    CodeForm,
    CollectForm,
    ExtendHoldForm,
    ScanForm,
    StatusForm,
)
from customers.models import Channel
from customers.selectors import messages_about
from orders import selectors, services
from orders.errors import OrderError
from orders.forms import RefundForm
from orders.models import Actor, OrderStatus
from stores.selectors import is_manager, staff_stores, store_for_staff

DEVICE_COOKIE = "oc_device"
# The refusals of ``services.open_for_pickup`` that explain an order that is over.
ORDER_OVER = {"already_collected", "order_cancelled", "order_expired"}


def counter_view(view):
    """Staff only, and only at a store the user works at (404 for any other store)."""

    @login_required
    @wraps(view)
    def wrapper(request, code, *args, **kwargs):
        store = store_for_staff(request.user, code)
        response = view(request, store, *args, **kwargs)
        if DEVICE_COOKIE not in request.COOKIES:
            response.set_signed_cookie(
                DEVICE_COOKIE,
                secrets.token_hex(6),
                salt="device",
                max_age=5 * 365 * 86400,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    return wrapper


def _device(request) -> str:
    device_id = request.get_signed_cookie(DEVICE_COOKIE, default="new", salt="device")
    agent = request.META.get("HTTP_USER_AGENT", "")[:150]
    return f"tablet {device_id} · {agent}"


@login_required
@require_safe
def home(request):
    stores = list(staff_stores(request.user))
    if not stores:
        raise PermissionDenied
    if len(stores) == 1:
        return redirect("counter:queue", code=stores[0].code)
    return render(request, "counter/home.html", {"stores": stores})


def _queue_context(request, store, *, state=None, **extra):
    """The board: the first tickets of each column (more on demand: ``?placed=50``), and the
    version the next poll sends back (``since``) so that nothing is sent while nothing changed."""
    limits = selectors.queue_limits(request.GET)
    state = state or selectors.queue_state(store=store)
    columns = selectors.store_queue(store=store, limits=limits, state=state)
    shown = {k: v for k, v in limits.items() if v != selectors.QUEUE_SHOWN}
    for column in columns.values():
        more = min(column.limit + selectors.QUEUE_SHOWN, selectors.QUEUE_SHOWN_MAX)
        column.more_query = urlencode({**shown, column.name: more})
    return {
        "store": store,
        "columns": columns,
        "version": state.version,
        "shown_limits": shown,
        "max_shown": selectors.QUEUE_SHOWN_MAX,
        "scan_form": ScanForm(),
        **extra,
    }


def _queue_page(request, store, *, status=200, **extra):
    """The whole queue page: the board, and the orders collected today (for a refund)."""
    context = _queue_context(
        request, store, collected_today=selectors.collected_today(store=store), **extra
    )
    return render(request, "counter/queue.html", context, status=status)


@counter_view
@require_safe
def queue(request, store):
    if request.htmx:
        # The poll: 204 (htmx keeps the board as it is) when nothing changed since ``since``.
        state = selectors.queue_state(store=store)
        if request.GET.get("since") == state.version:
            return HttpResponse(status=204)
        context = _queue_context(request, store, state=state)
        return render(request, "counter/partials/queue_board.html", context)
    return _queue_page(request, store)


@counter_view
@require_POST
def scan(request, store):
    """A scanner typed the QR token + Enter, or the clerk typed the short code."""
    form = ScanForm(request.POST)
    if not form.is_valid():
        error = _("Scan a QR code, or type a pickup code or an order number.")
        return _queue_page(request, store, status=400, scan_error=error)
    return _scan_response(request, store, form.cleaned_data["q"])


def _no_such_number(number: str) -> str:
    return _("No order %(number)s at this store.") % {"number": number}


def _scan_response(request, store, value: str):
    number = selectors.order_number_in(value)
    if number is not None:
        # An order number opens the order (to look at it, or refund it) but proves nothing:
        # handing it over still needs its QR code or pickup code.
        found = selectors.order_by_number(store=store, number=number)
        if found is None:
            return _queue_page(request, store, status=404, scan_error=_no_such_number(number))
        return redirect("counter:order", code=store.code, number=found.number)
    try:
        scanned = "token" if len(value) >= services.TOKEN_MIN_LENGTH else "code"
        order = services.open_for_pickup(store=store, user=request.user, **{scanned: value})
    except OrderError as error:
        if error.code not in ORDER_OVER:
            return _queue_page(request, store, status=error.status, scan_error=error.message)
        # One use: scanning a collected, cancelled or expired order explains what happened
        # instead of opening it for handover.
        order = selectors.order_for_store(store=store, number=error.extra["number"])
        return _order_page(request, store, order, status=409, scan_refused=error)
    return redirect("counter:order", code=store.code, number=order.number)


def _counter_pays(card) -> bool:
    """The money is taken at the counter (no card authorised online to charge)."""
    return card is None or card.counter_pays


def _order_context(request, store, order, **extra):
    verified = services.pickup_verification(order=order, user=request.user)
    card = selectors.card_payment(order)
    collect_form = extra.pop("collect_form", None) or CollectForm(
        order=order, counter_pays=_counter_pays(card)
    )
    return {
        "store": store,
        "order": order,
        "verified": verified,
        "is_manager": is_manager(request.user, store),
        "card": card,
        "money_taken": selectors.money_taken(order),
        "money": selectors.money_summary(order),
        "collect_form": collect_form,
        **_amount_context(order, collect_form, card),
        "cancel_form": extra.pop("cancel_form", None) or CancelForm(),
        "item_count": sum(line.quantity for line in order.lines.all()),
        "code_form": CodeForm(),
        **_refund_context(order, extra.pop("refund_form", None)),
        **_messages_context(order, extra.pop("extend_form", None)),
        **extra,
    }


def _order_page(request, store, order, *, status=200, **extra):
    context = _order_context(request, store, order, **extra)
    return render(request, "counter/order.html", context, status=status)


def _amount_context(order, form, card) -> dict:
    """The amount to take for the quantities on the handover form (None while one of them is
    not a possible number), and whether it is charged to the card authorised online."""
    quantities = form.typed_quantities()
    return {
        "amount_due": None
        if quantities is None
        else selectors.handover_total(order.lines.all(), quantities),
        "card_charged": not _counter_pays(card),
    }


def _messages_context(order, extend_form=None) -> dict:
    """The messages section: the order's outbox rows to its customer, oldest first (one
    query), and on a ready order the hold and resend controls."""
    rows = list(messages_about(customer=order.customer, order_number=order.number))
    return {
        "order_messages": rows,
        "extend_form": extend_form or ExtendHoldForm(),
        "resends_left": selectors.ready_resends_left(rows),
    }


def _refund_context(order, form=None) -> dict:
    """The refund section of a collected order: the form, the refunds so far, what is left."""
    if order.status != OrderStatus.COLLECTED:
        return {}
    summary = selectors.refund_summary(order)
    return {
        "refund_form": form or RefundForm(order=order, at_till=summary.at_till),
        "refund_at_till": summary.at_till,
        "refunds": summary.refunds,
        "refundable": summary.refundable,
        "can_refund": summary.can_refund,
    }


@counter_view
@require_safe
def order_detail(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    return _order_page(request, store, order)


def _confirmed(request) -> bool:
    """The clerk confirmed the step that moves money or ends the order (``confirm``)."""
    return request.POST.get("confirm") == "1"


def _refused_on_page(request, store, number, error: OrderError, **extra):
    """A business rule said no: the order page again (as it is now), saying why at the top,
    with what the clerk typed kept in the forms passed in ``extra``."""
    order = selectors.order_for_store(store=store, number=number)
    return _order_page(request, store, order, status=error.status, page_error=error, **extra)


@counter_view
@require_POST
def change_status(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    form = StatusForm(request.POST)
    if not form.is_valid():
        error = form_error(form)
        if request.htmx:
            raise error
        return _order_page(request, store, order, status=error.status, page_error=error)
    try:
        services.advance_order(order=order, to=form.cleaned_data["status"], user=request.user)
    except OrderError as error:
        if request.htmx:
            # From the queue board: the message shows above it (see DomainErrorMiddleware).
            raise
        return _refused_on_page(request, store, number, error)
    if request.htmx:
        return render(request, "counter/partials/queue_board.html", _queue_context(request, store))
    return redirect("counter:order", code=store.code, number=order.number)


@counter_view
@require_POST
def verify_code(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    form = CodeForm(request.POST)
    if not form.is_valid():
        code_error = " ".join(form.errors["code"])
        return _order_page(request, store, order, status=400, code_error=code_error)
    if len(form.cleaned_data["code"]) >= services.TOKEN_MIN_LENGTH:
        # A scanner typed a QR token into the code box: that is a scan (perhaps of the next
        # customer's order), never a wrong code for this one.
        return _scan_response(request, store, form.cleaned_data["code"])
    if order.status in services.CLOSED:
        return _order_page(
            request, store, order, status=409, scan_refused=services.order_over(order)
        )
    try:
        services.verify_pickup_code(order=order, user=request.user, code=form.cleaned_data["code"])
    except OrderError as error:
        order = selectors.order_for_store(store=store, number=number)
        return _order_page(request, store, order, status=error.status, code_error=error.message)
    return redirect("counter:order", code=store.code, number=order.number)


@counter_view
@require_POST
def collect_amount(request, store, number):
    """What the handover form's quantities come to, with the same pricing as the collection:
    the amount line (htmx, as the clerk changes a quantity) or, without JavaScript
    ("Recalculate"), the order page again with everything typed kept. Writes nothing."""
    order = selectors.order_for_store(store=store, number=number)
    card = selectors.card_payment(order)
    form = CollectForm(
        request.POST, order=order, counter_pays=_counter_pays(card), check_payment=False
    )
    amount = _amount_context(order, form, card)
    status = 400 if amount["amount_due"] is None else 200
    if request.htmx:
        context = {"order": order, **amount}
        return render(request, "counter/partials/amount_due.html", context, status=status)
    return _order_page(request, store, order, status=status, collect_form=form)


# A refusal of the handover that is about one field of the form is shown beside it.
_COLLECT_ERROR_FIELDS = {
    "bad_payment": "payment_method",
    "reference_required": "reference",
    "bad_collector": "collector",
    "no_delegate": "collector",
}


@counter_view
@require_POST
def collect(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    card = selectors.card_payment(order)
    form = CollectForm(request.POST, order=order, counter_pays=_counter_pays(card))
    if not form.is_valid():
        return _order_page(request, store, order, status=400, collect_form=form)
    try:
        order = services.collect_order(
            order=order,
            user=request.user,
            quantities=form.quantities(),
            payment_method=form.cleaned_data["payment_method"],
            reference=form.cleaned_data["reference"],
            collector=form.cleaned_data["collector"],
            verified_by=services.pickup_verification(order=order, user=request.user),
            device=_device(request),
        )
    except OrderError as error:
        field = _COLLECT_ERROR_FIELDS.get(error.code)
        if field:
            form.add_error(field, error.message)
            order = selectors.order_for_store(store=store, number=number)
            return _order_page(request, store, order, status=error.status, collect_form=form)
        return _refused_on_page(request, store, number, error, collect_form=form)
    done = _("Order %(number)s handed over.") % {"number": order.number}
    taken = selectors.money_taken(order)
    if taken:
        done = f"{done} {selectors.money_taken_text(taken[-1])}."
    messages.success(request, done)
    return redirect("counter:queue", code=store.code)


@counter_view
@require_POST
def cancel(request, store, number):
    """Cancel an order not ready yet, with a reason, after a confirmation step that says what
    it means (the amount, the stock going back, a card hold released)."""
    order = selectors.order_for_store(store=store, number=number)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _order_page(request, store, order, status=400, cancel_form=form)
    if "back" in request.POST:
        return _order_page(request, store, order, cancel_form=form)
    if not _confirmed(request) and order.can_move_to(OrderStatus.CANCELLED):
        return _order_page(request, store, order, cancel_form=form, cancel_confirm=True)
    try:
        services.cancel_order(
            order=order,
            reason=form.cleaned_data["reason"],
            actor=Actor.STAFF,
            channel=Channel.STORE,
            user=request.user,
        )
    except OrderError as error:
        return _refused_on_page(request, store, number, error, cancel_form=form)
    messages.success(
        request,
        _("Order %(number)s cancelled; its stock is back on sale.") % {"number": order.number},
    )
    return redirect("counter:queue", code=store.code)


@counter_view
@require_POST
def unlock_code(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    try:
        services.unlock_pickup_code(order=order, user=request.user)
    except OrderError as error:
        return _refused_on_page(request, store, number, error)
    messages.success(request, _("Pickup code unlocked."))
    return redirect("counter:order", code=store.code, number=order.number)


def _refund_section(request, store, order, *, status=200, **extra):
    """After a refund attempt: the refund section (htmx) or the whole order page."""
    order = selectors.order_for_store(store=store, number=order.number)
    context = _order_context(request, store, order, **extra)
    template = "counter/partials/refund.html" if request.htmx else "counter/order.html"
    return render(request, template, context, status=status)


@counter_view
@require_POST
def refund(request, store, number):
    """Give money back for collected items, after a confirmation step stating the amount and
    where it goes. Any staff member of the store may; the refund records who did it."""
    order = selectors.order_for_store(store=store, number=number)
    try:
        selectors.check_refundable(order)
    except OrderError as error:
        if request.htmx:
            raise
        return _order_page(request, store, order, status=error.status, page_error=error)
    at_till = selectors.refund_summary(order).at_till
    form = RefundForm(request.POST, order=order, at_till=at_till)
    if not form.is_valid():
        return _refund_section(request, store, order, status=400, refund_form=form)
    if "back" in request.POST:
        return _refund_section(request, store, order, refund_form=form)
    try:
        if not _confirmed(request):
            picked, amount = selectors.refund_plan(order, form.quantities())
            confirm = {"lines": picked, "amount": amount, **form.refund_arguments()}
            return _refund_section(request, store, order, refund_form=form, refund_confirm=confirm)
        refunded = services.refund_order(
            order=order, user=request.user, channel=Channel.STORE, **form.refund_arguments()
        )
    except OrderError as error:
        return _refund_section(
            request,
            store,
            order,
            status=error.status,
            refund_form=form,
            refund_error=error.message,
        )
    done = _("%(amount)s refunded.") % {
        "amount": money(refunded.amount_refunded, refunded.currency)
    }
    if request.htmx:
        return _refund_section(request, store, order, refund_done=done)
    messages.success(request, done)
    return redirect("counter:order", code=store.code, number=order.number)


# --- The no-show policy: a longer hold, the ready message again, a failed message again ------


def _messages_done(request, store, number, done: str):
    """After a change from the messages section: that section (htmx, with the hold end
    updated in place) or, without JavaScript, back to the order page."""
    if not request.htmx:
        messages.success(request, done)
        return redirect("counter:order", code=store.code, number=number)
    order = selectors.order_for_store(store=store, number=number)
    context = {"store": store, "order": order, "messages_done": done, "oob": True}
    return render(
        request, "counter/partials/messages.html", {**context, **_messages_context(order)}
    )


def _messages_refused(request, store, number, *, status: int, extend_form=None, error=""):
    """A refused change from the messages section: that section again (htmx) or the order
    page, with the error beside the form and what was typed kept."""
    order = selectors.order_for_store(store=store, number=number)
    if not request.htmx:
        return _order_page(
            request, store, order, status=status, extend_form=extend_form, messages_error=error
        )
    context = {
        "store": store,
        "order": order,
        "messages_error": error,
        **_messages_context(order, extend_form),
    }
    return render(request, "counter/partials/messages.html", context, status=status)


@counter_view
@require_POST
def extend_hold(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    form = ExtendHoldForm(request.POST)
    if not form.is_valid():
        return _messages_refused(request, store, number, status=400, extend_form=form)
    try:
        order = services.extend_hold(
            order=order, hours=form.cleaned_data["hours"], user=request.user
        )
    except OrderError as error:
        return _messages_refused(
            request, store, number, status=error.status, extend_form=form, error=error.message
        )
    until = localtime(order.hold_until, store.tz)
    done = _("Hold extended: kept until %(when)s.") % {
        "when": date_format(until, "D j M, H:i") + label_of(until)
    }
    return _messages_done(request, store, number, done)


@counter_view
@require_POST
def resend_ready(request, store, number):
    order = selectors.order_for_store(store=store, number=number)
    try:
        services.resend_ready_message(order=order, user=request.user)
    except OrderError as error:
        return _messages_refused(request, store, number, status=error.status, error=error.message)
    return _messages_done(request, store, number, _("Ready message sent again."))


@counter_view
@require_POST
def message_again(request, store, number, message_id):
    """Try one failed message of this order again (found by order and customer, not by id)."""
    order = selectors.order_for_store(store=store, number=number)
    try:
        services.send_order_message_again(order=order, message_id=message_id, user=request.user)
    except OrderError as error:
        return _messages_refused(request, store, number, status=error.status, error=error.message)
    return _messages_done(request, store, number, _("The message is being sent again."))

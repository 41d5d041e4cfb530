"""Shopper-facing order pages: checkout, the order with its pickup QR, the account."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from config.display import label_of
from config.errors import DomainError
from config.qr import qr_svg
from customers.errors import CustomerError
from customers.forms import PreferencesForm
from customers.models import Channel
from customers.services import update_customer
from orders import selectors
from orders.errors import OrderError
from orders.forms import CheckoutForm, PayForm
from orders.models import OrderStatus, PaymentMethod
from orders.payments import is_test_mode, online_payments_enabled
from orders.services import (
    Contact,
    check_online_payment,
    mark_arrived,
    pay_at_counter_instead,
    pay_online,
    place_order,
    start_card_entry,
)
from shop.selectors import cart_summary
from shop.web import current_cart, current_customer, remember_store, remembered_store_id
from stores.models import Store
from stores.selectors import active_stores, pickup_slots

SESSION_GUEST_ORDERS = "guest_orders"


def _checkout_context(request, form, cart, store_code=None, day=None):
    stores = list(active_stores())
    store_id = remembered_store_id(request, cart)
    store = next((s for s in stores if s.code == store_code), None) or next(
        (s for s in stores if s.pk == store_id), stores[0] if stores else None
    )
    slots = pickup_slots(store=store) if store else []
    # One local day at a time: the days with bookable slots, then that day's slots.
    days: dict[str, list] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(store.tz).date().isoformat(), []).append(slot)
    chosen_slot = (form.data.get("slot") if form.is_bound else "") or ""
    if chosen_slot[:10] in days and not day:
        day = chosen_slot[:10]
    day = (
        day
        if day in days
        else next(
            (d for d, day_slots in days.items() if any(not s.is_full for s in day_slots)), None
        )
    )
    return {
        "form": form,
        "summary": cart_summary(cart),
        "stores": stores,
        "store": store,
        "days": [(d, days[d][0].start) for d in days],
        "day": day,
        "slots": days.get(day, []),
        "chosen_slot": chosen_slot,
        "customer": current_customer(request),
    }


def _checkout_form(customer, **kwargs) -> CheckoutForm:
    """A logged-in customer's email is the account's: shown, not editable."""
    kwargs["online"] = online_payments_enabled()
    if customer is None:
        return CheckoutForm(**kwargs)
    initial = {
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        **kwargs.pop("initial", {}),
    }
    form = CheckoutForm(initial=initial, **kwargs)
    form.fields["email"].disabled = True
    return form


def checkout(request):
    cart = current_cart(request)
    customer = current_customer(request)
    if cart is None or (request.method != "POST" and not cart.lines.exists()):
        return redirect("shop:cart")
    if request.method == "POST":
        form = _checkout_form(customer, data=request.POST)
        if not form.is_valid():
            context = _checkout_context(request, form, cart, request.POST.get("store"))
            return render(request, "orders/checkout.html", context, status=400)
        data = form.cleaned_data
        store = active_stores().filter(code=data["store"]).first()
        if store is None:
            raise OrderError("unknown_store", _("We have no store with that code."), status=400)
        contact = Contact(name=data["name"], email=data["email"], phone=data["phone"])
        try:
            order = place_order(
                cart=cart,
                store=store,
                slot_start=data["slot"],
                payment_method=data["payment"],
                channel=Channel.WEB,
                customer=customer,
                contact=contact,
                pickup_person=data["pickup_person"],
                idempotency_key=data["checkout_key"],
                user=request.user,
                allow_online=True,
            )
        except DomainError as error:
            # Slot just filled, an item ran out...: keep what the shopper typed, say why.
            context = _checkout_context(request, form, cart, store.code)
            context["error"] = error
            return render(request, "orders/checkout.html", context, status=error.status)
        if customer is None:
            numbers = request.session.get(SESSION_GUEST_ORDERS, [])
            if order.number not in numbers:
                request.session[SESSION_GUEST_ORDERS] = [*numbers, order.number][-20:]
        if order.status == OrderStatus.PENDING_PAYMENT:
            return redirect("orders:pay", number=order.number)
        return redirect("orders:detail", number=order.number)

    initial = {"checkout_key": secrets.token_urlsafe(24)}
    store_code = request.GET.get("store")
    picked = active_stores().filter(code=store_code).first() if store_code else None
    if picked is not None and picked.pk != remembered_store_id(request, cart):
        remember_store(request, picked.pk)
        cart.refresh_from_db(fields=["store"])
    form = _checkout_form(customer, initial=initial)
    context = _checkout_context(request, form, cart, store_code, request.GET.get("day"))
    if request.htmx and request.htmx.target == "slot-list":
        return render(request, "orders/partials/slot_list.html", context)
    return render(request, "orders/checkout.html", context)


def _order_for_viewer(request, number):
    if request.user.is_authenticated:
        try:
            return selectors.order_for_customer(customer=current_customer(request), number=number)
        except Http404:
            pass  # maybe placed as a guest earlier in this browser session
    return selectors.order_for_guest(
        numbers=request.session.get(SESSION_GUEST_ORDERS), number=number
    )


@require_safe
def order_detail(request, number):
    order = _order_for_viewer(request, number)
    context = {
        "order": order,
        "card": selectors.card_payment(order),
        "offer_arrival": order.check_in_open(),
    }
    return render(request, "orders/order_detail.html", context)


def _local_time(order, moment) -> str:
    local = timezone.localtime(moment, order.store.tz)
    return time_format(local, "H:i") + label_of(local)


@require_POST
def order_arrived(request, number):
    """The shopper's "I'm here" button: the store's queue shows the order first, flagged.

    Pressing twice is harmless (the first time is kept and shown); works without JavaScript.
    """
    order = _order_for_viewer(request, number)
    if order.arrived_at is not None and order.is_open:
        messages.info(
            request,
            _("We already told the store at %(time)s.")
            % {"time": _local_time(order, order.arrived_at)},
        )
        return redirect("orders:detail", number=order.number)
    now = timezone.now()
    user = request.user if request.user.is_authenticated else None
    try:
        order = mark_arrived(order=order, channel=Channel.WEB, user=user, now=now)
    except OrderError as error:
        messages.error(request, error.message)
        return redirect("orders:detail", number=order.number)
    if order.arrived_at == now:
        messages.success(
            request,
            _(
                "Thank you: the store knows you are here. Please go to the counter with your "
                "pickup code."
            ),
        )
    else:  # pressed twice at once: the other press told the store first
        messages.info(
            request,
            _("We already told the store at %(time)s.")
            % {"time": _local_time(order, order.arrived_at)},
        )
    return redirect("orders:detail", number=order.number)


def _pay_page(request, order, *, status=200, error=None, action_secret=""):
    """The card payment page: Stripe.js turns the typed card into a ``pm_…`` in the browser."""
    secret = ""
    try:
        secret = start_card_entry(order=order)
    except OrderError as exc:
        if error is None:
            error, status = exc, exc.status
    context = {
        "order": order,
        "setup_secret": secret,
        "action_secret": action_secret,
        "error": error,
        "stripe_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "test_mode": is_test_mode(),
        "pay_by": order.created_at + timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES),
    }
    return render(request, "orders/pay.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def pay(request, number):
    """Pay an online order waiting for its card: GET shows the card form, POST authorises the
    ``pm_…`` Stripe.js made (or, after 3-D Secure, checks the result)."""
    order = _order_for_viewer(request, number)
    if order.payment_method != PaymentMethod.ONLINE or not online_payments_enabled():
        return redirect("orders:detail", number=order.number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect("orders:detail", number=order.number)
    if request.method != "POST":
        return _pay_page(request, order)
    form = PayForm(request.POST)
    if not form.is_valid():
        error = OrderError(
            "bad_payment_method",
            " ".join(form.errors.get("__all__", [])) or _("Enter your card details to pay."),
            status=400,
        )
        return _pay_page(request, order, status=400, error=error)
    action_secret = ""
    try:
        if form.cleaned_data["check"]:
            order = check_online_payment(order=order, channel=Channel.WEB)
        else:
            order, action_secret = pay_online(
                order=order,
                payment_method=form.cleaned_data["payment_method"],
                channel=Channel.WEB,
                user=request.user,
                cancel_on_decline=False,
            )
    except OrderError as error:
        return _pay_page(request, order, status=error.status, error=error)
    if order.status == OrderStatus.PENDING_PAYMENT:
        if action_secret:
            # The card asks the customer to authenticate: the page runs 3-D Secure, then
            # posts back to check the result.
            return _pay_page(request, order, action_secret=action_secret)
        error = OrderError(
            "card_not_authorised",
            _("The card was not authorised. Try again or use another card."),
            status=402,
        )
        return _pay_page(request, order, status=402, error=error)
    messages.success(
        request,
        _("Your card is authorised. You are charged at pickup, only for what you take."),
    )
    return redirect("orders:detail", number=order.number)


@require_POST
def pay_counter(request, number):
    """Pay at the counter instead of online (the order keeps its items and pickup time)."""
    order = _order_for_viewer(request, number)
    pay_at_counter_instead(order=order, channel=Channel.WEB, user=request.user)
    messages.success(request, _("You will pay at the counter when you collect."))
    return redirect("orders:detail", number=order.number)


@require_safe
def order_qr(request, number):
    order = _order_for_viewer(request, number)
    response = HttpResponse(qr_svg(order.pickup_token), content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-store"
    return response


def _account_context(customer, form):
    return {
        "customer": customer,
        "orders": list(selectors.customer_orders(customer=customer)[:50]),
        "form": form,
        "touchpoints": list(selectors.customer_timeline(customer=customer)),
        # Times are shown in the stores' local time (the first store's, all being alike).
        "local_tz": Store.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("timezone", flat=True)
        .first()
        or settings.TIME_ZONE,
    }


@login_required
@require_safe
def account(request):
    """The customer's profile, contact preferences, orders and timeline (the 360° view)."""
    customer = current_customer(request)
    form = PreferencesForm(initial=PreferencesForm.initial_for(customer))
    return render(request, "orders/account.html", _account_context(customer, form))


@login_required
@require_POST
def account_preferences(request):
    customer = current_customer(request)
    form = PreferencesForm(request.POST)
    if form.is_valid():
        try:
            update_customer(customer=customer, channel=Channel.WEB, **form.changes())
        except CustomerError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Your details are saved."))
            return redirect("orders:account")
    return render(request, "orders/account.html", _account_context(customer, form), status=400)

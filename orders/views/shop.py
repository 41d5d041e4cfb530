"""Shopper-facing order pages: checkout, the order with its pickup QR, the account."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.display import label_of
from core.errors import DomainError
from core.qr import qr_svg
from customers.errors import CustomerError
from customers.forms import PreferencesForm
from customers.models import Channel
from customers.services import update_customer
from orders import selectors
from orders.errors import OrderError
from orders.forms import CheckoutAdjustForm, CheckoutForm, PayForm
from orders.models import OrderStatus, PaymentMethod
from orders.payments import is_test_mode, online_payments_enabled
from orders.services import (
    Contact,
    check_online_payment,
    mark_arrived,
    pay_at_counter_instead,
    pay_online,
    place_order,
)
from shop.selectors import cart_stock, cart_summary
from shop.services import pickup_store, set_line_quantity
from shop.web import (
    current_cart,
    current_customer,
    phone_region,
    remember_store,
    remembered_store_id,
)
from stores.models import Store
from stores.selectors import (
    active_stores,
    pickup_slots,
    slots_by_day,
    store_country,
    store_time_zones,
)

SESSION_GUEST_ORDERS = "guest_orders"


def _checkout_context(request, form, cart, store_code=None, day=None, chosen_slot=""):
    stores = list(active_stores())
    store_id = remembered_store_id(request, cart)
    store = next((s for s in stores if s.code == store_code), None) or next(
        (s for s in stores if s.pk == store_id), stores[0] if stores else None
    )
    slots = pickup_slots(store=store) if store else []
    # One local day at a time: the days with bookable slots, then that day's slots.
    days = {day.isoformat(): day_slots for day, day_slots in slots_by_day(store=store, slots=slots)}
    chosen_slot = (form.data.get("slot") if form.is_bound else chosen_slot) or ""
    if chosen_slot[:10] in days and not day:
        day = chosen_slot[:10]
    day = (
        day
        if day in days
        else next(
            (d for d, day_slots in days.items() if any(not s.is_full for s in day_slots)), None
        )
    )
    summary = cart_summary(cart)
    return {
        "form": form,
        "summary": summary,
        # Lines the store cannot fill, with the fixes on offer.
        "stock": cart_stock(lines=summary.lines, store=store, stores=stores),
        "stores": stores,
        "store": store,
        "days": [(d, days[d][0].start) for d in days],
        "day": day,
        "slots": days.get(day, []),
        "chosen_slot": chosen_slot,
        "customer": current_customer(request),
        "online_payment": online_payments_enabled(),
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
        # A phone number without a country code is from the chosen store's country.
        region = store_country(code=request.POST.get("store", "")[:16])
        form = _checkout_form(customer, data=request.POST, phone_region=region)
        if not form.is_valid():
            context = _checkout_context(request, form, cart, request.POST.get("store"))
            return render(request, "orders/checkout.html", context, status=400)
        data = form.cleaned_data
        store = pickup_store(code=data["store"])
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
                language=request.LANGUAGE_CODE,
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
        # Another store: its stock notes change with its times.
        context["stock_notes_oob"] = True
        return render(request, "orders/partials/slot_list.html", context)
    return render(request, "orders/checkout.html", context)


# What the shopper typed at checkout, kept when the page comes back after a fix.
KEPT_FIELDS = ("name", "email", "phone", "pickup_person", "payment", "checkout_key")


@require_POST
def checkout_adjust(request):
    """A one-click fix from the checkout page (a plain form, enhanced by htmx): reduce or
    remove a line the store cannot fill, or switch to a store that has every line. The
    checkout comes back with what the shopper typed."""
    cart = current_cart(request)
    if cart is None:
        return redirect("shop:cart")
    form = CheckoutAdjustForm(request.POST)
    if not form.is_valid():
        raise OrderError(
            "invalid_input",
            " ".join(e for errors in form.errors.values() for e in errors),
            status=400,
        )
    data = form.cleaned_data
    store_code = request.POST.get("store", "")[:16]
    slot = request.POST.get("slot", "")[:40]
    if data["switch_to"]:
        store = pickup_store(code=data["switch_to"])
        remember_store(request, store.pk)
        store_code, slot = store.code, ""
    else:
        set_line_quantity(
            cart=cart, line_id=data["line_id"], quantity=data["quantity"], channel=Channel.WEB
        )
    if not cart.lines.exists():
        return redirect("shop:cart")
    customer = current_customer(request)
    kept = {name: request.POST.get(name, "")[:150] for name in KEPT_FIELDS}
    if customer is not None:
        kept.pop("email")  # the account's, never what was posted
    initial = {name: value for name, value in kept.items() if value}
    initial.setdefault("checkout_key", secrets.token_urlsafe(24))
    form = _checkout_form(customer, initial=initial)
    context = _checkout_context(request, form, cart, store_code, chosen_slot=slot)
    if request.htmx:
        context["base_template"] = "partials/fragment.html"
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


def _order_page(request, order, *, link: str = ""):
    """The order page; opened through a message's signed ``link``, its QR and "I'm here" go
    through the link too, and paying is not offered."""
    if link:
        urls = {
            "qr_url": reverse("orders:link_qr", args=[link]),
            "arrived_url": reverse("orders:link_arrived", args=[link]),
        }
    else:
        urls = {
            "qr_url": reverse("orders:qr", args=[order.number]),
            "arrived_url": reverse("orders:arrived", args=[order.number]),
        }
    context = {
        "order": order,
        "card": selectors.card_payment(order),
        "money": selectors.money_summary(order),
        "offer_arrival": order.check_in_open(),
        "via_link": bool(link),
        **urls,
    }
    return render(request, "orders/order_detail.html", context)


@require_safe
def order_detail(request, number):
    return _order_page(request, _order_for_viewer(request, number))


def _order_by_link(request, token):
    """The order a message's link opens, or the "link expired" page (410) to show instead."""
    try:
        return selectors.order_for_link(token=token), None
    except OrderError as error:
        if error.code != "link_expired":
            raise
        context = {"error": error, "link_days": settings.ORDER_LINK_DAYS}
        return None, render(request, "orders/link_expired.html", context, status=410)


def _private(response):
    """Whoever holds a link sees the order: keep the page out of shared caches and indexes."""
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_safe
def order_by_link(request, token):
    """The order page from a message's signed link, in any browser, without logging in."""
    order, expired = _order_by_link(request, token)
    if expired is not None:
        return _private(expired)
    return _private(_order_page(request, order, link=token))


@require_safe
def order_link_qr(request, token):
    order, expired = _order_by_link(request, token)
    if expired is not None:
        return _private(expired)
    return _qr_response(order)


@require_POST
def order_link_arrived(request, token):
    """ "I'm here" from a message's link: the only change the link allows (it tells the store
    the customer is at the counter, as showing the QR there would)."""
    order, expired = _order_by_link(request, token)
    if expired is not None:
        return _private(expired)
    back = reverse("orders:link", args=[token])
    return _arrive(request, order, back=back, user=None)


def _local_time(order, moment) -> str:
    local = timezone.localtime(moment, order.store.tz)
    return time_format(local, "H:i") + label_of(local)


@require_POST
def order_arrived(request, number):
    """The shopper's "I'm here" button: the store's queue shows the order first, flagged.

    Pressing twice is harmless (the first time is kept and shown); works without JavaScript.
    """
    order = _order_for_viewer(request, number)
    user = request.user if request.user.is_authenticated else None
    return _arrive(request, order, back=reverse("orders:detail", args=[order.number]), user=user)


def _arrive(request, order, *, back: str, user):
    if order.arrived_at is not None and order.is_open:
        messages.info(
            request,
            _("We already told the store at %(time)s.")
            % {"time": _local_time(order, order.arrived_at)},
        )
        return redirect(back)
    now = timezone.now()
    try:
        order = mark_arrived(order=order, channel=Channel.WEB, user=user, now=now)
    except OrderError as error:
        messages.error(request, error.message)
        return redirect(back)
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
    return redirect(back)


def _pay_page(request, order, *, status=200, error=None, action_secret="", authenticate=False):
    """The card payment page: Stripe.js turns the typed card into a payment method id in the
    browser, and the page posts only that id.

    While the order's card attempt waits for the customer's bank (``action_secret``), the page
    says so and offers to finish that authentication (``authenticate`` starts it at once)
    instead of asking for a card again: one PaymentIntent, one challenge per attempt.
    """
    context = {
        "order": order,
        "card_entry": not action_secret and order.status == OrderStatus.PENDING_PAYMENT,
        "action_secret": action_secret,
        "authenticate": authenticate,
        "error": error,
        "stripe_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "test_mode": is_test_mode(),
        "pay_by": order.created_at + timedelta(minutes=settings.ONLINE_PAYMENT_TIMEOUT_MINUTES),
    }
    return render(request, "orders/pay.html", context, status=status)


def _authorised(request, order):
    messages.success(
        request,
        _("Your card is authorised. You are charged at pickup, only for what you take."),
    )
    return redirect("orders:detail", number=order.number)


@require_http_methods(["GET", "HEAD", "POST"])
def pay(request, number):
    """Pay an online order waiting for its card: GET shows the card form (or, while the bank
    waits for the customer, the authentication to finish), POST authorises the payment method
    id Stripe.js made (one PaymentIntent) or, after 3-D Secure, checks the result."""
    order = _order_for_viewer(request, number)
    if order.payment_method != PaymentMethod.ONLINE or not online_payments_enabled():
        return redirect("orders:detail", number=order.number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect("orders:detail", number=order.number)
    if request.method != "POST":
        try:
            order, waiting = check_online_payment(order=order, channel=Channel.WEB)
        except OrderError as error:
            return _pay_page(request, order, status=error.status, error=error)
        if order.status != OrderStatus.PENDING_PAYMENT:
            return _authorised(request, order)  # authenticated after the page was left
        return _pay_page(request, order, action_secret=waiting)
    form = PayForm(request.POST)
    if not form.is_valid():
        error = OrderError(
            "bad_payment_method",
            " ".join(form.errors.get("__all__", [])) or _("Enter your card details to pay."),
            status=400,
        )
        return _pay_page(request, order, status=400, error=error)
    checking = form.cleaned_data["check"]
    try:
        if checking:
            order, waiting = check_online_payment(order=order, channel=Channel.WEB)
        else:
            order, waiting = pay_online(
                order=order,
                payment_method=form.cleaned_data["payment_method"],
                channel=Channel.WEB,
                user=request.user,
                cancel_on_decline=False,
            )
    except OrderError as error:
        return _pay_page(request, order, status=error.status, error=error)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return _authorised(request, order)
    if waiting:
        # The bank asks the customer to authenticate: the page runs 3-D Secure (at once after
        # a card was sent), then posts back to check the result.
        return _pay_page(request, order, action_secret=waiting, authenticate=not checking)
    if checking:
        error = OrderError(
            "card_not_authenticated",
            _("The card was not authenticated. Try again or use another card."),
            status=402,
        )
    else:
        error = OrderError(
            "card_not_authorised",
            _("The card was not authorised. Try again or use another card."),
            status=402,
        )
    return _pay_page(request, order, status=402, error=error)


@require_POST
def pay_counter(request, number):
    """Pay at the counter instead of online (the order keeps its items and pickup time)."""
    order = _order_for_viewer(request, number)
    pay_at_counter_instead(order=order, channel=Channel.WEB, user=request.user)
    messages.success(request, _("You will pay at the counter when you collect."))
    return redirect("orders:detail", number=order.number)


@require_safe
def order_qr(request, number):
    return _qr_response(_order_for_viewer(request, number))


def _qr_response(order):
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
    form = PreferencesForm(
        initial=PreferencesForm.initial_for(customer), store_zones=store_time_zones()
    )
    return render(request, "orders/account.html", _account_context(customer, form))


@login_required
@require_POST
def account_preferences(request):
    customer = current_customer(request)
    form = PreferencesForm(
        request.POST, phone_region=phone_region(request), store_zones=store_time_zones()
    )
    if form.is_valid():
        try:
            update_customer(customer=customer, channel=Channel.WEB, **form.changes())
        except CustomerError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Your details are saved."))
            return redirect("orders:account")
    return render(request, "orders/account.html", _account_context(customer, form), status=400)

"""The store tablet's customer view and assisted sale.

The clerk finds a customer (or puts one on file), sees what the counter needs — profile,
preferences, cart, this store's orders and the timeline without other stores' orders — fills
their one cart (by SKU, barcode or a handoff code from their phone) and places the order for
them with channel ``store``.

A customer is opened by their opaque reference, which only a search result or an order of the
store links to, never by the sequential id. Searches and openings count against per-clerk
limits; each view of the page is written to the access log managers read. Looking a customer
up is staff work, not an interaction with the customer: it is no touchpoint.
"""

import secrets
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from core.errors import DomainError, form_error
from counter.forms import AssistedAddForm, AssistedOrderForm, HandoffCodeForm
from counter.views.pickups import counter_view
from customers.errors import CustomerError
from customers.forms import CustomerContactForm
from customers.models import Channel, ContactChannel, CustomerAccess
from customers.selectors import customer_by_email, customer_by_reference, search_customers
from customers.services import (
    count_customer_search,
    count_customer_view,
    customer_for_contact,
    record_customer_access,
)
from orders.models import PaymentMethod
from orders.selectors import (
    order_by_number,
    order_number_in,
    orders_elsewhere,
    orders_for_staff,
    staff_timeline,
)
from orders.services import place_order
from shop.forms import LineQuantityForm
from shop.selectors import active_handoff, cart_summary, customer_cart, sku_for_code
from shop.services import (
    add_to_cart,
    claim_handoff,
    set_line_quantity,
    start_handoff,
)
from shop.web import handoff_qr_response
from stores.selectors import availability, pickup_slots, slots_by_day

ORDERS_SHOWN = 50


def _customer_context(request, store, customer, **extra):
    cart = customer_cart(customer=customer)
    summary = cart_summary(cart)
    stock = availability(
        variant_ids=[line.variant_id for line in summary.lines], store_ids=[store.pk]
    )
    slots = pickup_slots(store=store)
    default_slot = next((slot for slot in slots if not slot.is_full), None)
    order_form = extra.pop("order_form", None) or AssistedOrderForm(
        initial={
            "slot": default_slot.start.isoformat() if default_slot else "",
            "order_key": secrets.token_urlsafe(24),
        }
    )
    chosen = order_form["slot"].value() or ""
    return {
        "store": store,
        "customer": customer,
        "preferred_channels": [
            ContactChannel(code).label
            for code in customer.preferred_channels or []
            if code in ContactChannel.values
        ],
        "language": dict(settings.LANGUAGES).get(customer.language, customer.language),
        "summary": summary,
        "lines": [
            (line, max(stock.get((store.pk, line.variant_id), 0), 0)) for line in summary.lines
        ],
        "orders": list(orders_for_staff(customer=customer, store=store, limit=ORDERS_SHOWN)),
        "orders_elsewhere": orders_elsewhere(customer=customer, store=store).count(),
        "touchpoints": list(staff_timeline(customer=customer, store=store, limit=50)),
        "slot_days": slots_by_day(store=store, slots=slots),
        "chosen_slot": chosen,
        "add_form": extra.pop("add_form", None) or AssistedAddForm(),
        "claim_form": extra.pop("claim_form", None) or HandoffCodeForm(),
        "order_form": order_form,
        **extra,
    }


def _customer_page(request, store, customer, *, via="", status=200, **extra):
    """The customer page, and its line in the access log: every showing of the record."""
    record_customer_access(customer=customer, user=request.user, store_id=store.pk, via=via)
    context = _customer_context(request, store, customer, **extra)
    return render(request, "counter/customer.html", context, status=status)


def _refused(request, store, customer, error: DomainError, *, at: str = "cart", **forms):
    """The customer page again, with why the action was refused next to its form."""
    return _customer_page(
        request, store, customer, status=error.status, error=error, error_at=at, **forms
    )


# --- Finding the customer --------------------------------------------------------------------


def _contact_initial(query: str) -> dict:
    """Start the "new customer" form with what the clerk searched for."""
    if "@" in query:
        return {"email": query}
    if query and sum(ch.isdigit() for ch in query) >= 6:
        return {"phone": query}
    return {"name": query}


def _search_page(request, store, *, query="", results=None, status=200, **extra):
    """The customer search page: the results of ``query`` (None: no search made), and the
    form to put a new customer on file."""
    context = {
        "store": store,
        "q": query,
        "results": results,
        "contact_form": extra.pop("contact_form", None)
        or CustomerContactForm(
            initial={**_contact_initial(query), "language": request.LANGUAGE_CODE}
        ),
        **extra,
    }
    return render(request, "counter/customers.html", context, status=status)


def _throttled(request, store, error: CustomerError):
    """Over a per-clerk limit: the search page, saying how long to wait, and nothing found."""
    response = _search_page(request, store, status=error.status, throttled=error)
    response["Retry-After"] = str(error.extra["retry_after"])
    return response


@counter_view
@require_safe
def customers(request, store):
    query = request.GET.get("q", "").strip()[:100]
    if not query:
        return _search_page(request, store)
    try:
        count_customer_search(user=request.user)
    except CustomerError as error:
        return _throttled(request, store, error)
    number = order_number_in(query)
    if number is not None:
        found = order_by_number(store=store, number=number)
        if found is not None:
            return redirect("counter:order", code=store.code, number=found.number)
    results = list(search_customers(query))
    return _search_page(request, store, query=query, results=results, no_order=number)


def _customer_url(store, customer, via: str = "") -> str:
    url = reverse("counter:customer", kwargs={"code": store.code, "reference": customer.reference})
    return f"{url}?{urlencode({'via': via})}" if via else url


@counter_view
@require_POST
def customer_create(request, store):
    """Put a customer on file; an email already on file opens that customer instead."""
    form = CustomerContactForm(request.POST, phone_region=store.country)
    if not form.is_valid():
        return _search_page(request, store, contact_form=form, status=400)
    data = form.cleaned_data
    existing = customer_by_email(data["email"])
    if existing is not None:
        messages.info(request, _("This email is already on file: here is that customer."))
        return redirect(_customer_url(store, existing, CustomerAccess.Via.NEW))
    customer = customer_for_contact(
        email=data["email"],
        name=data["name"],
        phone=data["phone"],
        language=data["language"] or request.LANGUAGE_CODE,
    )
    messages.success(request, _("Customer added."))
    return redirect(_customer_url(store, customer, CustomerAccess.Via.NEW))


# --- The customer page -----------------------------------------------------------------------


def customer_view(view):
    """A tablet view of one customer, opened by reference: each opening counts against the
    clerk's limit, a guessed reference too; over it, the search page says so (429)."""

    @counter_view
    @wraps(view)
    def wrapper(request, store, reference, *args, **kwargs):
        try:
            count_customer_view(user=request.user)
        except CustomerError as error:
            return _throttled(request, store, error)
        customer = customer_by_reference(reference)
        return view(request, store, customer, *args, **kwargs)

    return wrapper


@customer_view
@require_safe
def customer_detail(request, store, customer):
    # A handoff just made for this customer's cart is shown with its code and QR.
    handoff = active_handoff(
        cart=customer_cart(customer=customer), code=request.GET.get("handoff", "")[:8]
    )
    via = request.GET.get("via", "")
    return _customer_page(request, store, customer, via=via, handoff=handoff)


@customer_view
@require_POST
def cart_add(request, store, customer):
    form = AssistedAddForm(request.POST)
    if not form.is_valid():
        return _refused(request, store, customer, form_error(form), add_form=form)
    code = form.cleaned_data["code"]
    try:
        line = add_to_cart(
            customer=customer,
            sku=sku_for_code(code) or code,
            quantity=form.cleaned_data["quantity"],
            channel=Channel.STORE,
            store_id=store.pk,  # the sale is for pickup here
        )
    except DomainError as error:
        return _refused(request, store, customer, error, add_form=form)
    messages.success(request, _("Added: %(item)s") % {"item": line.variant})
    return redirect(_customer_url(store, customer))


@customer_view
@require_POST
def cart_line(request, store, customer, line_id):
    cart = customer_cart(customer=customer)
    if cart is None:
        raise Http404("No cart")
    form = LineQuantityForm(request.POST)
    # A refused quantity stays in its line's box, with the reason beside it.
    typed = {"bad_line": line_id, "typed_quantity": request.POST.get("quantity", "")[:10]}
    if not form.is_valid():
        return _refused(request, store, customer, form_error(form), **typed)
    try:
        set_line_quantity(
            cart=cart,
            line_id=line_id,
            quantity=form.cleaned_data["quantity"],
            channel=Channel.STORE,
        )
    except DomainError as error:
        return _refused(request, store, customer, error, **typed)
    return redirect(_customer_url(store, customer))


@customer_view
@require_POST
def cart_claim(request, store, customer):
    """The customer shows a cart code on their phone: that cart joins theirs."""
    form = HandoffCodeForm(request.POST)
    if not form.is_valid():
        return _refused(request, store, customer, form_error(form), claim_form=form)
    try:
        claim_handoff(code=form.cleaned_data["code"], customer=customer, channel=Channel.STORE)
    except DomainError as error:
        return _refused(request, store, customer, error, claim_form=form)
    messages.success(request, _("The cart from the customer's phone is now in their cart."))
    return redirect(_customer_url(store, customer))


@customer_view
@require_POST
def cart_handoff(request, store, customer):
    """Show a code and QR so the customer continues this cart on their own phone."""
    try:
        handoff = start_handoff(cart=customer_cart(customer=customer), channel=Channel.STORE)
    except DomainError as error:
        return _refused(request, store, customer, error)
    query = urlencode({"handoff": handoff.code})
    return redirect(f"{_customer_url(store, customer)}?{query}#handoff")


@counter_view
@require_safe
def cart_handoff_qr(request, store, reference, handoff_code):
    """The QR of a live handoff of this customer's cart: it opens the shop's cart page with
    the code filled in. (Part of the page already opened: not counted again; a wrong reference
    and a wrong code are the same 404.)"""
    customer = customer_by_reference(reference)
    return handoff_qr_response(
        request, active_handoff(cart=customer_cart(customer=customer), code=handoff_code)
    )


@customer_view
@require_POST
def place(request, store, customer):
    """Order the customer's cart for pickup at this store, paid at the counter."""
    form = AssistedOrderForm(request.POST)
    if not form.is_valid():
        return _refused(request, store, customer, form_error(form), at="order", order_form=form)
    cart = customer_cart(customer=customer)
    if cart is None:
        error = DomainError("empty_cart", _("The customer's cart is empty."), status=400)
        return _refused(request, store, customer, error, at="order", order_form=form)
    try:
        order = place_order(
            cart=cart,
            store=store,
            slot_start=form.cleaned_data["slot"],
            payment_method=PaymentMethod.IN_STORE,
            channel=Channel.STORE,
            customer=customer,
            user=request.user,
            idempotency_key=form.cleaned_data["order_key"],
        )
    except DomainError as error:
        return _refused(request, store, customer, error, at="order", order_form=form)
    messages.success(request, _("Order %(number)s placed.") % {"number": order.number})
    return redirect("counter:order", code=store.code, number=order.number)

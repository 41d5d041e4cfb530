"""The store tablet's customer view and assisted sale.

The clerk finds a customer (or puts one on file), sees everything already known about them —
profile, preferences, cart, orders, timeline — fills their one cart (by SKU, barcode or a
handoff code from their phone) and places the order for them with channel ``store``.
Looking a customer up is staff work, not an interaction with the customer: it records nothing.
"""

import secrets

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from config.errors import DomainError
from config.qr import qr_svg
from customers.forms import CustomerContactForm
from customers.models import Channel, ContactChannel
from customers.selectors import customer_by_email, customer_by_id, search_customers, timeline
from customers.services import customer_for_contact
from orders.forms import AssistedAddForm, AssistedOrderForm, HandoffCodeForm
from orders.models import PaymentMethod
from orders.selectors import order_by_number, order_number_in, orders_for_staff
from orders.services import place_order
from orders.views.counter import counter_view
from shop.forms import LineQuantityForm
from shop.selectors import active_handoff, cart_summary, customer_cart, sku_for_code
from shop.services import (
    add_to_cart,
    cart_for_customer,
    claim_handoff,
    set_line_quantity,
    start_handoff,
)
from stores.selectors import availability, pickup_slots

ORDERS_SHOWN = 50


def _slot_days(store, slots):
    """The bookable slots grouped by local day, for the pickup time picker."""
    days: dict = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(store.tz).date(), []).append(slot)
    return list(days.items())


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
        "orders": list(orders_for_staff(customer=customer, limit=ORDERS_SHOWN)),
        "touchpoints": list(timeline(customer=customer, limit=50)),
        "slot_days": _slot_days(store, slots),
        "chosen_slot": chosen,
        "add_form": extra.pop("add_form", None) or AssistedAddForm(),
        "claim_form": extra.pop("claim_form", None) or HandoffCodeForm(),
        "order_form": order_form,
        **extra,
    }


def _refused(request, store, customer, error: DomainError, *, at: str = "cart", **forms):
    """The customer page again, with why the action was refused next to its form."""
    context = _customer_context(request, store, customer, error=error, error_at=at, **forms)
    return render(request, "counter/customer.html", context, status=error.status)


def _form_error(form) -> DomainError:
    detail = "; ".join(
        f"{form.fields[name].label}: {' '.join(errors)}"
        if name in form.fields and form.fields[name].label
        else " ".join(errors)
        for name, errors in form.errors.items()
    )
    return DomainError("invalid_input", detail, status=400)


# --- Finding the customer --------------------------------------------------------------------


def _contact_initial(query: str) -> dict:
    """Start the "new customer" form with what the clerk searched for."""
    if "@" in query:
        return {"email": query}
    if query and sum(ch.isdigit() for ch in query) >= 6:
        return {"phone": query}
    return {"name": query}


@counter_view
@require_safe
def customers(request, store):
    query = request.GET.get("q", "").strip()[:100]
    number = order_number_in(query)
    if number is not None:
        found = order_by_number(store=store, number=number)
        if found is not None:
            return redirect("counter:order", code=store.code, number=found.number)
    context = {
        "store": store,
        "q": query,
        "results": list(search_customers(query)) if query else None,
        "no_order": number,
        "contact_form": CustomerContactForm(
            initial={**_contact_initial(query), "language": request.LANGUAGE_CODE}
        ),
    }
    return render(request, "counter/customers.html", context)


@counter_view
@require_POST
def customer_create(request, store):
    """Put a customer on file; an email already on file opens that customer instead."""
    form = CustomerContactForm(request.POST, phone_region=store.country)
    if not form.is_valid():
        context = {"store": store, "q": "", "results": None, "contact_form": form}
        return render(request, "counter/customers.html", context, status=400)
    data = form.cleaned_data
    existing = customer_by_email(data["email"])
    if existing is not None:
        messages.info(request, _("This email is already on file: here is that customer."))
        return redirect("counter:customer", code=store.code, customer_id=existing.pk)
    customer = customer_for_contact(
        email=data["email"],
        name=data["name"],
        phone=data["phone"],
        language=data["language"] or request.LANGUAGE_CODE,
    )
    messages.success(request, _("Customer added."))
    return redirect("counter:customer", code=store.code, customer_id=customer.pk)


# --- The customer page -----------------------------------------------------------------------


@counter_view
@require_safe
def customer_detail(request, store, customer_id):
    customer = customer_by_id(customer_id)
    # A handoff just made for this customer's cart is shown with its code and QR.
    handoff = active_handoff(
        cart=customer_cart(customer=customer), code=request.GET.get("handoff", "")[:8]
    )
    context = _customer_context(request, store, customer, handoff=handoff)
    return render(request, "counter/customer.html", context)


@counter_view
@require_POST
def cart_add(request, store, customer_id):
    customer = customer_by_id(customer_id)
    form = AssistedAddForm(request.POST)
    if not form.is_valid():
        return _refused(request, store, customer, _form_error(form), add_form=form)
    code = form.cleaned_data["code"]
    try:
        # A refused item must not leave a new, empty cart behind.
        with transaction.atomic():
            line = add_to_cart(
                cart=cart_for_customer(customer=customer),
                sku=sku_for_code(code) or code,
                quantity=form.cleaned_data["quantity"],
                channel=Channel.STORE,
                store_id=store.pk,  # the sale is for pickup here
            )
    except DomainError as error:
        return _refused(request, store, customer, error, add_form=form)
    messages.success(request, _("Added: %(item)s") % {"item": line.variant})
    return redirect("counter:customer", code=store.code, customer_id=customer.pk)


@counter_view
@require_POST
def cart_line(request, store, customer_id, line_id):
    customer = customer_by_id(customer_id)
    cart = customer_cart(customer=customer)
    if cart is None:
        raise Http404("No cart")
    form = LineQuantityForm(request.POST)
    # A refused quantity stays in its line's box, with the reason beside it.
    typed = {"bad_line": line_id, "typed_quantity": request.POST.get("quantity", "")[:10]}
    if not form.is_valid():
        return _refused(request, store, customer, _form_error(form), **typed)
    try:
        set_line_quantity(
            cart=cart,
            line_id=line_id,
            quantity=form.cleaned_data["quantity"],
            channel=Channel.STORE,
        )
    except DomainError as error:
        return _refused(request, store, customer, error, **typed)
    return redirect("counter:customer", code=store.code, customer_id=customer.pk)


@counter_view
@require_POST
def cart_claim(request, store, customer_id):
    """The customer shows a cart code on their phone: that cart joins theirs."""
    customer = customer_by_id(customer_id)
    form = HandoffCodeForm(request.POST)
    if not form.is_valid():
        return _refused(request, store, customer, _form_error(form), claim_form=form)
    try:
        with transaction.atomic():
            claim_handoff(
                code=form.cleaned_data["code"],
                cart=cart_for_customer(customer=customer),
                channel=Channel.STORE,
            )
    except DomainError as error:
        return _refused(request, store, customer, error, claim_form=form)
    messages.success(request, _("The cart from the customer's phone is now in their cart."))
    return redirect("counter:customer", code=store.code, customer_id=customer.pk)


@counter_view
@require_POST
def cart_handoff(request, store, customer_id):
    """Show a code and QR so the customer continues this cart on their own phone."""
    customer = customer_by_id(customer_id)
    try:
        handoff = start_handoff(cart=customer_cart(customer=customer), channel=Channel.STORE)
    except DomainError as error:
        return _refused(request, store, customer, error)
    url = reverse("counter:customer", kwargs={"code": store.code, "customer_id": customer.pk})
    return redirect(f"{url}?{urlencode({'handoff': handoff.code})}#handoff")


@counter_view
@require_safe
def cart_handoff_qr(request, store, customer_id, handoff_code):
    """The QR of a live handoff of this customer's cart: it opens the shop's cart page with
    the code filled in."""
    customer = customer_by_id(customer_id)
    handoff = active_handoff(cart=customer_cart(customer=customer), code=handoff_code)
    if handoff is None:
        raise Http404("No such handoff")
    claim_url = f"{reverse('shop:cart')}?{urlencode({'code': handoff.code})}"
    response = HttpResponse(
        qr_svg(request.build_absolute_uri(claim_url)), content_type="image/svg+xml"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@counter_view
@require_POST
def place(request, store, customer_id):
    """Order the customer's cart for pickup at this store, paid at the counter."""
    customer = customer_by_id(customer_id)
    form = AssistedOrderForm(request.POST)
    if not form.is_valid():
        return _refused(request, store, customer, _form_error(form), at="order", order_form=form)
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

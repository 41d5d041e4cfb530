"""The web shop: catalogue, product, cart, handoff, store choice, sign up / log in / log out."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from core.api import AuthThrottle
from core.errors import form_error
from customers.models import Channel
from customers.services import (
    customer_for_user,
    record_touchpoint,
    register_customer,
    send_verification,
)
from customers.views import verification_link
from customers.web import safe_next
from shop import selectors
from shop.api import HandoffClaimThrottle
from shop.errors import CartError
from shop.forms import (
    AddToCartForm,
    HandoffClaimForm,
    LineQuantityForm,
    LoginForm,
    SignupForm,
    StoreChoiceForm,
)
from shop.services import (
    add_to_cart,
    attach_cart_on_login,
    claim_handoff,
    normalize_handoff_code,
    pickup_store,
    record_product_view,
    set_line_quantity,
    start_handoff,
)
from shop.web import (
    SESSION_HANDOFF,
    anonymous_cart,
    cart_owner,
    current_cart,
    current_customer,
    handoff_qr_response,
    keep_cart,
    phone_region,
    remember_store,
    remembered_store_id,
)
from stores.selectors import active_store, active_stores


@require_safe
def catalogue(request):
    store = active_store(remembered_store_id(request, current_cart(request)))
    page = selectors.catalogue(
        search=request.GET.get("q", ""),
        category=request.GET.get("category", ""),
        page=request.GET.get("page", 1),
        store_id=store.pk if store else None,
    )
    context = {
        "page": page,
        "store": store,
        "categories": selectors.categories(),
        "q": request.GET.get("q", "").strip()[:100],
        "category": request.GET.get("category", ""),
    }
    if request.htmx and request.htmx.target == "product-grid":
        return render(request, "shop/partials/product_grid.html", context)
    return render(request, "shop/catalogue.html", context)


@require_safe
def product_detail(request, slug):
    product = selectors.product_by_slug(slug)
    variants = list(product.variants.all())
    chosen = next((v for v in variants if v.sku == request.GET.get("sku")), variants[0])
    availability = selectors.product_availability(product=product)
    cart = current_cart(request)
    store_id = remembered_store_id(request, cart)
    customer = current_customer(request)
    record_product_view(customer=customer, product=product, channel=Channel.WEB)
    context = {
        "product": product,
        "variants": variants,
        "chosen": chosen,
        "stores": availability[chosen.pk],
        "store_id": store_id,
        "buy": selectors.buy_options(rows=availability[chosen.pk], store_id=store_id),
        "form": AddToCartForm(initial={"sku": chosen.sku, "quantity": 1}),
    }
    if request.htmx and request.htmx.target == "variant-panel":
        return render(request, "shop/partials/variant_panel.html", context)
    return render(request, "shop/product.html", context)


def _local_timezone(stores, store_id) -> str:
    """Times on the cart page are the chosen store's (else the first store's) local times."""
    store = next((s for s in stores if s.pk == store_id), stores[0] if stores else None)
    return store.timezone if store is not None else settings.TIME_ZONE


def _cart_context(request, claim_form=None):
    cart = current_cart(request)
    summary = selectors.cart_summary(cart)
    stores = list(active_stores())
    store_id = remembered_store_id(request, cart)
    code = request.session.get(SESSION_HANDOFF)
    return {
        "summary": summary,
        "stores": stores,
        "store_id": store_id,
        "handoff": selectors.active_handoff(cart=cart, code=code) if code else None,
        "local_tz": _local_timezone(stores, store_id),
        # A scanned handoff QR opens /cart/?code=…: the code is ready to claim.
        "claim_form": claim_form
        or HandoffClaimForm(initial={"code": request.GET.get("code", "")[:32]}),
    }


@require_safe
def cart_view(request):
    return render(request, "shop/cart.html", _cart_context(request))


@require_POST
def cart_add(request):
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        raise form_error(form)
    line = add_to_cart(
        **cart_owner(request),
        sku=form.cleaned_data["sku"],
        quantity=form.cleaned_data["quantity"],
        channel=Channel.WEB,
    )
    keep_cart(request, line.cart)
    if request.htmx:
        return render(request, "shop/partials/added.html", {"line": line})
    messages.success(request, _("Added to your cart: %(item)s") % {"item": line.variant})
    return redirect("shop:cart")


@require_POST
def cart_line_update(request, line_id):
    form = LineQuantityForm(request.POST)
    if not form.is_valid():
        raise form_error(form)
    cart = current_cart(request)
    if cart is None:
        raise Http404("No cart")
    set_line_quantity(
        cart=cart, line_id=line_id, quantity=form.cleaned_data["quantity"], channel=Channel.WEB
    )
    if request.htmx:
        return render(request, "shop/partials/cart_body.html", _cart_context(request))
    return redirect("shop:cart")


@require_POST
def cart_handoff(request):
    """Continue on another device: a short code and a QR for this browser's cart."""
    handoff = start_handoff(cart=current_cart(request), channel=Channel.WEB)
    request.session[SESSION_HANDOFF] = handoff.code
    if request.htmx:
        return render(request, "shop/partials/cart_body.html", _cart_context(request))
    return redirect("shop:cart")


@require_safe
def handoff_qr(request, code):
    """The QR of a handoff of this browser's own cart (it opens the cart page, code filled in)."""
    return handoff_qr_response(
        request, selectors.active_handoff(cart=current_cart(request), code=code)
    )


def _moved_message(claim) -> str:
    """ "3 items moved from your other device: Lamp × 2 (now 3 in this cart), Mug × 1." """
    if not claim.moved:
        return _("That code is this cart's own: nothing moved.")
    items = ", ".join(
        _("%(item)s × %(quantity)d (now %(total)d in this cart)")
        % {"item": line.variant, "quantity": line.quantity, "total": line.total}
        if line.merged
        else _("%(item)s × %(quantity)d") % {"item": line.variant, "quantity": line.quantity}
        for line in claim.moved
    )
    return ngettext(
        "%(count)d item moved from your other device: %(items)s.",
        "%(count)d items moved from your other device: %(items)s.",
        claim.units,
    ) % {"count": claim.units, "items": items}


@require_POST
def cart_claim(request):
    """Have a code? The other device's cart joins this browser's cart (created if needed).

    What moved is said; a wrong, expired or used code (or too many tries) is shown beside the
    code field with what was typed, on the cart page or in its htmx swap."""
    form = HandoffClaimForm(request.POST)
    status = 200
    if not HandoffClaimThrottle().allow_request(request, None):
        form.is_valid()
        form.add_error("code", _("Too many attempts. Wait a minute and try again."))
        status = 429
    elif not form.is_valid():
        status = 400
    else:
        try:
            claim = claim_handoff(
                **cart_owner(request), code=form.cleaned_data["code"], channel=Channel.WEB
            )
        except CartError as error:
            form.add_error("code", error.message)
            status = error.status
        else:
            keep_cart(request, claim.cart)
    if status != 200:
        template = "shop/partials/cart_body.html" if request.htmx else "shop/cart.html"
        return render(request, template, _cart_context(request, claim_form=form), status=status)
    if request.session.get(SESSION_HANDOFF) == normalize_handoff_code(form.cleaned_data["code"]):
        del request.session[SESSION_HANDOFF]  # this browser's own code: nothing to tell it
    if request.htmx:
        context = {**_cart_context(request), "claimed": _moved_message(claim)}
        return render(request, "shop/partials/cart_body.html", context)
    messages.success(request, _moved_message(claim))
    return redirect("shop:cart")


@require_POST
def store_choice(request):
    form = StoreChoiceForm(request.POST)
    if not form.is_valid():
        raise form_error(form)
    store = pickup_store(code=form.cleaned_data["store"])
    remember_store(request, store.pk)
    messages.success(request, _("Your store: %(store)s") % {"store": store.name})
    return redirect(safe_next(request, reverse("shop:cart")))


class ShopLoginView(LoginView):
    """Log in, then fold this browser's anonymous cart into the customer's one cart."""

    form_class = LoginForm
    template_name = "registration/login.html"

    def form_valid(self, form):
        anonymous = anonymous_cart(self.request)
        response = super().form_valid(form)
        customer = customer_for_user(user=form.get_user())
        attach_cart_on_login(anonymous=anonymous, customer=customer, channel=Channel.WEB)
        record_touchpoint(customer=customer, channel=Channel.WEB, kind="logged_in")
        return response


def signup(request):
    if request.method == "POST" and not AuthThrottle().allow_request(request, None):
        # Sign-ups answer whether an email has an account: limit how fast anyone can ask.
        raise CartError(
            "throttled", _("Too many attempts. Wait a minute and try again."), status=429
        )
    posted = request.method == "POST"
    form = SignupForm(request.POST or None, phone_region=phone_region(request) if posted else None)
    if request.method == "POST" and form.is_valid():
        anonymous = anonymous_cart(request)
        customer = register_customer(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            name=form.cleaned_data["name"],
            phone=form.cleaned_data["phone"],
            language=request.LANGUAGE_CODE,
            channel=Channel.WEB,
        )
        login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
        attach_cart_on_login(anonymous=anonymous, customer=customer, channel=Channel.WEB)
        send_verification(customer=customer, build_url=verification_link(request))
        messages.success(request, _("Welcome, %(name)s!") % {"name": customer.name})
        # Say where the confirmation link went before going on (to ``next``, if safe).
        target = safe_next(request, "")
        query = f"?{urlencode({'next': target})}" if target else ""
        return redirect(reverse("customers:check_email") + query)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "next": safe_next(request, "")}
    return render(request, "registration/signup.html", context, status=status)


@require_POST
def logout_view(request):
    logout(request)
    messages.success(request, _("You have logged out."))
    return redirect("shop:catalogue")

"""The web shop: catalogue, product, cart, store choice, sign up / log in / log out."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from customers.models import Channel
from customers.services import customer_for_user, record_touchpoint, register_customer
from shop import selectors
from shop.errors import CartError
from shop.forms import AddToCartForm, LineQuantityForm, LoginForm, SignupForm, StoreChoiceForm
from shop.services import (
    add_to_cart,
    attach_cart_on_login,
    record_product_view,
    set_line_quantity,
)
from shop.web import (
    SESSION_CART,
    anonymous_cart,
    current_cart,
    current_customer,
    remember_store,
    remembered_store_id,
)
from stores.selectors import active_stores


def _form_error(form) -> CartError:
    detail = "; ".join(
        f"{form.fields[name].label or name}: {' '.join(errors)}"
        if name in form.fields
        else " ".join(errors)
        for name, errors in form.errors.items()
    )
    return CartError("invalid_input", detail, status=400)


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


@require_GET
def catalogue(request):
    page = selectors.catalogue(
        search=request.GET.get("q", ""),
        category=request.GET.get("category", ""),
        page=request.GET.get("page", 1),
    )
    context = {
        "page": page,
        "categories": selectors.categories(),
        "q": request.GET.get("q", "").strip()[:100],
        "category": request.GET.get("category", ""),
    }
    if request.htmx and request.htmx.target == "product-grid":
        return render(request, "shop/partials/product_grid.html", context)
    return render(request, "shop/catalogue.html", context)


@require_GET
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
        "form": AddToCartForm(initial={"sku": chosen.sku, "quantity": 1}),
    }
    if request.htmx and request.htmx.target == "variant-panel":
        return render(request, "shop/partials/variant_panel.html", context)
    return render(request, "shop/product.html", context)


def _cart_context(request):
    cart = current_cart(request)
    summary = selectors.cart_summary(cart)
    return {
        "summary": summary,
        "stores": list(active_stores()),
        "store_id": remembered_store_id(request, cart),
    }


@require_GET
def cart_view(request):
    return render(request, "shop/cart.html", _cart_context(request))


@require_POST
def cart_add(request):
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
    new_cart = current_cart(request) is None
    try:
        # A refused line must not leave a new, empty cart behind.
        with transaction.atomic():
            cart = current_cart(request, create=True)
            line = add_to_cart(
                cart=cart,
                sku=form.cleaned_data["sku"],
                quantity=form.cleaned_data["quantity"],
                channel=Channel.WEB,
            )
    except CartError:
        if new_cart:
            request.session.pop(SESSION_CART, None)
        raise
    if request.htmx:
        return render(request, "shop/partials/added.html", {"line": line})
    messages.success(request, _("Added to your cart: %(item)s") % {"item": line.variant})
    return redirect("shop:cart")


@require_POST
def cart_line_update(request, line_id):
    form = LineQuantityForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
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
def store_choice(request):
    form = StoreChoiceForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
    store = active_stores().filter(code=form.cleaned_data["store"]).first()
    if store is None:
        raise CartError("unknown_store", _("We have no store with that code."), status=400)
    remember_store(request, store.pk)
    messages.success(request, _("Your store: %(store)s") % {"store": store.name})
    return redirect(_safe_next(request, reverse("shop:cart")))


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
    form = SignupForm(request.POST or None)
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
        messages.success(request, _("Welcome, %(name)s!") % {"name": customer.name})
        return redirect(_safe_next(request, reverse("shop:catalogue")))
    status = 400 if request.method == "POST" else 200
    return render(request, "registration/signup.html", {"form": form}, status=status)


@require_POST
def logout_view(request):
    logout(request)
    messages.success(request, _("You have logged out."))
    return redirect("shop:catalogue")

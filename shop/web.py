"""Request plumbing shared by the web shop and checkout views: which cart, which store."""

from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.urls import reverse

from core.qr import qr_svg
from customers.models import Channel, Customer
from customers.services import customer_for_user
from shop.models import Cart, CartHandoff, CartLine
from shop.services import cart_for_customer, choose_store, create_anonymous_cart
from stores.selectors import store_country

SESSION_CART = "cart_token"
SESSION_STORE = "store_id"
SESSION_HANDOFF = "cart_handoff"  # the code this browser last made for its cart


def current_customer(request) -> Customer | None:
    if request.user.is_authenticated:
        return customer_for_user(user=request.user)
    return None


def current_cart(request, *, create: bool = False) -> Cart | None:
    """The logged-in customer's one cart, or this browser's anonymous cart."""
    if request.user.is_authenticated:
        customer = current_customer(request)
        if create:
            return cart_for_customer(customer=customer)
        return Cart.objects.filter(customer=customer).first()
    token = request.session.get(SESSION_CART)
    cart = Cart.objects.filter(token=token, customer__isnull=True).first() if token else None
    if cart is None and create:
        cart = create_anonymous_cart(store_id=request.session.get(SESSION_STORE))
        request.session[SESSION_CART] = str(cart.token)
    return cart


def cart_owner(request) -> dict:
    """Where this browser's cart writes go (``shop.services`` cart writes take these): its
    cart, else the logged-in customer's, else a new anonymous cart at the remembered store
    (see ``keep_cart``)."""
    return {
        "cart": current_cart(request),
        "customer": current_customer(request),
        "new_cart_store": request.session.get(SESSION_STORE),
    }


def keep_cart(request, cart: Cart) -> None:
    """Remember a new anonymous cart in this browser's session."""
    if cart.customer_id is None:
        request.session[SESSION_CART] = str(cart.token)


def anonymous_cart(request) -> Cart | None:
    token = request.session.get(SESSION_CART)
    return Cart.objects.filter(token=token, customer__isnull=True).first() if token else None


def remembered_store_id(request, cart: Cart | None = None) -> int | None:
    if cart is not None and cart.store_id:
        return cart.store_id
    return request.session.get(SESSION_STORE)


def remember_store(request, store_id: int | None) -> None:
    request.session[SESSION_STORE] = store_id
    cart = current_cart(request)
    if cart is not None:
        choose_store(cart=cart, store_id=store_id, channel=Channel.WEB)


def phone_region(request) -> str:
    """Where a phone number typed without a country code is from: the shopper's store's
    country ("" when no store is chosen: ``settings.PHONE_REGION``)."""
    return store_country(store_id=remembered_store_id(request, current_cart(request)))


def cart_count(request) -> int:
    user = getattr(request, "user", None)
    if not hasattr(request, "session") or user is None:
        return 0
    if user.is_authenticated:
        lines = CartLine.objects.filter(cart__customer__user=user)
    else:
        token = request.session.get(SESSION_CART)
        if not token:
            return 0
        lines = CartLine.objects.filter(cart__token=token)
    return sum(lines.values_list("quantity", flat=True))


def handoff_qr_response(request, handoff: CartHandoff | None) -> HttpResponse:
    """The QR of a live handoff, as an SVG image: it opens the shop's cart page with the code
    filled in. No handoff (gone, or not this cart's) is a 404."""
    if handoff is None:
        raise Http404("No such handoff")
    claim_url = f"{reverse('shop:cart')}?{urlencode({'code': handoff.code})}"
    response = HttpResponse(
        qr_svg(request.build_absolute_uri(claim_url)), content_type="image/svg+xml"
    )
    response["Cache-Control"] = "private, no-store"
    return response

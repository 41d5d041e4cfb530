from django.urls import path

from counter.views import assisted, pickups

app_name = "counter"

urlpatterns = [
    path("", pickups.home, name="home"),
    path("<slug:code>/", pickups.queue, name="queue"),
    path("<slug:code>/scan/", pickups.scan, name="scan"),
    path("<slug:code>/orders/<str:number>/", pickups.order_detail, name="order"),
    path("<slug:code>/orders/<str:number>/status/", pickups.change_status, name="status"),
    path("<slug:code>/orders/<str:number>/verify/", pickups.verify_code, name="verify"),
    path("<slug:code>/orders/<str:number>/collect/", pickups.collect, name="collect"),
    path(
        "<slug:code>/orders/<str:number>/collect/amount/",
        pickups.collect_amount,
        name="collect_amount",
    ),
    path("<slug:code>/orders/<str:number>/cancel/", pickups.cancel, name="cancel"),
    path("<slug:code>/orders/<str:number>/unlock/", pickups.unlock_code, name="unlock"),
    path("<slug:code>/orders/<str:number>/refund/", pickups.refund, name="refund"),
    path("<slug:code>/orders/<str:number>/extend/", pickups.extend_hold, name="extend"),
    path("<slug:code>/orders/<str:number>/resend/", pickups.resend_ready, name="resend"),
    path(
        "<slug:code>/orders/<str:number>/messages/<int:message_id>/again/",
        pickups.message_again,
        name="message_again",
    ),
    # The customer view and assisted sale.
    path("<slug:code>/customers/", assisted.customers, name="customers"),
    path("<slug:code>/customers/new/", assisted.customer_create, name="customer_create"),
    path("<slug:code>/customers/<str:reference>/", assisted.customer_detail, name="customer"),
    path("<slug:code>/customers/<str:reference>/cart/", assisted.cart_add, name="cart_add"),
    path(
        "<slug:code>/customers/<str:reference>/cart/lines/<int:line_id>/",
        assisted.cart_line,
        name="cart_line",
    ),
    path(
        "<slug:code>/customers/<str:reference>/cart/claim/",
        assisted.cart_claim,
        name="cart_claim",
    ),
    path(
        "<slug:code>/customers/<str:reference>/cart/handoff/",
        assisted.cart_handoff,
        name="cart_handoff",
    ),
    path(
        "<slug:code>/customers/<str:reference>/cart/handoff/<str:handoff_code>/qr.svg",
        assisted.cart_handoff_qr,
        name="cart_handoff_qr",
    ),
    path("<slug:code>/customers/<str:reference>/order/", assisted.place, name="place"),
]

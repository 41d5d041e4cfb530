from django.urls import path

from orders.views import payments, shop

app_name = "orders"

urlpatterns = [
    path("checkout/", shop.checkout, name="checkout"),
    path("checkout/adjust/", shop.checkout_adjust, name="checkout_adjust"),
    path("orders/<str:number>/", shop.order_detail, name="detail"),
    path("orders/<str:number>/qr.svg", shop.order_qr, name="qr"),
    path("orders/<str:number>/pay/", shop.pay, name="pay"),
    path("orders/<str:number>/arrived/", shop.order_arrived, name="arrived"),
    path("orders/<str:number>/pay/counter/", shop.pay_counter, name="pay_counter"),
    # The signed link in messages (orders/links.py): that order's page, its QR, "I'm here".
    path("o/<str:token>/", shop.order_by_link, name="link"),
    path("o/<str:token>/qr.svg", shop.order_link_qr, name="link_qr"),
    path("o/<str:token>/arrived/", shop.order_link_arrived, name="link_arrived"),
    path("account/", shop.account, name="account"),
    path("account/preferences/", shop.account_preferences, name="preferences"),
    path("payments/stripe/webhook/", payments.stripe_webhook, name="stripe_webhook"),
]

from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("p/<slug:slug>/", views.product_detail, name="product"),
    path("cart/", views.cart_view, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/lines/<int:line_id>/", views.cart_line_update, name="cart_line"),
    path("cart/handoff/", views.cart_handoff, name="cart_handoff"),
    path("cart/handoff/<slug:code>/qr.svg", views.handoff_qr, name="handoff_qr"),
    path("cart/claim/", views.cart_claim, name="cart_claim"),
    path("cart/store/", views.store_choice, name="store_choice"),
    path("account/login/", views.ShopLoginView.as_view(), name="login"),
    path("account/signup/", views.signup, name="signup"),
    path("account/logout/", views.logout_view, name="logout"),
]

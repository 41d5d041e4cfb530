"""REST API v1 (DESIGN §8). Paths are part of the contract with the mobile apps."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from customers import api as customers_api
from orders import api as orders_api
from reports import api as reports_api
from shop import api as shop_api
from stores import api as stores_api

v1 = [
    path("auth/register/", customers_api.RegisterView.as_view(), name="register"),
    path("auth/token/", customers_api.TokenView.as_view(), name="token"),
    path("auth/logout/", customers_api.LogoutView.as_view(), name="logout"),
    path(
        "auth/password-reset/",
        customers_api.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "auth/password-reset/confirm/",
        customers_api.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("me/", customers_api.MeView.as_view(), name="me"),
    path("me/timeline/", orders_api.TimelineView.as_view(), name="timeline"),
    path("stores/", stores_api.StoreListView.as_view(), name="stores"),
    path("stores/<slug:code>/slots/", stores_api.SlotListView.as_view(), name="slots"),
    path("products/", shop_api.ProductListView.as_view(), name="products"),
    path("products/<slug:slug>/", shop_api.ProductDetailView.as_view(), name="product"),
    path("reports/sales/", reports_api.SalesReportView.as_view(), name="reports_sales"),
    path("reports/kpis/", reports_api.KpiReportView.as_view(), name="reports_kpis"),
    path("", include("shop.api_urls")),
    path("", include("orders.api_urls")),
]

app_name = "api"

urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

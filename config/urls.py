from django.contrib import admin
from django.urls import include, path

from core import views

urlpatterns = [
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("config.api_urls")),
    path("store/", include("counter.urls")),
    path("manage/", include("reports.urls")),
    path("", include("customers.urls")),
    path("", include("orders.urls")),
    path("", include("shop.urls")),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

"""The project's URLs and the bench's bare baseline views (/_bench/)."""

from django.urls import path

from bench import baselines
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("_bench/checkout/", baselines.checkout, name="bench_checkout"),
    path("_bench/template/", baselines.template_page, name="bench_template"),
    path("_bench/json/", baselines.json_list, name="bench_json"),
    *project_urlpatterns,
]

handler400 = "core.views.bad_request"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

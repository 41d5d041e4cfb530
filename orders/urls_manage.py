from django.urls import path

from orders.views import manage

app_name = "manage"

urlpatterns = [
    path("reconciliation/", manage.reconciliation, name="reconciliation"),
    path("customer-access/", manage.customer_access, name="customer_access"),
]

from django.urls import path

from reports import views

app_name = "manage"

urlpatterns = [
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("customer-access/", views.customer_access, name="customer_access"),
]

from django.urls import path

from reports import views

app_name = "manage"

urlpatterns = [
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("customer-access/", views.customer_access, name="customer_access"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:follow_up_id>/", views.follow_up_update, name="follow_up"),
]

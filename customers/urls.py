from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("account/verify/", views.resend, name="resend_verification"),
    path("account/verify/<str:token>/", views.verify, name="verify"),
    # The path is in the NPS message's link (orders.services builds it from SITE_URL).
    path("survey/<str:token>/", views.survey, name="survey"),
]

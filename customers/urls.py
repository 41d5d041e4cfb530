from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("account/verify/", views.resend, name="resend_verification"),
    path("account/check-your-email/", views.check_email, name="check_email"),
    path("account/password/reset/", views.password_reset, name="password_reset"),
    path("account/password/reset/sent/", views.password_reset_sent, name="password_reset_sent"),
    path(
        "account/password/reset/done/",
        views.password_reset_complete,
        name="password_reset_complete",
    ),
    # The path is in the reset email's link (customers.services.password_reset_path).
    path(
        "account/password/reset/<str:uidb64>/<str:token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("account/verify/<str:token>/", views.verify, name="verify"),
    # The path is in the NPS message's link (orders.services builds it from SITE_URL).
    path("survey/<str:token>/", views.survey, name="survey"),
]

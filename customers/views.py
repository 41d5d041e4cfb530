"""Pages reached from the links in our emails: confirming an email address (and asking for a
new link), choosing a new password, and the NPS survey sent after collection."""

from collections.abc import Callable
from urllib.parse import urlencode

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.api import PasswordResetThrottle
from customers.errors import CustomerError
from customers.forms import PasswordResetRequestForm, SurveyForm
from customers.models import Channel
from customers.services import (
    VERIFICATION_MAX_AGE,
    answer_survey,
    customer_for_user,
    request_password_reset,
    reset_password,
    send_verification,
    survey_order,
    verify_email,
)
from customers.web import safe_next


def verification_link(request) -> Callable[[str], str]:
    """How ``send_verification`` turns a token into an absolute link to this site."""
    return lambda token: request.build_absolute_uri(reverse("customers:verify", args=[token]))


@require_GET
def verify(request, token):
    try:
        customer = verify_email(token=token, channel=Channel.WEB)
    except CustomerError as error:
        return render(request, "customers/verify.html", {"error": error}, status=error.status)
    return render(request, "customers/verify.html", {"customer": customer})


@login_required
@require_GET
def check_email(request):
    """Right after signing up: where the confirmation link went, how to get another, and the
    way back to what the shopper was doing (``next``)."""
    customer = customer_for_user(user=request.user)
    if customer.email_verified_at is not None:
        return redirect("orders:account")
    target = safe_next(request, "")
    here = reverse("customers:check_email")
    context = {
        "customer": customer,
        "days": VERIFICATION_MAX_AGE.days,
        "next": target,
        # Sending the link again comes back here.
        "here": f"{here}?{urlencode({'next': target})}" if target else here,
    }
    return render(request, "customers/check_email.html", context)


@login_required
@require_POST
def resend(request):
    customer = customer_for_user(user=request.user)
    send_verification(customer=customer, build_url=verification_link(request), channel=Channel.WEB)
    messages.success(
        request, _("We sent a new confirmation link to %(email)s.") % {"email": customer.email}
    )
    return redirect(safe_next(request, reverse("orders:account")))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def survey(request, token):
    """The NPS survey from the after-collection message: no login, the signed link is the key.

    A link that is not ours or too old is a 404, one already answered a 409; a score that is
    not 0–10 is a 400 with the form again and nothing written.
    """
    try:
        customer, number = survey_order(token=token)
    except CustomerError as error:
        return render(request, "customers/survey.html", {"error": error}, status=error.status)
    form = SurveyForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "order_number": number}
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                answer_survey(
                    token=token,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    channel=Channel.WEB,
                )
            except CustomerError as error:
                context = {"error": error}
                status = error.status
            else:
                context = {"thanks": True, "order_number": number}
        else:
            status = 400
    # The page speaks the customer's language, as the message did, unless this browser chose
    # one on the site.
    language = None
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        language = customer.language or None
    with translation.override(language or translation.get_language()):
        return render(request, "customers/survey.html", context, status=status)


# --- Forgotten password ----------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def password_reset(request):
    """ "Forgot your password?": ask for a link by email. Every address gets the same answer
    (the "check your email" page), whether or not it has an account."""
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    error, status = None, 200
    if form.is_bound:
        if not PasswordResetThrottle().allow_request(request, None):
            error = CustomerError(
                "throttled", _("Too many attempts. Wait a while and try again."), status=429
            )
        elif form.is_valid():
            try:
                request_password_reset(
                    email=form.cleaned_data["email"],
                    language=request.LANGUAGE_CODE,
                    channel=Channel.WEB,
                )
            except CustomerError as refused:
                error = refused
            else:
                return redirect("customers:password_reset_sent")
        status = error.status if error else 400
    context = {"form": form, "error": error}
    return render(request, "registration/password_reset_form.html", context, status=status)


@require_GET
def password_reset_sent(request):
    context = {"minutes": settings.PASSWORD_RESET_TIMEOUT // 60}
    return render(request, "registration/password_reset_done.html", context)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link from the email: Django's view moves the token out of the address (so it never
    leaks in a Referer), then ``reset_password`` sets the password — the same service as the
    API's. A link that is not good (any more) is a 400 page; so is a refused password."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("customers:password_reset_complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def render_to_response(self, context, **kwargs):
        if not self.validlink:
            kwargs.setdefault("status", 400)
        return super().render_to_response(context, **kwargs)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def form_valid(self, form):
        try:
            reset_password(
                uid=self.kwargs["uidb64"],
                token=self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN, ""),
                password=form.cleaned_data["new_password1"],
                channel=Channel.WEB,
                ip_address=get_client_ip_address(self.request) or "",
            )
        except CustomerError as error:
            form.add_error(
                "new_password2" if error.code == "weak_password" else None, error.message
            )
            return self.form_invalid(form)
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


@require_GET
def password_reset_complete(request):
    return render(request, "registration/password_reset_complete.html")

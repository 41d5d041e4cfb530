"""Pages reached from the links in our emails: confirming an email address (and asking for a
new link), and the NPS survey sent after collection."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.errors import CustomerError
from customers.forms import SurveyForm
from customers.models import Channel
from customers.services import (
    answer_survey,
    customer_for_user,
    send_verification,
    survey_order,
    verify_email,
)


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
@require_POST
def resend(request):
    customer = customer_for_user(user=request.user)
    send_verification(customer=customer, build_url=verification_link(request), channel=Channel.WEB)
    messages.success(
        request, _("We sent a new confirmation link to %(email)s.") % {"email": customer.email}
    )
    return redirect("orders:account")


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

"""Confirming a customer's email address: the link from the email, and asking for a new one."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from customers.errors import CustomerError
from customers.models import Channel
from customers.services import customer_for_user, send_verification, verify_email


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

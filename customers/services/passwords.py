"""Password reset.

Asking for a link answers the same whether or not the address has an account, and takes the
same time: the request only counts the attempt per address and queues a task; the task looks
the account up and sends the email. The link carries Django's token: it stops working when
the password changes (single use) and after PASSWORD_RESET_TIMEOUT seconds.
"""

import hashlib
import logging

from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from knox.models import AuthToken

from core.api import count_attempt
from core.tasks import send_now
from customers.errors import CustomerError
from customers.models import Channel, Customer, User
from customers.services.touchpoints import record_touchpoint

logger = logging.getLogger(__name__)


PASSWORD_RESET_TASK = "customers.tasks.send_password_reset"


def _address_key(email: str) -> str:
    """How an address is named in rate-limit keys (no address in clear in the cache)."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def request_password_reset(*, email: str, language: str, channel: str = Channel.WEB) -> None:
    """Someone asks for a link to choose a new password for ``email``.

    Nothing here depends on whether the address has an account. At most
    ``API_RATE_LIMITS["password_reset_address"]`` requests per address and window, counted for
    every address (a 429 ``throttled`` says nothing about the account either). The email goes
    in the account's language, else in ``language`` (the one the request was made in).
    """
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    email = email.strip().lower()
    if count_attempt("password_reset_address", _address_key(email)):
        raise CustomerError(
            "throttled",
            _("We have already sent several links for this address. Wait an hour and try again."),
            status=429,
        )
    if not send_now(PASSWORD_RESET_TASK, email, language, channel):
        # The broker is down: send it from here rather than not at all.
        send_password_reset(email=email, language=language, channel=channel)


def password_reset_path(user: User) -> str:
    """The path of a fresh reset link for ``user`` (the token holds its creation time)."""
    return reverse(
        "customers:password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    )


def send_password_reset(*, email: str, language: str, channel: str = Channel.WEB) -> bool:
    """Email the account with this address a link to choose a new password (the task behind
    ``request_password_reset``). False, sending nothing, when no active account with a
    password uses the address."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    customer = Customer.objects.filter(user=user).first()
    # An account message: in the language the customer chose, if they are one.
    language = (customer.language if customer else "") or language or settings.LANGUAGE_CODE
    context = {
        "name": (customer.name if customer else "") or user.name or user.email,
        "link": settings.SITE_URL + password_reset_path(user),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    with translation.override(language):
        subject = " ".join(
            render_to_string("customers/emails/password_reset.subject.txt", context).split()
        )
        body = render_to_string("customers/emails/password_reset.txt", context)
    send_mail(subject, body, None, [user.email])
    if customer is not None:
        record_touchpoint(customer=customer, channel=channel, kind="password_reset_requested")
    return True


def password_reset_user(*, uid: str, token: str, lock: bool = False) -> User:
    """The account a reset link is for, if the link is still good; ``bad_reset_link`` (400)
    for a link that is not ours, was used already or has expired."""
    invalid = CustomerError(
        "bad_reset_link",
        _(
            "This link to choose a new password is not valid: it was used already or has expired. "
            "Ask for a new one."
        ),
        status=400,
    )
    try:
        pk = int(urlsafe_base64_decode(str(uid)[:64]).decode())
    except (TypeError, ValueError, UnicodeDecodeError, OverflowError):
        raise invalid from None
    users = User.objects.filter(pk=pk, is_active=True)
    user = (users.select_for_update() if lock else users).first()
    if user is None or not default_token_generator.check_token(user, str(token)[:100]):
        raise invalid
    return user


def reset_password(
    *, uid: str, token: str, password: str, channel: str = Channel.WEB, ip_address: str = ""
) -> User:
    """Set a new password from a reset link. The link then stops working; every other session
    and every API token of the account ends; the login lockout for the address at
    ``ip_address`` (the device resetting) is lifted. A weak password is refused
    (``weak_password``, 400, with the reasons) and changes nothing."""
    with transaction.atomic():
        # Locked and checked again: two submits of one link change the password once.
        user = password_reset_user(uid=uid, token=token, lock=True)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CustomerError(
                "weak_password",
                " ".join(exc.messages),
                status=400,
                errors={"password": list(exc.messages)},
            ) from None
        user.set_password(password)
        user.save(update_fields=["password"])
        # Sessions end by themselves (their hash no longer matches the password); tokens not.
        AuthToken.objects.filter(user=user).delete()
        customer = Customer.objects.filter(user=user).first()
        if customer is not None:
            record_touchpoint(customer=customer, channel=channel, kind="password_changed")
    try:
        reset_login_failures(username=user.email, ip=ip_address or None)
    except Exception:  # the cache is down: the lockout ends by itself after its cool-off
        logger.warning("could not lift the login lockout of user %s", user.pk, exc_info=True)
    return user

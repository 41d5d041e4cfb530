"""Email verification: a signed link proves the customer owns their address."""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import counters
from customers.errors import CustomerError
from customers.models import Channel, Customer
from customers.services.touchpoints import record_touchpoint

logger = logging.getLogger(__name__)


VERIFICATION_SALT = "customers.email-verification"
VERIFICATION_MAX_AGE = timedelta(days=3)
# Verification emails one customer may be sent per window (sign-up included).
VERIFICATION_EMAIL_LIMIT = 3
VERIFICATION_EMAIL_WINDOW = 60 * 60


def verification_token(*, customer: Customer) -> str:
    """A signed, timestamped token naming this customer, their login and their address."""
    return signing.dumps(
        {"c": customer.pk, "u": customer.user_id, "e": customer.email.lower()},
        salt=VERIFICATION_SALT,
    )


def _count_verification_email(customer: Customer) -> int:
    """One more email for this customer in the current window (0 when it cannot be counted)."""
    count, _left = counters.window_increment(
        f"verification-emails:{customer.pk}", window=VERIFICATION_EMAIL_WINDOW
    )
    return count or 0


def _deliver_verification(customer: Customer, link: str) -> None:
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        subject = _("Confirm your email address")
        body = _(
            "Hello %(name)s,\n\n"
            "Please confirm that %(email)s is your email address by opening this link:\n\n"
            "%(link)s\n\n"
            "The link works for %(days)d days. Orders you placed as a guest with this address "
            "appear in your account once it is confirmed.\n\n"
            "If you did not create an Omnicollect account, ignore this email."
        ) % {
            "name": customer.name or customer.email,
            "email": customer.email,
            "link": link,
            "days": VERIFICATION_MAX_AGE.days,
        }
    try:
        send_mail(subject, body, None, [customer.email])
    except Exception:  # the customer can ask for a new link from their account page
        logger.exception("could not send the verification email to customer %s", customer.pk)


@transaction.atomic
def send_verification(
    *, customer: Customer, build_url: Callable[[str], str], channel: str = Channel.WEB
) -> None:
    """Email the customer a signed link proving they own their address.

    ``build_url(token)`` turns the token into the absolute link. The email leaves after the
    transaction commits; at most ``VERIFICATION_EMAIL_LIMIT`` per customer per hour.
    """
    if customer.user_id is None:
        raise CustomerError("no_account", _("Only a registered customer can confirm an email."))
    if customer.email_verified_at is not None:
        raise CustomerError(
            "already_verified", _("Your email address is already confirmed."), status=409
        )
    if _count_verification_email(customer) > VERIFICATION_EMAIL_LIMIT:
        raise CustomerError(
            "too_many_emails",
            _("We have already sent you several links. Please wait an hour and try again."),
            status=429,
        )
    link = build_url(verification_token(customer=customer))
    record_touchpoint(customer=customer, channel=channel, kind="verification_sent")
    transaction.on_commit(lambda: _deliver_verification(customer, link))


@transaction.atomic
def verify_email(*, token: str, channel: str = Channel.WEB) -> Customer:
    """Mark the address in a verification link as proven; the same link again changes nothing.

    A tampered, foreign or expired link is refused and writes nothing.
    """
    invalid = CustomerError(
        "bad_token", _("This confirmation link is not valid. Check that you copied all of it.")
    )
    try:
        data = signing.loads(
            str(token)[:500],
            salt=VERIFICATION_SALT,
            max_age=VERIFICATION_MAX_AGE,
        )
    except signing.SignatureExpired:
        raise CustomerError(
            "expired_token",
            _("This confirmation link has expired. Log in and ask for a new one."),
        ) from None
    except signing.BadSignature:
        raise invalid from None
    if not isinstance(data, dict):
        raise invalid
    customer = (
        Customer.objects.select_for_update()
        .filter(pk=data.get("c"), user_id=data.get("u"), user__isnull=False)
        .first()
    )
    if customer is None or customer.email.lower() != data.get("e"):
        raise invalid
    if customer.email_verified_at is None:
        customer.email_verified_at = timezone.now()
        customer.save(update_fields=["email_verified_at"])
        record_touchpoint(customer=customer, channel=channel, kind="email_verified")
    return customer

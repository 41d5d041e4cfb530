"""Every write to customers: identities, logins and the touchpoint record."""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import Channel, ContactChannel, Customer, Touchpoint, User

logger = logging.getLogger(__name__)


def record_touchpoint(
    *, customer: Customer, channel: str, kind: str, payload: dict | None = None
) -> Touchpoint:
    """The one way any app records an interaction on the customer's timeline."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    return Touchpoint.objects.create(
        customer=customer, channel=channel, kind=kind, payload=payload or {}
    )


def customer_for_contact(*, email: str, name: str = "", phone: str = "") -> Customer:
    """The customer this email belongs to, created if new (guest checkout).

    An existing customer's details are never changed or revealed by a guest: the order simply
    attaches to the one record (DESIGN §1, rule 1).
    """
    email = email.strip().lower()
    existing = Customer.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Customer.objects.create(email=email, name=name.strip(), phone=phone.strip())
    except IntegrityError:
        # Another request created it a moment ago.
        return Customer.objects.get(email__iexact=email)


def customer_for_user(*, user: User) -> Customer:
    """The customer record behind a login, created on first use."""
    try:
        return user.customer
    except Customer.DoesNotExist:
        pass
    with transaction.atomic():
        customer = customer_for_contact(email=user.email, name=user.name)
        if customer.user_id is None:
            customer.user = user
            customer.save(update_fields=["user"])
        elif customer.user_id != user.pk:
            # Never hand one login another login's customer record (possible only after an
            # address was edited by hand to collide with another account's).
            raise CustomerError(
                "account_conflict",
                _("This account needs attention from our staff before it can be used."),
                status=409,
            )
        return customer


@transaction.atomic
def register_customer(
    *,
    email: str,
    password: str,
    name: str,
    phone: str = "",
    language: str = "es",
    channel: str = Channel.WEB,
) -> Customer:
    email = email.strip().lower()
    taken = CustomerError("email_taken", _("An account with this email already exists."))
    if User.objects.filter(email__iexact=email).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, name=name.strip())
    except IntegrityError:
        raise taken from None  # the same sign-up submitted twice at once
    customer = Customer.objects.filter(email__iexact=email).select_for_update().first()
    if customer is None:
        customer = Customer.objects.create(
            email=email, name=name.strip(), phone=phone.strip(), user=user, language=language
        )
    else:
        # Guest orders stay attached to the record; seeing them needs a verified address
        # (see the identity rules of the API issue). The profile becomes the account's.
        customer.user = user
        customer.name = name.strip() or customer.name
        customer.phone = phone.strip() or customer.phone
        # A new login has proven nothing yet, whoever proved the address before.
        customer.email_verified_at = None
        customer.save(update_fields=["user", "name", "phone", "email_verified_at"])
    record_touchpoint(customer=customer, channel=channel, kind="account_created")
    return customer


PROFILE_FIELDS = ("name", "phone")
PREFERENCE_FIELDS = (
    "preferred_channels",
    "quiet_hours_start",
    "quiet_hours_end",
    "language",
    "marketing_opt_in",
)


@transaction.atomic
def update_customer(*, customer: Customer, channel: str, **changes) -> Customer:
    """Change profile fields and contact preferences; records what changed as a touchpoint.

    Input shapes are checked by the form or serializer; the rules live here.
    """
    unknown = set(changes) - set(PROFILE_FIELDS) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    channels = changes.get("preferred_channels")
    if channels is not None and (
        len(set(channels)) != len(channels) or not set(channels) <= set(ContactChannel.values)
    ):
        raise CustomerError(
            "bad_channels", _("List each contact channel once: email, sms or whatsapp.")
        )
    start = changes.get("quiet_hours_start", customer.quiet_hours_start)
    end = changes.get("quiet_hours_end", customer.quiet_hours_end)
    if (start is None) != (end is None):
        raise CustomerError(
            "bad_quiet_hours", _("Give both the start and the end of your quiet hours.")
        )
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, changes[name])
    if changed:
        customer.save(update_fields=changed)
        record_touchpoint(
            customer=customer, channel=channel, kind="profile_changed", payload={"fields": changed}
        )
    return customer


# --- Email verification ----------------------------------------------------------------------

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
    """One more email for this customer in the current window (an atomic cache counter)."""
    window = VERIFICATION_EMAIL_WINDOW
    key = f"verification-emails:{customer.pk}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        return 1


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

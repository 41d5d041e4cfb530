"""Every write to customers: identities, logins and the touchpoint record."""

import hashlib
import logging
import math
from collections.abc import Callable
from datetime import timedelta

from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from knox.models import AuthToken

from core import counters
from core.api import count_attempt
from core.tasks import send_after_commit, send_now
from customers import messaging, policy
from customers.errors import CustomerError
from customers.models import (
    MARKETING_KINDS,
    TRANSACTIONAL_KINDS,
    Channel,
    ContactChannel,
    Customer,
    CustomerAccess,
    Notification,
    NotificationKind,
    NpsAnswer,
    Touchpoint,
    User,
)
from customers.policy import Recipient

logger = logging.getLogger(__name__)


def record_touchpoint(
    *, customer: Customer, channel: str, kind: str, payload: dict | None = None
) -> Touchpoint:
    """The one way any app records an interaction on the customer's timeline: where the
    customer acted (web, mobile, store), or for a message the channel it went out on."""
    if channel not in Channel.values and channel not in ContactChannel.values:
        raise ValueError(f"unknown channel {channel!r}")
    return Touchpoint.objects.create(
        customer=customer, channel=channel, kind=kind, payload=payload or {}
    )


def supported_language(code: str | None) -> str:
    """``code`` as one of the site's languages ("en-GB" → "en"); the site's default for a
    language it does not speak or none."""
    try:
        return translation.get_supported_language_variant(code or "")
    except LookupError:
        return settings.LANGUAGE_CODE


def customer_for_contact(
    *, email: str, name: str = "", phone: str = "", language: str = ""
) -> Customer:
    """The customer this email belongs to, created if new (guest checkout, the tablet) with
    ``language``, the one in use (default: the site's).

    An existing customer's details are never changed or revealed by a guest: the order simply
    attaches to the one record (DESIGN §1, rule 1), and their language stays theirs.
    """
    email = email.strip().lower()
    existing = Customer.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Customer.objects.create(
                email=email,
                name=name.strip(),
                phone=phone.strip(),
                language=supported_language(language),
            )
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
    language: str = "",
    channel: str = Channel.WEB,
) -> Customer:
    """A new login for ``email``; the customer record (new, or the one guest orders made)
    takes the sign-up's details and ``language``, the one in use (default: the site's)."""
    email = email.strip().lower()
    language = supported_language(language)
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
        customer.language = language
        # A new login has proven nothing yet, whoever proved the address before.
        customer.email_verified_at = None
        customer.save(update_fields=["user", "name", "phone", "language", "email_verified_at"])
    record_touchpoint(customer=customer, channel=channel, kind="account_created")
    return customer


PROFILE_FIELDS = ("name", "phone")
PREFERENCE_FIELDS = (
    "preferred_channels",
    "quiet_hours_start",
    "quiet_hours_end",
    "language",
    "marketing_opt_in",
    "timezone",
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


# --- Password reset -------------------------------------------------------------------------
#
# Asking for a link answers the same whether or not the address has an account, and takes the
# same time: the request only counts the attempt per address and queues a task; the task looks
# the account up and sends the email. The link carries Django's token: it stops working when
# the password changes (single use) and after PASSWORD_RESET_TIMEOUT seconds.

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


# --- Messages (DESIGN §6) --------------------------------------------------------------------
#
# A message is an outbox row written in the transaction of the change that causes it; a Celery
# task sends it after commit, and a sweep every minute sends what is due and what a lost task
# left behind. Sending: lock the row, apply the contact policy, claim it ("sending"), call the
# channel outside any transaction, record the answer. Every send, deferral, suppression and
# failure is a touchpoint with its reason.

DELIVER_TASK = "customers.tasks.deliver_notification"


def notify(
    *,
    customer: Customer,
    kind: str,
    context: dict,
    dedupe_key: str,
    order_number: str = "",
    origin: str = Channel.WEB,
    send_at=None,
    language: str = "",
) -> Notification | None:
    """Queue a message to ``customer`` in the caller's transaction; it is sent after commit (or
    from ``send_at`` on). ``dedupe_key`` makes it once only: a second call with the same key
    (a retry, a repeated trigger) returns None and queues nothing. ``context`` (JSON) is what
    the message's templates show; ``language`` the one it speaks (default: the customer's
    when it is sent)."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown message kind {kind!r}")
    if origin not in Channel.values:
        raise ValueError(f"unknown channel {origin!r}")
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                customer=customer,
                kind=kind,
                context=context,
                dedupe_key=dedupe_key[:120],
                order_number=order_number[:16],
                origin=origin,
                scheduled_for=send_at or timezone.now(),
                language=language,
            )
    except IntegrityError:
        return None
    if send_at is None:
        send_after_commit(DELIVER_TASK, notification.pk)
    return notification


def _recipient(notification: Notification) -> Recipient:
    customer = notification.customer
    return Recipient(
        email=customer.email,
        phone=customer.phone,
        preferred_channels=tuple(customer.preferred_channels or ()),
        quiet_start=customer.quiet_hours_start,
        quiet_end=customer.quiet_hours_end,
        timezone=customer.timezone or notification.context.get("timezone") or settings.TIME_ZONE,
        marketing_opt_in=customer.marketing_opt_in,
    )


def _recently_capped(customer: Customer, now) -> int:
    """Non-transactional messages sent to the customer inside the cap's window."""
    _count, days = settings.NOTIFICATION_CAP
    return (
        Notification.objects.filter(
            customer=customer,
            status=Notification.Status.SENT,
            sent_at__gte=now - timedelta(days=days),
        )
        .exclude(kind__in=TRANSACTIONAL_KINDS)
        .count()
    )


def _message_touchpoint(notification: Notification, kind: str, **payload) -> None:
    """On the channel the message went (or goes) out on; one that never got a channel (no
    way to reach the customer) stays where what caused it happened."""
    record_touchpoint(
        customer=notification.customer,
        channel=notification.channel or notification.origin,
        kind=kind,
        payload={
            "message": notification.kind,
            "order": notification.order_number,
            "channel": notification.channel,
            **payload,
        },
    )


def _apply_policy(notification: Notification, now) -> policy.Decision:
    """Steps 1–4 of the contact policy for a locked row; records a deferral or suppression."""
    decision = policy.decide(
        recipient=_recipient(notification),
        transactional=notification.kind in TRANSACTIONAL_KINDS,
        marketing=notification.kind in MARKETING_KINDS,
        now=now,
        available=messaging.available_channels() - set(notification.refused_channels),
        recent_capped=_recently_capped(notification.customer, now),
        cap=settings.NOTIFICATION_CAP[0],
    )
    notification.channel = decision.channel or notification.channel
    if decision.action == policy.SUPPRESS:
        notification.status = Notification.Status.SUPPRESSED
        notification.reason = decision.reason
        notification.save(update_fields=["status", "reason", "channel"])
        _message_touchpoint(notification, "notification_suppressed", reason=decision.reason)
    elif decision.action == policy.DEFER:
        notification.scheduled_for = decision.until
        notification.reason = decision.reason
        notification.save(update_fields=["scheduled_for", "reason", "channel"])
        _message_touchpoint(
            notification,
            "notification_deferred",
            reason=decision.reason,
            until=decision.until.isoformat(),
        )
    return decision


def _send(notification: Notification) -> str:
    """Render and send on the claimed channel; the provider's id. Raises DeliveryError."""
    customer = notification.customer
    context = {**notification.context, "customer_name": customer.name or customer.email}
    message = messaging.render(
        notification.kind, context, notification.language or customer.language
    )
    if notification.channel == ContactChannel.EMAIL:
        return messaging.send_email(
            to=customer.email,
            message=message,
            qr_token=notification.context.get("pickup_token", "")
            if notification.kind == NotificationKind.READY
            else "",
            key=notification.dedupe_key,
        )
    return messaging.text_backend().send(
        channel=notification.channel,
        to=customer.phone,
        text=message["short"],
        key=notification.dedupe_key,
    )


def deliver_notification(*, notification_id: int, now=None) -> str:
    """Send one outbox message if it is due, as the contact policy says. Safe to run twice and
    concurrently: the row is claimed under its lock, and a second run finds it sent or being
    sent. A claim older than NOTIFICATION_SEND_TIMEOUT_SECONDS is a send that died (a killed
    worker) and is taken over: the message may then go out twice, in that window only.
    Returns what happened: sent, deferred, suppressed, retry, failed, busy, later, or the
    status it already had."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFICATION_SEND_TIMEOUT_SECONDS)
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "missing"
        if notification.status == Notification.Status.SENDING:
            if notification.sending_since and notification.sending_since > stale:
                return "busy"
        elif notification.status != Notification.Status.PENDING:
            return notification.status
        if notification.scheduled_for > now:
            return "later"
        decision = _apply_policy(notification, now)
        if decision.action != policy.SEND:
            return "suppressed" if decision.action == policy.SUPPRESS else "deferred"
        notification.status = Notification.Status.SENDING
        notification.sending_since = now
        notification.attempts += 1
        notification.save(update_fields=["status", "sending_since", "attempts", "channel"])
    try:
        provider_id = _send(notification)
    except messaging.DeliveryError as error:
        return _record_failure(notification, error, fallbacks=decision.fallbacks)
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        notification.status = Notification.Status.SENT
        notification.sent_at = timezone.now()
        notification.provider_id = provider_id[:255]
        notification.sending_since = None
        notification.reason = ""
        notification.save(
            update_fields=["status", "sent_at", "provider_id", "sending_since", "reason"]
        )
        _message_touchpoint(notification, "notification_sent")
    return "sent"


def _record_failure(notification: Notification, error, *, fallbacks) -> str:
    """A send failed: retry later with back-off, fall back to the next channel when this one
    refuses for good, or give up after NOTIFICATION_MAX_ATTEMPTS (visible to staff)."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        notification.sending_since = None
        notification.reason = str(error)[:255]
        if error.permanent and fallbacks:
            outcome = "fallback"
            notification.status = Notification.Status.PENDING
            notification.refused_channels = [*notification.refused_channels, notification.channel]
            notification.channel = fallbacks[0]
            notification.scheduled_for = timezone.now()
        elif not error.permanent and notification.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
            outcome = "retry"
            delay = settings.NOTIFICATION_RETRY_SECONDS * 2 ** (notification.attempts - 1)
            notification.status = Notification.Status.PENDING
            notification.scheduled_for = timezone.now() + timedelta(seconds=delay)
        else:
            outcome = "failed"
            notification.status = Notification.Status.FAILED
        notification.save(
            update_fields=[
                "status",
                "channel",
                "refused_channels",
                "scheduled_for",
                "sending_since",
                "reason",
            ]
        )
        _message_touchpoint(
            notification,
            "notification_failed",
            reason=notification.reason,
            attempts=notification.attempts,
            outcome=outcome,
        )
    return outcome


def send_again(*, notification: Notification) -> bool:
    """Staff: try a failed message again from the start (True if it was failed)."""
    with transaction.atomic():
        locked = Notification.objects.select_for_update().get(pk=notification.pk)
        if locked.status != Notification.Status.FAILED:
            return False
        locked.status = Notification.Status.PENDING
        locked.attempts = 0
        locked.scheduled_for = timezone.now()
        locked.save(update_fields=["status", "attempts", "scheduled_for"])
        send_after_commit(DELIVER_TASK, locked.pk)
    return True


def sweep_notifications(*, now=None, limit: int = 500) -> int:
    """Queue every message that is due (deferred, retrying, or whose task was lost) and every
    send that died mid-way. Returns how many were queued."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFICATION_SEND_TIMEOUT_SECONDS)
    due = Notification.objects.filter(
        Q(status=Notification.Status.PENDING, scheduled_for__lte=now)
        | Q(status=Notification.Status.SENDING, sending_since__lte=stale)
    ).order_by("scheduled_for")
    queued = 0
    for pk in due.values_list("pk", flat=True)[:limit]:
        if not send_now(DELIVER_TASK, pk):
            break  # the broker is down: the next sweep tries again
        queued += 1
    return queued


def withdraw_messages(*, order_number: str, kinds, reason: str) -> int:
    """Messages about an order that no longer apply (a reminder for an order just collected)
    and have not gone out yet are suppressed with ``reason``. Returns how many."""
    withdrawn = 0
    with transaction.atomic():
        for notification in (
            Notification.objects.select_for_update(of=("self",))
            .filter(
                order_number=order_number,
                kind__in=list(kinds),
                status=Notification.Status.PENDING,
            )
            .select_related("customer")
        ):
            notification.status = Notification.Status.SUPPRESSED
            notification.reason = reason[:255]
            notification.save(update_fields=["status", "reason"])
            _message_touchpoint(notification, "notification_suppressed", reason=notification.reason)
            withdrawn += 1
    return withdrawn


# --- Satisfaction survey (NPS) ----------------------------------------------------------------

NPS_SALT = "customers.nps"
NPS_MAX_AGE = timedelta(days=30)


def nps_token(*, order_number: str) -> str:
    """The survey link's token: signed, so only we can make one; answered once per order."""
    return signing.dumps({"o": order_number}, salt=NPS_SALT, compress=True)


def survey_order(*, token: str) -> tuple[Customer, str]:
    """The customer and order a survey link is for; CustomerError if the link is not ours,
    is too old, or was answered already."""
    try:
        data = signing.loads(token, salt=NPS_SALT, max_age=NPS_MAX_AGE)
        number = str(data["o"])
    except (signing.BadSignature, KeyError, TypeError):
        raise CustomerError(
            "bad_survey_link", _("This survey link is not valid or has expired."), status=404
        ) from None
    notification = (
        Notification.objects.select_related("customer")
        .filter(order_number=number, kind=NotificationKind.NPS)
        .first()
    )
    if notification is None:
        raise CustomerError(
            "bad_survey_link", _("This survey link is not valid or has expired."), status=404
        )
    if NpsAnswer.objects.filter(order_number=number).exists():
        raise CustomerError(
            "survey_answered", _("Thank you: this survey was already answered."), status=409
        )
    return notification.customer, number


def answer_survey(*, token: str, score: int, comment: str = "", channel: str = Channel.WEB):
    """Record the answer (0–10 and a comment) once; a touchpoint carries it to the timeline and
    the dashboard."""
    customer, number = survey_order(token=token)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise CustomerError("bad_score", _("Choose a score from 0 to 10."), status=400)
    comment = (comment or "").strip()[:2000]
    try:
        with transaction.atomic():
            answer = NpsAnswer.objects.create(
                customer=customer, order_number=number, score=score, comment=comment
            )
            record_touchpoint(
                customer=customer,
                channel=channel,
                kind="nps_answered",
                payload={"order": number, "score": score, "comment": comment[:200]},
            )
    except IntegrityError:
        raise CustomerError(
            "survey_answered", _("Thank you: this survey was already answered."), status=409
        ) from None
    return answer


# --- The store tablet's access to customer records -------------------------------------------


def _count_clerk(scope: str, user: User, message: Callable[[int], str]) -> None:
    """Count one attempt by the clerk against ``scope``; over the limit, 429 ``throttled``
    saying how many seconds to wait (``message(seconds)``)."""
    wait = count_attempt(scope, f"user:{user.pk}")
    if wait:
        seconds = max(1, math.ceil(wait))
        raise CustomerError(
            "throttled", message(seconds) % {"seconds": seconds}, status=429, retry_after=seconds
        )


def count_customer_search(*, user: User) -> None:
    """One search of the customer file by a clerk; over ``API_RATE_LIMITS["customer_search"]``
    a 429 ``throttled`` (the search is chain-wide: a walk-in may be new to this store)."""
    _count_clerk(
        "customer_search",
        user,
        lambda n: ngettext(
            "Too many customer searches in a short time. Wait %(seconds)d second and try again.",
            "Too many customer searches in a short time. Wait %(seconds)d seconds and try again.",
            n,
        ),
    )


def count_customer_view(*, user: User) -> None:
    """One opening of a customer record by a clerk, a guessed reference too; over
    ``API_RATE_LIMITS["customer_view"]`` a 429 ``throttled``: walking references is slow."""
    _count_clerk(
        "customer_view",
        user,
        lambda n: ngettext(
            "Too many customer records opened in a short time. "
            "Wait %(seconds)d second and try again.",
            "Too many customer records opened in a short time. "
            "Wait %(seconds)d seconds and try again.",
            n,
        ),
    )


def record_customer_access(
    *, customer: Customer, user: User, store_id: int, via: str = CustomerAccess.Via.PAGE
) -> CustomerAccess:
    """One view of ``customer``'s record by ``user`` at the store's tablet, for the access
    log managers read; ``via`` is how the clerk got there (anything unknown: the page)."""
    if via not in CustomerAccess.Via.values:
        via = CustomerAccess.Via.PAGE
    return CustomerAccess.objects.create(customer=customer, user=user, store_id=store_id, via=via)

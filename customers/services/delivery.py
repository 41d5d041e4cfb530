"""Messages to the customer and the contact policy (DESIGN §6).

A message is an outbox row written in the transaction of the change that causes it; a Celery
task sends it after commit, and a sweep every minute sends what is due and what a lost task
left behind. Sending: lock the row, apply the contact policy, claim it ("sending"), call the
channel outside any transaction, record the answer. Every send, deferral, suppression and
failure is a touchpoint with its reason.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.tasks import send_after_commit, send_now
from customers import messaging, policy
from customers.models import (
    MARKETING_KINDS,
    TRANSACTIONAL_KINDS,
    Channel,
    ContactChannel,
    Customer,
    Notification,
    NotificationKind,
)
from customers.policy import Recipient
from customers.services.touchpoints import record_touchpoint

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
    notification = Notification(
        customer=customer,
        kind=kind,
        context=context,
        dedupe_key=dedupe_key[:120],
        order_number=order_number[:16],
        origin=origin,
        scheduled_for=send_at or timezone.now(),
        language=language,
    )
    if not _insert_once(notification):
        return None
    if send_at is None:
        send_after_commit(DELIVER_TASK, notification.pk)
    return notification


def _insert_once(notification: Notification) -> bool:
    """Insert the row unless its dedupe key is taken (False): one statement, ``INSERT … ON
    CONFLICT (dedupe_key) DO NOTHING``, so the caller's transaction needs no savepoint for a
    repeated trigger (PostgreSQL and SQLite both)."""
    meta = Notification._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    table, pk, key = meta.db_table, meta.pk.column, meta.get_field("dedupe_key").column
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    # Names from the model's metadata, values as parameters.
    sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({values}) "  # noqa: S608
    sql += f"ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(pk)}"
    params = [
        field.get_db_prep_save(field.pre_save(notification, True), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    notification.pk = row[0]
    notification._state.adding = False
    return True


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

from celery import shared_task
from django.conf import settings

from customers import services


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
    max_retries=3,
)
def deliver_notification(self, notification_id: int) -> str:
    """Send one outbox message (idempotent: a repeat finds it sent or being sent). Redelivered
    right after its worker died, it finds the message "being sent" and comes back once that
    claim has timed out, instead of waiting for the sweep."""
    outcome = services.deliver_notification(notification_id=notification_id)
    if outcome == "busy":
        raise self.retry(countdown=settings.NOTIFICATION_SEND_TIMEOUT_SECONDS + 1)
    return outcome


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def sweep_notifications() -> int:
    """Queue what is due and what a lost task or a killed worker left behind."""
    return services.sweep_notifications()


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def send_password_reset(email: str, language: str, channel: str) -> bool:
    """Email a password reset link if an account uses the address (see
    ``services.request_password_reset``). Running it twice sends two working links."""
    return services.send_password_reset(email=email, language=language, channel=channel)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def flush_touchpoints() -> int:
    """Write the product views queued since the last run as touchpoints (safe to run twice)."""
    return services.flush_queued_touchpoints()

from celery import shared_task

from customers import services


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def deliver_notification(notification_id: int) -> str:
    """Send one outbox message (idempotent: a repeat finds it sent or being sent)."""
    return services.deliver_notification(notification_id=notification_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def sweep_notifications() -> int:
    """Queue what is due and what a lost task or a killed worker left behind."""
    return services.sweep_notifications()

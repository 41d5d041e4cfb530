"""The satisfaction survey (NPS) after collection: signed links, one answer per order."""

from datetime import timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import Channel, Customer, Notification, NotificationKind, NpsAnswer
from customers.services.touchpoints import record_touchpoint

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

"""The satisfaction survey (NPS) after collection: signed links, one answer per order."""

from datetime import timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import (
    Channel,
    Customer,
    Notification,
    NotificationKind,
    NpsAnswer,
    NpsFollowUp,
)
from customers.services.touchpoints import record_touchpoint

NPS_SALT = "customers.nps"
# Answers from 0 to this are detractors: each opens a follow-up for the store's managers.
DETRACTOR_MAX = 6
FOLLOW_UP_NOTE_MAX = 1000
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
            if score <= DETRACTOR_MAX:
                NpsFollowUp.objects.create(
                    answer=answer, created_at=answer.created_at, updated_at=answer.created_at
                )
    except IntegrityError:
        raise CustomerError(
            "survey_answered", _("Thank you: this survey was already answered."), status=409
        ) from None
    return answer


def follow_up_answer(*, follow_up_id: int, status: str, note: str, user) -> NpsFollowUp:
    """A manager contacted the customer about their answer, or resolved it, saying how
    (``note``): the follow-up records it and a touchpoint carries it to the customer's
    timeline. The caller has checked that the follow-up is of a store the user manages."""
    if status not in (NpsFollowUp.Status.CONTACTED, NpsFollowUp.Status.RESOLVED):
        raise CustomerError("bad_follow_up_status", _("Mark it contacted or resolved."), status=400)
    note = (note or "").strip()
    if not note:
        raise CustomerError(
            "follow_up_note_required", _("Say what was done in a short note."), status=400
        )
    if len(note) > FOLLOW_UP_NOTE_MAX:
        raise CustomerError(
            "follow_up_note_too_long",
            _("Keep the note under %(n)s characters.") % {"n": FOLLOW_UP_NOTE_MAX},
            status=400,
        )
    with transaction.atomic():
        follow_up = (
            NpsFollowUp.objects.select_for_update(of=("self",))
            .select_related("answer__customer")
            .get(pk=follow_up_id)
        )
        follow_up.status, follow_up.note, follow_up.updated_by = status, note, user
        follow_up.updated_at = timezone.now()
        follow_up.save(update_fields=["status", "note", "updated_by", "updated_at"])
        record_touchpoint(
            customer=follow_up.answer.customer,
            channel=Channel.STORE,
            kind="nps_follow_up",
            payload={
                "order": follow_up.answer.order_number,
                "status": status,
                "note": note[:200],
            },
        )
    return follow_up

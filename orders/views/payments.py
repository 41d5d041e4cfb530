"""Stripe's calls to us: the webhook (DESIGN §4)."""

import json
import time

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api import json_error
from orders.errors import OrderError
from orders.services import handle_stripe_event

# How far in the past or the future a signature's timestamp may be. Stripe's library refuses
# only the past; a timestamp ahead of our clock by more than this is refused here too.
SIGNATURE_TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify the signature, then record and apply the event once. Anything unsigned, signed
    with another secret, dated more than 5 minutes away from now either way, or that is not
    an event is a 400 {"code", "detail"} and writes nothing."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    signature = request.headers.get("Stripe-Signature", "")
    if not secret or not signature:
        return json_error(request, 400, "signature_missing", _("The request is not signed."))
    payload = request.body.decode("utf-8", errors="replace")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, SIGNATURE_TOLERANCE)
    except stripe.SignatureVerificationError:
        return json_error(
            request, 400, "bad_signature", _("The signature is not valid or too old.")
        )
    if _signed_at(signature) > time.time() + SIGNATURE_TOLERANCE:
        return json_error(request, 400, "bad_signature", _("The signature is dated in the future."))
    event = _event(payload)
    if event is None:
        return json_error(request, 400, "not_an_event", _("The body is not a Stripe event."))
    try:
        handle_stripe_event(event=event)
    except OrderError as error:
        # An intent we do not know could not be checked with Stripe: nothing was recorded,
        # and a 5xx makes Stripe deliver the event again later.
        return json_error(request, 503, error.code, error.message)
    return HttpResponse(status=200)


def _signed_at(signature: str) -> int:
    """The timestamp (``t=``) of a signature header already verified, so well formed."""
    fields = (item.split("=", 1) for item in signature.split(",") if "=" in item)
    return next(int(value) for key, value in fields if key == "t")


def _event(payload: str) -> dict | None:
    """The event in ``payload``: a JSON object with a string ``id`` and ``type`` and an object
    in ``data.object``; None for anything else (a list, a string, a number, null…)."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(event, dict):
        return None
    data = event.get("data")
    if not (
        isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and event["type"]
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    ):
        return None
    return event

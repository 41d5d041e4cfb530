"""Stripe's calls to us: the webhook (DESIGN §4)."""

import json

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.services import handle_stripe_event


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify the signature, then record and apply the event once. Anything unsigned, signed
    with another secret or too old is a 400 and writes nothing."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    signature = request.headers.get("Stripe-Signature", "")
    if not secret or not signature:
        return HttpResponseBadRequest("missing signature")
    payload = request.body.decode("utf-8", errors="replace")
    try:
        stripe.Webhook.construct_event(payload, signature, secret)
        event = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponseBadRequest("bad signature")
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        return HttpResponseBadRequest("not an event")
    handle_stripe_event(event=event)
    return HttpResponse(status=200)

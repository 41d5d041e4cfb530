"""The order link in messages: a signed, expiring address that opens one order's page
(status, QR, pickup code) in any browser, without logging in.

The link carries the order number and a fingerprint of the order's pickup token, signed with
the secret key and the time (``django.core.signing.TimestampSigner``, its own salt). It is
good for ORDER_LINK_DAYS from when the message was written, and stops working at once if the
pickup token is ever replaced. It grants that one page and "I'm here", nothing else.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "omnicollect.orders.order-link"
# Longer than any token we sign (``CC-XXXXXXXX.<16 hex>:<time>:<signature>``).
MAX_LENGTH = 120


class LinkExpired(Exception):
    """The link was ours but is older than ORDER_LINK_DAYS."""


def _pickup_fingerprint(pickup_token: str) -> str:
    return salted_hmac(f"{SALT}.pickup", pickup_token).hexdigest()[:16]


def order_link_token(order) -> str:
    """The signed part of ``order``'s link (what goes after ``/o/``)."""
    signer = signing.TimestampSigner(salt=SALT)
    return signer.sign(f"{order.number}.{_pickup_fingerprint(order.pickup_token)}")


def order_link(order) -> str:
    """The full address of ``order``'s page for a message."""
    return f"{settings.SITE_URL}/o/{order_link_token(order)}/"


def read_order_link(token: str) -> tuple[str, str]:
    """The order number and pickup fingerprint a link was signed for. Raises
    ``signing.BadSignature`` for anything we did not sign and ``LinkExpired`` for a link of
    ours that is too old."""
    if not isinstance(token, str) or len(token) > MAX_LENGTH:
        raise signing.BadSignature("not an order link")
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token, max_age=timedelta(days=settings.ORDER_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkExpired(str(exc)) from exc
    number, _dot, fingerprint = value.rpartition(".")
    if not number or not fingerprint:
        raise signing.BadSignature("not an order link")
    return number, fingerprint


def matches_pickup_token(fingerprint: str, pickup_token: str) -> bool:
    return constant_time_compare(fingerprint, _pickup_fingerprint(pickup_token))

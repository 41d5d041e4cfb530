"""The touchpoint record: the customer's timeline (DESIGN §1, rule 6)."""

from customers.models import Channel, ContactChannel, Customer, Touchpoint


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

"""The customer's profile and contact preferences (channels, quiet hours, language, consent)."""

from django.db import transaction
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import ContactChannel, Customer
from customers.services.touchpoints import record_touchpoint

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

import re

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from orders import selectors
from stores.selectors import managed_stores

register = template.Library()

# Notes the system writes on order events are stored in English and shown translated.
SYSTEM_NOTES = {
    "hold expired": gettext_lazy("hold expired"),
    "pickup code locked after wrong tries": gettext_lazy("pickup code locked after wrong tries"),
    "pickup code unlocked by manager": gettext_lazy("pickup code unlocked by a manager"),
    "customer arrived": gettext_lazy("customer arrived"),
    "cancelled by the customer": gettext_lazy("cancelled by the customer"),
    "card authorised": gettext_lazy("card authorised"),
    "card hold lapsed": gettext_lazy(
        "card hold released before it lapsed: take payment at the counter"
    ),
    "pay at the counter": gettext_lazy("switched to paying at the counter"),
    "refunded in Stripe": gettext_lazy("refunded in Stripe's dashboard"),
    "settled after its answer was lost": gettext_lazy(
        "refund confirmed by Stripe after its answer was lost"
    ),
    "payment not completed in time": gettext_lazy("payment not completed in time"),
    "ready message sent again": gettext_lazy("ready message sent again"),
    "message sent again": gettext_lazy("failed message sent again"),
}
# "hold extended by 24 h" (written by orders.services.extend_hold).
HOLD_EXTENDED = re.compile(r"^hold extended by (\d+) h$")


@register.filter
def event_note(note: str) -> str:
    """An order event's note in the reader's language (staff-typed reasons stay as typed)."""
    if note in SYSTEM_NOTES:
        return str(SYSTEM_NOTES[note])
    if extended := HOLD_EXTENDED.match(note):
        hours = int(extended.group(1))
        return ngettext(
            "hold extended by %(hours)d hour", "hold extended by %(hours)d hours", hours
        ) % {"hours": hours}
    if note.startswith("payment refused: "):
        return _("card payment refused")
    if note.startswith("refused: "):
        return _("refused: %(items)s") % {"items": note.removeprefix("refused: ")}
    return note


@register.simple_tag(takes_context=True)
def manages_store(context, store=None) -> bool:
    """Whether the signed-in user manages ``store`` (any store when None): the tablet's header
    links managers to the payments reconciliation."""
    user = context["request"].user
    if store and "is_manager" in context:
        # The page has asked already (``stores.selectors.is_manager``; tablet stores are active).
        return context["is_manager"] or user.is_superuser
    stores = managed_stores(user)
    if store:
        stores = stores.filter(pk=store.pk)
    return stores.exists()


@register.filter
def money_taken_text(payment) -> str:
    """How a payment's money was taken, in words (see ``orders.selectors.money_taken_text``)."""
    return selectors.money_taken_text(payment)

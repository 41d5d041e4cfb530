"""The contact policy (DESIGN §6): whether, how and when a message may go out, in one place.

Pure functions over plain values, evaluated at send time, in this order:

1. consent — transactional messages need none; marketing needs the opt-in;
2. channel — the customer's preference list, falling back along it to the first channel we can
   reach them on (an address or number, and a configured backend);
3. quiet hours — in the customer's time zone: a message due inside them is deferred to their end
   (never dropped), across midnight and daylight-saving changes;
4. frequency cap — at most N non-transactional messages per customer in a window;
5. dedupe — at most one message per (order, kind): the outbox's unique key, before all this.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

SEND = "send"
DEFER = "defer"
SUPPRESS = "suppress"

# Why a message was not sent now (stored on the outbox row and the touchpoint).
NO_CONSENT = "no_marketing_consent"
NO_CHANNEL = "no_reachable_channel"
QUIET_HOURS = "quiet_hours"
FREQUENCY_CAP = "frequency_cap"

DEFAULT_CHANNELS = ("email",)


@dataclass(frozen=True)
class Recipient:
    """What the policy needs to know about a customer."""

    email: str = ""
    phone: str = ""
    preferred_channels: tuple[str, ...] = ()
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"
    marketing_opt_in: bool = False


@dataclass(frozen=True)
class Decision:
    action: str  # SEND, DEFER or SUPPRESS
    channel: str = ""
    until: datetime | None = None  # DEFER: not before this (aware, UTC)
    reason: str = ""
    fallbacks: tuple[str, ...] = field(default=())  # the other reachable channels, in order


def reachable_channels(
    recipient: Recipient, available: frozenset[str], *, transactional: bool = False
) -> tuple[str, ...]:
    """The customer's channels in their order of preference that we can use: a channel needs a
    backend (``available``) and an address (email) or number (SMS, WhatsApp). A message about
    their own order falls back to email last, so "ready for pickup" always finds them."""
    wanted = tuple(recipient.preferred_channels) or DEFAULT_CHANNELS
    if transactional:
        wanted += DEFAULT_CHANNELS
    usable = []
    for channel in wanted:
        if channel not in available or channel in usable:
            continue
        if channel == "email" and not recipient.email:
            continue
        if channel in ("sms", "whatsapp") and not recipient.phone:
            continue
        usable.append(channel)
    return tuple(usable)


def quiet_until(recipient: Recipient, now: datetime) -> datetime | None:
    """When the quiet hours around ``now`` end (aware), or None if ``now`` is not in them.

    Quiet hours are local wall-clock times in the customer's zone and may wrap midnight
    (22:00–08:00). Equal start and end mean no quiet hours."""
    start, end = recipient.quiet_start, recipient.quiet_end
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(recipient.timezone or "UTC")
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # wraps midnight
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return _end_of_quiet(datetime.combine(end_day, end), zone)


def _end_of_quiet(naive_end: datetime, zone: ZoneInfo) -> datetime:
    """The first moment the customer's clock reads ``naive_end`` or later, in UTC. A time the
    clock reads twice (autumn) counts the first time; a time it skips (spring, 02:30 when 02:00
    jumps to 03:00) is reached when the clock jumps past it."""
    utc = ZoneInfo("UTC")
    aware = naive_end.replace(tzinfo=zone)
    if aware.astimezone(utc).astimezone(zone).replace(tzinfo=None) == naive_end:
        return aware.astimezone(utc)
    # Skipped: start from the earliest instant it could be and walk to the jump.
    later_offset = max(aware.replace(fold=0).utcoffset(), aware.replace(fold=1).utcoffset())
    moment = naive_end.replace(tzinfo=utc) - later_offset
    while moment.astimezone(zone).replace(tzinfo=None) < naive_end:
        moment += timedelta(minutes=1)
    return moment


def decide(
    *,
    recipient: Recipient,
    transactional: bool,
    marketing: bool,
    now: datetime,
    available: frozenset[str],
    recent_capped: int = 0,
    cap: int = 1,
) -> Decision:
    """What to do with one message now. ``recent_capped`` is how many non-transactional messages
    the customer was sent inside the cap's window; ``cap`` how many that window allows."""
    if marketing and not recipient.marketing_opt_in:
        return Decision(SUPPRESS, reason=NO_CONSENT)
    channels = reachable_channels(recipient, available, transactional=transactional)
    if not channels:
        return Decision(SUPPRESS, reason=NO_CHANNEL)
    until = quiet_until(recipient, now)
    if until is not None:
        return Decision(DEFER, channel=channels[0], until=until, reason=QUIET_HOURS)
    if not transactional and recent_capped >= cap:
        return Decision(SUPPRESS, channel=channels[0], reason=FREQUENCY_CAP)
    return Decision(SEND, channel=channels[0], fallbacks=channels[1:])

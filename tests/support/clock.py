"""The awkward moments a test of a time rule must pass at, in the two zones the shop sells in.

``@at_awkward_moments`` runs a test once per moment: the wall clock starts there (and keeps
ticking) and the test's stores are in that moment's zone. Every moment is local to its zone:
just after midnight, mid-morning and late evening on a weekday, a Sunday noon, and the two
nights the clocks change in Europe (Mexico City keeps its offset all year since 2022, so there
the difference to Madrid changes instead).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

ZONES = ("Europe/Madrid", "America/Mexico_City")

LOCAL_MOMENTS = {
    "after-midnight": datetime(2026, 12, 2, 0, 5),  # a Wednesday
    "mid-morning": datetime(2026, 12, 2, 10, 30),
    "late-evening": datetime(2026, 12, 2, 23, 50),
    "sunday": datetime(2026, 12, 6, 12, 0),
    "spring-forward": datetime(2026, 3, 29, 1, 55),  # Madrid: 02:00 becomes 03:00
    "fall-back": datetime(2026, 10, 25, 2, 30, fold=0),  # Madrid: 02:00–03:00 comes twice
}

MOMENTS = [
    pytest.param(local.replace(tzinfo=ZoneInfo(zone)), zone, id=f"{name}-{zone.split('/')[1]}")
    for zone in ZONES
    for name, local in LOCAL_MOMENTS.items()
]

at_awkward_moments = pytest.mark.parametrize(("moment", "store_zone"), MOMENTS)

# For a test whose expectation is written in wall-clock arithmetic ("an hour from now") that a
# clock change would bend: it runs at the other moments, and the rule's behaviour on the nights
# the clocks change has tests of its own (tests/customers/test_contact_policy.py,
# tests/stores/test_slots.py).
at_everyday_moments = pytest.mark.parametrize(
    ("moment", "store_zone"),
    [moment for moment in MOMENTS if not moment.id.startswith(("spring-", "fall-"))],
)

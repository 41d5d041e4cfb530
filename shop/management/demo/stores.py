"""The demo's stores: one in Madrid, one in Barcelona, one in Mexico City, each with its
opening hours, pickup slots and holds."""

from datetime import time
from decimal import Decimal

MON_SAT = range(0, 6)
MON_FRI = range(0, 5)
SATURDAY, SUNDAY = 5, 6

STORES = [
    {
        "code": "MAD-01",
        "name": "Madrid Centro",
        "address": "Calle de Preciados 28, 28013 Madrid",
        "city": "Madrid",
        "latitude": Decimal("40.418450"),
        "longitude": Decimal("-3.705830"),
        "timezone": "Europe/Madrid",
        "slot_minutes": 30,
        "slot_capacity": 6,
        "lead_time_minutes": 60,
        "hold_hours": 48,
        "hours": [(day, time(10), time(21)) for day in MON_SAT] + [(SUNDAY, time(11), time(15))],
    },
    {
        "code": "BCN-01",
        "name": "Barcelona Eixample",
        "address": "Passeig de Gràcia 55, 08007 Barcelona",
        "city": "Barcelona",
        "latitude": Decimal("41.392690"),
        "longitude": Decimal("2.164430"),
        "timezone": "Europe/Madrid",
        "slot_minutes": 30,
        "slot_capacity": 8,
        "lead_time_minutes": 90,
        "hold_hours": 48,
        "hours": [(day, time(10), time(21)) for day in MON_SAT],  # closed on Sundays
    },
    {
        "code": "CMX-01",
        "name": "Ciudad de México Polanco",
        "address": "Av. Presidente Masaryk 360, Polanco, 11560 Ciudad de México",
        "city": "Ciudad de México",
        "latitude": Decimal("19.431620"),
        "longitude": Decimal("-99.194430"),
        "timezone": "America/Mexico_City",
        "slot_minutes": 30,
        "slot_capacity": 4,
        "lead_time_minutes": 120,
        "hold_hours": 48,
        "hours": [(day, time(10), time(20)) for day in MON_FRI]
        + [(SATURDAY, time(10), time(21)), (SUNDAY, time(11), time(18))],
    },
]

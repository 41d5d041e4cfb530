"""System notes on order events are shown in the reader's language."""

from django.utils import translation

from orders.templatetags.order_tags import event_note


def test_system_notes_are_translated_and_typed_reasons_are_not():
    with translation.override("es"):
        assert event_note("hold expired") == "reserva vencida"
        assert event_note("refused: MUG-01, TEE-L") == "rechazado: MUG-01, TEE-L"
        assert event_note("El cliente ya no lo quiere") == "El cliente ya no lo quiere"
    with translation.override("en"):
        assert event_note("hold expired") == "hold expired"

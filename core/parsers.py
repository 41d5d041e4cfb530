"""The API's request parser: JSON only, nested at most ``JSON_MAX_DEPTH`` levels deep."""

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# A request body nested deeper than this is refused (no API body needs more than a few levels).
JSON_MAX_DEPTH = 32


def _deeper_than(value, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels deep in ``value`` (parsed
    JSON), walked level by level without recursion."""
    level = [value] if isinstance(value, list | dict) else []
    for _depth in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, list | dict)
        ]
        if not level:
            return False
    return True


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a body nested more than ``JSON_MAX_DEPTH`` levels deep with
    a 400 ``parse_error``. Python's parser recurses once per level: a body nested a thousand
    deep would otherwise end in RecursionError, a 500. The body's size is limited before it is
    read (``DATA_UPLOAD_MAX_MEMORY_SIZE``, answered 413: see ``core.api.request_too_large``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if _deeper_than(data, JSON_MAX_DEPTH):
            raise _too_deep()
        return data


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        _("The JSON is nested too deeply: at most %(max)d levels.") % {"max": JSON_MAX_DEPTH}
    )

"""The one base class for business-rule refusals raised by services.

Services raise a subclass with a stable machine-readable ``code`` and a human ``message``;
views and API views turn it into a message or ``{"code", "detail"}`` with ``status``.
"""


class DomainError(Exception):
    status = 409

    def __init__(self, code: str, message: str, *, status: int | None = None, **extra):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        if status is not None:
            self.status = status
        self.extra = extra

    def __str__(self) -> str:
        return self.message


def form_error(form) -> DomainError:
    """A form's errors as one 400 ``invalid_input`` refusal: "Label: message; …" (a field with no
    label goes by its name, form-wide errors by their message alone)."""
    detail = "; ".join(
        f"{form.fields[name].label or name}: {' '.join(errors)}"
        if name in form.fields
        else " ".join(errors)
        for name, errors in form.errors.items()
    )
    return DomainError("invalid_input", detail, status=400)

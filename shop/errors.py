from core.errors import DomainError


class CartError(DomainError):
    """The cart change was refused: unknown_sku, bad_quantity, unknown_line (400/404)."""

    status = 400

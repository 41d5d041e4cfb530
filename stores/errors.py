from core.errors import DomainError


class StoreError(DomainError):
    """Stock or slot refused (409): out_of_stock, slot_full, slot_invalid."""

from core.errors import DomainError


class OrderError(DomainError):
    """An order rule said no. ``code`` is stable (API clients branch on it)."""

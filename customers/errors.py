from core.errors import DomainError


class CustomerError(DomainError):
    status = 400

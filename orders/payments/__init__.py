"""Payment rows and the payment provider (Stripe, or the counter's till), below the order
services: the provider interface, claimed operations on a Payment, and card authorisation
attempts. Nothing here changes an order's status; ``orders.services`` does that."""

from orders.payments.providers import (
    Authorisation,
    InStoreProvider,
    PaymentProvider,
    ProviderState,
    Refund,
    StripeProvider,
    from_minor_units,
    is_test_mode,
    online_payments_enabled,
    online_provider,
    provider_for,
    to_minor_units,
)

__all__ = [
    "Authorisation",
    "InStoreProvider",
    "PaymentProvider",
    "ProviderState",
    "Refund",
    "StripeProvider",
    "from_minor_units",
    "is_test_mode",
    "online_payments_enabled",
    "online_provider",
    "provider_for",
    "to_minor_units",
]

"""Every write to orders, one module per subject; callers import from here.

Each public function is one transaction. Business refusals raise ``OrderError`` (or the
``StoreError``/``CartError`` of the app that refused) and leave nothing written. Payment rows
and the provider are below, in ``orders.payments``.
"""

from orders.payments.attempts import (
    AUTHORISE,
    AUTHORISE_RETRY_AFTER,
    authorise_payment,
)
from orders.payments.claims import (
    PAYMENT_METHOD_ID,
)
from orders.payments.operations import (
    cancel_payment,
    capture_payment,
    refresh_payment,
)
from orders.services.checkout import (
    SLOT_HORIZON,
    Contact,
    cart_and_replay,
    place_order,
    replayed_order,
    request_fingerprint,
    with_written_rows,
)
from orders.services.collection import (
    collect_order,
)
from orders.services.holds import (
    HOLD_EXTENSION_HOURS,
    extend_hold,
    resend_ready_message,
    send_order_message_again,
    send_reminders,
)
from orders.services.lifecycle import (
    ARRIVAL_STATES,
    advance_order,
    cancel_order,
    cancel_order_by_customer,
    expire_order,
    mark_arrived,
    mark_preparing,
    mark_ready,
)
from orders.services.online import (
    cancel_unpaid_order,
    check_online_payment,
    confirm_online_order,
    pay_at_counter_instead,
    pay_online,
)
from orders.services.payment_upkeep import (
    release_lapsing_authorisations,
    settle_payment_operation,
    settle_stale_payment_operations,
    void_extra_holds,
    void_leftover_authorisations,
)
from orders.services.pickup import (
    CLOSED,
    TOKEN_MIN_LENGTH,
    VERIFICATION_SECONDS,
    find_by_pickup_code,
    forget_pickup_verification,
    mark_pickup_verified,
    normalise_code,
    open_for_pickup,
    order_over,
    pickup_verification,
    unlock_pickup_code,
    verify_pickup_code,
)
from orders.services.refunds import (
    REFUND_REASON_MAX,
    refund_order,
)
from orders.services.webhooks import (
    handle_stripe_event,
)

__all__ = [
    "CLOSED",
    "TOKEN_MIN_LENGTH",
    "open_for_pickup",
    "order_over",
    "ARRIVAL_STATES",
    "AUTHORISE",
    "AUTHORISE_RETRY_AFTER",
    "Contact",
    "HOLD_EXTENSION_HOURS",
    "PAYMENT_METHOD_ID",
    "REFUND_REASON_MAX",
    "SLOT_HORIZON",
    "VERIFICATION_SECONDS",
    "advance_order",
    "authorise_payment",
    "cancel_order",
    "cancel_order_by_customer",
    "cancel_payment",
    "cancel_unpaid_order",
    "capture_payment",
    "check_online_payment",
    "collect_order",
    "confirm_online_order",
    "expire_order",
    "extend_hold",
    "find_by_pickup_code",
    "forget_pickup_verification",
    "handle_stripe_event",
    "mark_arrived",
    "mark_pickup_verified",
    "mark_preparing",
    "mark_ready",
    "normalise_code",
    "pay_at_counter_instead",
    "pay_online",
    "pickup_verification",
    "place_order",
    "refresh_payment",
    "refund_order",
    "release_lapsing_authorisations",
    "cart_and_replay",
    "replayed_order",
    "with_written_rows",
    "request_fingerprint",
    "resend_ready_message",
    "send_order_message_again",
    "send_reminders",
    "settle_payment_operation",
    "settle_stale_payment_operations",
    "unlock_pickup_code",
    "verify_pickup_code",
    "void_extra_holds",
    "void_leftover_authorisations",
]

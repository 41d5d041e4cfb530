"""Every write to customers: identities, logins, preferences, messages and the touchpoint
record, one module per subject; callers import from here.

Each submodule imports its siblings directly, never this package.
"""

from customers.services.access import (
    count_customer_search,
    count_customer_view,
    record_customer_access,
)
from customers.services.delivery import (
    DELIVER_TASK,
    deliver_notification,
    notify,
    send_again,
    sweep_notifications,
    withdraw_messages,
)
from customers.services.identity import (
    customer_for_contact,
    customer_for_user,
    register_customer,
    supported_language,
)
from customers.services.passwords import (
    PASSWORD_RESET_TASK,
    password_reset_path,
    password_reset_user,
    request_password_reset,
    reset_password,
    send_password_reset,
)
from customers.services.profile import (
    PREFERENCE_FIELDS,
    PROFILE_FIELDS,
    update_customer,
)
from customers.services.surveys import (
    FOLLOW_UP_NOTE_MAX,
    NPS_MAX_AGE,
    NPS_SALT,
    answer_survey,
    follow_up_answer,
    nps_token,
    survey_order,
)
from customers.services.touchpoints import (
    flush_queued_touchpoints,
    queue_touchpoint,
    record_touchpoint,
)
from customers.services.verification import (
    VERIFICATION_EMAIL_LIMIT,
    VERIFICATION_EMAIL_WINDOW,
    VERIFICATION_MAX_AGE,
    VERIFICATION_SALT,
    send_verification,
    verification_token,
    verify_email,
)

__all__ = [
    "DELIVER_TASK",
    "NPS_MAX_AGE",
    "NPS_SALT",
    "PASSWORD_RESET_TASK",
    "PREFERENCE_FIELDS",
    "PROFILE_FIELDS",
    "VERIFICATION_EMAIL_LIMIT",
    "VERIFICATION_EMAIL_WINDOW",
    "VERIFICATION_MAX_AGE",
    "VERIFICATION_SALT",
    "FOLLOW_UP_NOTE_MAX",
    "answer_survey",
    "follow_up_answer",
    "count_customer_search",
    "count_customer_view",
    "customer_for_contact",
    "customer_for_user",
    "deliver_notification",
    "notify",
    "nps_token",
    "password_reset_path",
    "password_reset_user",
    "record_customer_access",
    "flush_queued_touchpoints",
    "queue_touchpoint",
    "record_touchpoint",
    "register_customer",
    "request_password_reset",
    "reset_password",
    "send_again",
    "send_password_reset",
    "send_verification",
    "supported_language",
    "survey_order",
    "sweep_notifications",
    "update_customer",
    "verification_token",
    "verify_email",
    "withdraw_messages",
]

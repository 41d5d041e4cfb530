"""Every write to customers: identities, logins and the touchpoint record."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import Channel, ContactChannel, Customer, Touchpoint, User


def record_touchpoint(
    *, customer: Customer, channel: str, kind: str, payload: dict | None = None
) -> Touchpoint:
    """The one way any app records an interaction on the customer's timeline."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    return Touchpoint.objects.create(
        customer=customer, channel=channel, kind=kind, payload=payload or {}
    )


def customer_for_contact(*, email: str, name: str = "", phone: str = "") -> Customer:
    """The customer this email belongs to, created if new (guest checkout).

    An existing customer's details are never changed or revealed by a guest: the order simply
    attaches to the one record (DESIGN §1, rule 1).
    """
    email = email.strip().lower()
    existing = Customer.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Customer.objects.create(email=email, name=name.strip(), phone=phone.strip())
    except IntegrityError:
        # Another request created it a moment ago.
        return Customer.objects.get(email__iexact=email)


def customer_for_user(*, user: User) -> Customer:
    """The customer record behind a login, created on first use."""
    try:
        return user.customer
    except Customer.DoesNotExist:
        pass
    with transaction.atomic():
        customer = customer_for_contact(email=user.email, name=user.name)
        if customer.user_id is None:
            customer.user = user
            customer.save(update_fields=["user"])
        return customer


@transaction.atomic
def register_customer(
    *,
    email: str,
    password: str,
    name: str,
    phone: str = "",
    language: str = "es",
    channel: str = Channel.WEB,
) -> Customer:
    email = email.strip().lower()
    taken = CustomerError("email_taken", _("An account with this email already exists."))
    if User.objects.filter(email__iexact=email).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, name=name.strip())
    except IntegrityError:
        raise taken from None  # the same sign-up submitted twice at once
    customer = Customer.objects.filter(email__iexact=email).select_for_update().first()
    if customer is None:
        customer = Customer.objects.create(
            email=email, name=name.strip(), phone=phone.strip(), user=user, language=language
        )
    else:
        # Guest orders stay attached to the record; seeing them needs a verified address
        # (see the identity rules of the API issue). The profile becomes the account's.
        customer.user = user
        customer.name = name.strip() or customer.name
        customer.phone = phone.strip() or customer.phone
        customer.save(update_fields=["user", "name", "phone"])
    record_touchpoint(customer=customer, channel=channel, kind="account_created")
    return customer


PROFILE_FIELDS = ("name", "phone")
PREFERENCE_FIELDS = (
    "preferred_channels",
    "quiet_hours_start",
    "quiet_hours_end",
    "language",
    "marketing_opt_in",
)


@transaction.atomic
def update_customer(*, customer: Customer, channel: str, **changes) -> Customer:
    """Change profile fields and contact preferences; records what changed as a touchpoint.

    Input shapes are checked by the form or serializer; the rules live here.
    """
    unknown = set(changes) - set(PROFILE_FIELDS) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    channels = changes.get("preferred_channels")
    if channels is not None and (
        len(set(channels)) != len(channels) or not set(channels) <= set(ContactChannel.values)
    ):
        raise CustomerError(
            "bad_channels", _("List each contact channel once: email, sms or whatsapp.")
        )
    start = changes.get("quiet_hours_start", customer.quiet_hours_start)
    end = changes.get("quiet_hours_end", customer.quiet_hours_end)
    if (start is None) != (end is None):
        raise CustomerError(
            "bad_quiet_hours", _("Give both the start and the end of your quiet hours.")
        )
    changed = [name for name, value in changes.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, changes[name])
    if changed:
        customer.save(update_fields=changed)
        record_touchpoint(
            customer=customer, channel=channel, kind="profile_changed", payload={"fields": changed}
        )
    return customer

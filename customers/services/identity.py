"""Who a customer is: one record per person, whatever the channel, and the logins behind it."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from customers.errors import CustomerError
from customers.models import Channel, Customer, User
from customers.services.touchpoints import record_touchpoint


def supported_language(code: str | None) -> str:
    """``code`` as one of the site's languages ("en-GB" → "en"); the site's default for a
    language it does not speak or none."""
    try:
        return translation.get_supported_language_variant(code or "")
    except LookupError:
        return settings.LANGUAGE_CODE


def customer_for_contact(
    *, email: str, name: str = "", phone: str = "", language: str = ""
) -> Customer:
    """The customer this email belongs to, created if new (guest checkout, the tablet) with
    ``language``, the one in use (default: the site's).

    An existing customer's details are never changed or revealed by a guest: the order simply
    attaches to the one record (DESIGN §1, rule 1), and their language stays theirs.
    """
    email = email.strip().lower()
    existing = Customer.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Customer.objects.create(
                email=email,
                name=name.strip(),
                phone=phone.strip(),
                language=supported_language(language),
            )
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
        elif customer.user_id != user.pk:
            # Never hand one login another login's customer record (possible only after an
            # address was edited by hand to collide with another account's).
            raise CustomerError(
                "account_conflict",
                _("This account needs attention from our staff before it can be used."),
                status=409,
            )
        return customer


@transaction.atomic
def register_customer(
    *,
    email: str,
    password: str,
    name: str,
    phone: str = "",
    language: str = "",
    channel: str = Channel.WEB,
) -> Customer:
    """A new login for ``email``; the customer record (new, or the one guest orders made)
    takes the sign-up's details and ``language``, the one in use (default: the site's)."""
    email = email.strip().lower()
    language = supported_language(language)
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
        customer.language = language
        # A new login has proven nothing yet, whoever proved the address before.
        customer.email_verified_at = None
        customer.save(update_fields=["user", "name", "phone", "language", "email_verified_at"])
    record_touchpoint(customer=customer, channel=channel, kind="account_created")
    return customer

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from customers.models import ContactChannel
from customers.phones import PhoneField, PhoneRegionMixin

CHANNEL_RANKS = (
    ("channel_1", _("1st choice")),
    ("channel_2", _("2nd choice")),
    ("channel_3", _("3rd choice")),
)


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone name this server knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(value: str) -> None:
    """A customer's time zone: an IANA name, or blank for the store's."""
    if value and value not in time_zones():
        raise ValidationError(_("Unknown time zone: %(value)s"), params={"value": value})


def time_zone_choices(store_zones=()) -> list:
    """Blank (the store's zone) first, then our stores' zones and UTC, then all of them."""
    ours = sorted({"UTC", *store_zones} & set(time_zones()))
    return [
        ("", _("The store's time zone")),
        (_("Our stores"), [(name, name) for name in ours]),
        (_("All time zones"), [(name, name) for name in time_zones()]),
    ]


class PreferencesForm(PhoneRegionMixin, forms.Form):
    """Profile and contact preferences. Contact channels are three ordered choices, so the
    form works without JavaScript; the rules (each channel once, both quiet-hour ends) are
    the service's."""

    name = forms.CharField(label=_("Name"), max_length=150)
    phone = PhoneField(label=_("Phone"), required=False)
    channel_1 = forms.ChoiceField(label=_("1st choice"), required=False)
    channel_2 = forms.ChoiceField(label=_("2nd choice"), required=False)
    channel_3 = forms.ChoiceField(label=_("3rd choice"), required=False)
    quiet_hours_start = forms.TimeField(
        label=_("Quiet from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_hours_end = forms.TimeField(
        label=_("Quiet until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("For quiet hours and the times in our messages."),
    )
    marketing_opt_in = forms.BooleanField(
        label=_("Send me offers and news"),
        required=False,
    )

    def __init__(self, *args, store_zones=(), **kwargs):
        """``store_zones``: the time zones of the shop's stores, offered first."""
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *ContactChannel.choices]
        for name, _label in CHANNEL_RANKS:
            self.fields[name].choices = choices
        self.fields["timezone"].choices = time_zone_choices(store_zones)

    @staticmethod
    def initial_for(customer) -> dict:
        channels = list(customer.preferred_channels or [])
        initial = {
            "name": customer.name,
            "phone": customer.phone,
            "quiet_hours_start": customer.quiet_hours_start,
            "quiet_hours_end": customer.quiet_hours_end,
            "language": customer.language,
            "timezone": customer.timezone,
            "marketing_opt_in": customer.marketing_opt_in,
        }
        for (name, _label), channel in zip(CHANNEL_RANKS, channels, strict=False):
            initial[name] = channel
        return initial

    def channel_fields(self):
        return [self[name] for name, _label in CHANNEL_RANKS]

    def changes(self) -> dict:
        """What to hand to ``customers.services.update_customer``."""
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "phone": data["phone"].strip(),
            "preferred_channels": [data[name] for name, _label in CHANNEL_RANKS if data[name]],
            "quiet_hours_start": data["quiet_hours_start"],
            "quiet_hours_end": data["quiet_hours_end"],
            "language": data["language"],
            "timezone": data["timezone"],
            "marketing_opt_in": data["marketing_opt_in"],
        }


class PasswordResetRequestForm(forms.Form):
    """ "Forgot your password?": the address of the account."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class CustomerContactForm(PhoneRegionMixin, forms.Form):
    """A clerk puts a customer on file at the tablet. Their messages speak ``language``:
    the one in use at the tablet unless the clerk picks another."""

    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    phone = PhoneField(label=_("Phone"), required=False)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, required=False)


SCORE_MESSAGE = _("Choose a score from 0 to 10.")


class SurveyForm(forms.Form):
    """The NPS question: a score from 0 to 10 and an optional comment."""

    score = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend?"),
        choices=[(str(n), str(n)) for n in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": SCORE_MESSAGE, "invalid_choice": SCORE_MESSAGE},
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

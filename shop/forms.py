from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from customers.models import User
from customers.phones import PhoneField, PhoneRegionMixin


class AddToCartForm(forms.Form):
    sku = forms.CharField(max_length=40)
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=settings.CART_MAX_LINE_QUANTITY, initial=1
    )


class LineQuantityForm(forms.Form):
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=0, max_value=settings.CART_MAX_LINE_QUANTITY
    )


class HandoffClaimForm(forms.Form):
    """A handoff code as typed: any case, with or without spaces or a dash."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )

    def add_error(self, field, error):
        super().add_error(field, error)
        # The error is shown beside the field (templates/shop/partials/handoff.html).
        self.fields["code"].widget.attrs.update(
            {"aria-invalid": "true", "aria-describedby": "claim-error"}
        )


class StoreChoiceForm(forms.Form):
    store = forms.CharField(max_length=16)
    next = forms.CharField(required=False, max_length=300)


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True})
    )

    def clean_username(self):
        # Addresses are stored in lower case; "Ana@Example.com" is the same login.
        return self.cleaned_data["username"].strip().lower()


class SignupForm(PhoneRegionMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    phone = PhoneField(label=_("Phone (optional)"), required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this email already exists. Log in instead.")
            )
        return email

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            user = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned

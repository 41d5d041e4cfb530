from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.phones import PhoneField, PhoneRegionMixin
from orders.models import Payment, PaymentMethod


class CheckoutForm(PhoneRegionMixin, forms.Form):
    store = forms.CharField(max_length=16)
    slot = forms.CharField(label=_("Pickup time"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    phone = PhoneField(label=_("Phone"), required=False)
    pickup_person = forms.CharField(
        label=_("Someone else will collect it (optional)"),
        max_length=150,
        required=False,
        help_text=_("Their name, as on their ID."),
    )
    payment = forms.ChoiceField(
        label=_("Payment"),
        choices=[(PaymentMethod.IN_STORE, PaymentMethod.IN_STORE.label)],
        initial=PaymentMethod.IN_STORE,
        widget=forms.RadioSelect,
    )
    checkout_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, online: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if online:
            self.fields["payment"].choices = [
                (PaymentMethod.IN_STORE, PaymentMethod.IN_STORE.label),
                (PaymentMethod.ONLINE, _("Pay online now by card (charged at pickup)")),
            ]

    def clean_slot(self):
        value = self.cleaned_data["slot"]
        try:
            start = datetime.fromisoformat(value)
        except ValueError:
            raise forms.ValidationError(_("Choose a pickup time from the list.")) from None
        if start.tzinfo is None:
            raise forms.ValidationError(_("Choose a pickup time from the list."))
        # Whether the store can take it then (past, closed, full, too far) is the service's
        # answer, which names the store.
        return start


class CheckoutAdjustForm(forms.Form):
    """A one-click fix for a line the store cannot fill, posted with the checkout form:
    ``adjust_line`` ("<line id>:<quantity>", 0 removes it) or ``switch_to`` (a store code)."""

    adjust_line = forms.RegexField(regex=r"\A[0-9]{1,12}:[0-9]{1,3}\Z", required=False)
    switch_to = forms.CharField(max_length=16, required=False)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if bool(data.get("adjust_line")) == bool(data.get("switch_to")):
            raise forms.ValidationError(_("Choose one change to your order."))
        if data["adjust_line"]:
            line_id, quantity = data["adjust_line"].split(":")
            data["line_id"], data["quantity"] = int(line_id), int(quantity)
        return data


class PayForm(forms.Form):
    """What the card payment page posts: the id Stripe.js made for the card (``pm_…``),
    never the card itself; or, after 3-D Secure on the page, a request to check the result."""

    payment_method = forms.RegexField(
        regex=r"\A(pm|card)_[A-Za-z0-9_]{1,120}\Z", max_length=124, required=False
    )
    check = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if not data.get("payment_method") and not data.get("check"):
            raise forms.ValidationError(_("Enter your card details to pay."))
        return data


def check_counter_payment(form) -> None:
    """Money taken or given back at the counter: say how, and the terminal's receipt for a
    card (the services check the same for every caller; here it is shown beside the field)."""
    method = form.cleaned_data.get("payment_method")
    if not method:
        form.add_error("payment_method", _("Choose card or cash."))
    elif method == Payment.Method.CARD and not form.cleaned_data.get("reference", "").strip():
        form.add_error("reference", _("Enter the card terminal receipt number."))


class RefundForm(forms.Form):
    """Built per collected order: one field per line, named ``refund_<sku>``, up to what was
    collected and not refunded yet; or ``everything`` (the "refund everything" button)."""

    reason = forms.CharField(label=_("Reason"), max_length=255)
    everything = forms.BooleanField(required=False)
    restock = forms.BooleanField(label=_("Put the items back on sale"), required=False)
    payment_method = forms.ChoiceField(
        label=_("Given back by"),
        choices=Payment.Method.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(label=_("Receipt / reference"), max_length=120, required=False)

    def __init__(self, *args, order, at_till: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        self.at_till = at_till
        self.lines = [ln for ln in order.lines.all() if ln.collected_quantity]
        for line in self.lines:
            left = line.collected_quantity - line.refunded_quantity
            self.fields[f"refund_{line.sku}"] = forms.IntegerField(
                label=line.name, min_value=0, max_value=left, initial=0, required=False
            )

    def clean(self):
        data = super().clean()
        if self.at_till:
            check_counter_payment(self)
        return data

    def quantities(self) -> dict[str, int] | None:
        """sku → units to refund; None for "refund everything"."""
        if self.cleaned_data.get("everything"):
            return None
        return {line.sku: self.cleaned_data.get(f"refund_{line.sku}") or 0 for line in self.lines}

    def refund_arguments(self) -> dict:
        """What ``services.refund_order`` needs from the form (valid forms only)."""
        data = self.cleaned_data
        return {
            "quantities": self.quantities(),
            "reason": data["reason"],
            "method": data["payment_method"],
            "reference": data["reference"],
            "restock": data["restock"],
        }

    def line_fields(self):
        return [
            (line, line.collected_quantity - line.refunded_quantity, self[f"refund_{line.sku}"])
            for line in self.lines
        ]

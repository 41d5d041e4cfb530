"""The store tablet's forms: scan, status, pickup code, handover, cancel, hold, assisted sale."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from orders.forms import CheckoutForm, check_counter_payment
from orders.models import Handover, Payment


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[("preparing", "preparing"), ("ready", "ready")])


class ExtendHoldForm(forms.Form):
    hours = forms.IntegerField(label=_("Extend by (hours)"), min_value=1, max_value=168, initial=24)


class ScanForm(forms.Form):
    q = forms.CharField(max_length=100, strip=True)


class CodeForm(forms.Form):
    # Long enough for a scanned QR token too (a scanner types into whatever is focused).
    code = forms.CharField(
        label=_("Pickup code"),
        max_length=100,
        error_messages={"required": _("Type the pickup code the customer gives you.")},
    )


class CollectForm(forms.Form):
    """Built per order: one quantity field per line, named ``qty_<sku>``.

    ``counter_pays``: the money is taken at the counter, so how (and a card's receipt) must
    be said; False when the card authorised online is charged. ``check_payment=False`` only
    prices the quantities (the amount to take), whatever is chosen so far.
    """

    payment_method = forms.ChoiceField(
        label=_("Paid by"), choices=Payment.Method.choices, required=False, widget=forms.RadioSelect
    )
    reference = forms.CharField(label=_("Receipt / reference"), max_length=120, required=False)
    collector = forms.ChoiceField(
        label=_("Collected by"),
        choices=Handover.Collector.choices,
        initial=Handover.Collector.CUSTOMER,
        widget=forms.RadioSelect,
    )

    def __init__(
        self, *args, order, counter_pays: bool = True, check_payment: bool = True, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.order = order
        self.counter_pays = counter_pays
        self.check_payment = check_payment
        for line in order.lines.all():
            self.fields[f"qty_{line.sku}"] = forms.IntegerField(
                label=line.name,
                min_value=0,
                max_value=line.quantity,
                initial=line.quantity,
                widget=forms.NumberInput(attrs={"class": "qty"}),
            )
        if not order.pickup_person:
            self.fields["collector"].choices = [Handover.Collector.choices[0]]

    def clean(self):
        data = super().clean()
        if self.check_payment and self.counter_pays:
            check_counter_payment(self)
        return data

    def quantities(self) -> dict[str, int]:
        return {line.sku: self.cleaned_data[f"qty_{line.sku}"] for line in self.order.lines.all()}

    def typed_quantities(self) -> dict[str, int] | None:
        """sku → units as typed so far (every line when unbound), or None while one of them
        is not a possible number."""
        lines = list(self.order.lines.all())
        if not self.is_bound:
            return {line.sku: line.quantity for line in lines}
        names = [f"qty_{line.sku}" for line in lines]
        if any(name in self.errors for name in names):
            return None
        return {line.sku: self.cleaned_data[name] for line, name in zip(lines, names, strict=True)}

    def line_fields(self):
        return [(line, self[f"qty_{line.sku}"]) for line in self.order.lines.all()]


# --- Assisted sale at the tablet --------------------------------------------------------------


class AssistedAddForm(forms.Form):
    """A clerk adds an item to a customer's cart by scanning its barcode or typing its SKU."""

    code = forms.CharField(label=_("SKU or barcode"), max_length=40, strip=True)
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=settings.CART_MAX_LINE_QUANTITY,
        initial=1,
        required=False,
    )

    def clean_quantity(self):
        # A scan alone means one unit.
        quantity = self.cleaned_data["quantity"]
        return 1 if quantity is None else quantity


class HandoffCodeForm(forms.Form):
    code = forms.CharField(label=_("Cart code from the customer's phone"), max_length=16)


class AssistedOrderForm(forms.Form):
    slot = forms.CharField(label=_("Pickup time"), max_length=40)
    order_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    clean_slot = CheckoutForm.clean_slot

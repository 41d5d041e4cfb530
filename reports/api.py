"""The managers' API: sales across channels and stores.

Managers see the stores they manage (a superuser every store); anyone else is refused with 403.
A store they do not manage is a 404, as on the tablet: no store is confirmed to exist.
"""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import UNAUTHENTICATED, error_response
from reports import selectors
from stores.selectors import managed_stores

MAX_DAYS = 366
ISO_DATE = ["%Y-%m-%d"]


class ReportQuerySerializer(serializers.Serializer):
    """``?from=&to=[&store=]``: local days, both included (``from`` is a Python keyword: the
    view reads it as ``start``)."""

    start = serializers.DateField(input_formats=ISO_DATE)
    end = serializers.DateField(input_formats=ISO_DATE)
    store = serializers.CharField(required=False, max_length=16)

    def __init__(self, params, **kwargs):
        super().__init__(data=self.read(params), **kwargs)
        messages = {
            "required": _("Give the range as from=YYYY-MM-DD and to=YYYY-MM-DD."),
            "null": _("Give the range as from=YYYY-MM-DD and to=YYYY-MM-DD."),
            "invalid": _("Write dates as YYYY-MM-DD, e.g. 2026-03-31."),
        }
        for name in ("start", "end"):
            self.fields[name].error_messages.update(messages)

    def read(self, params) -> dict:
        """The serializer's data from the query string."""
        data = {"start": params.get("from"), "end": params.get("to")}
        if params.get("store"):
            data["store"] = params["store"]
        return data

    def validate(self, data):
        start, end = data["start"], data["end"]
        if start > end:
            raise serializers.ValidationError(_("“from” must be on or before “to”."))
        if (end - start).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                _("Choose a range of at most %(days)s days.") % {"days": MAX_DAYS}
            )
        return data


class SalesQuerySerializer(ReportQuerySerializer):
    group_by = serializers.ChoiceField(choices=selectors.SALES_KEYS)

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.fields["group_by"].error_messages.update(
            {
                "required": _("Say how to group the rows: group_by=channel, store or day."),
                "null": _("Say how to group the rows: group_by=channel, store or day."),
                "invalid_choice": _("group_by is one of channel, store or day."),
            }
        )

    def read(self, params) -> dict:
        return {**super().read(params), "group_by": params.get("group_by")}


def report_scope(request, store_code: str | None) -> list:
    """The stores the report covers: the one asked for, else every store the user manages."""
    stores = list(managed_stores(request.user))
    if not stores:
        raise PermissionDenied
    if not store_code:
        return stores
    chosen = [store for store in stores if store.code == store_code]
    if not chosen:
        raise Http404
    return chosen


def _query(serializer_class, request) -> tuple[list, date, date, dict]:
    query = serializer_class(request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return report_scope(request, data.get("store")), data["start"], data["end"], data


RANGE = [
    OpenApiParameter(
        "from", date, required=True, description="First local day (YYYY-MM-DD), included"
    ),
    OpenApiParameter(
        "to",
        date,
        required=True,
        description=f"Last local day (YYYY-MM-DD), included; at most {MAX_DAYS} days in all",
    ),
    OpenApiParameter("store", str, description="One store's code (default: every store)"),
]
REFUSED = {
    400: error_response(
        "invalid: a date missing or not YYYY-MM-DD, from after to, a range over 366 days, "
        "group_by not channel, store or day"
    ),
    401: UNAUTHENTICATED,
    403: error_response("permission_denied: not a manager of any store"),
    404: error_response("not_found: not a store you manage"),
}


class SalesReportView(APIView):
    """Orders collected and revenue (what was taken for them, net of refunds), per channel,
    store or local day of collection, one row per currency."""

    @extend_schema(
        operation_id="reports_sales",
        parameters=[
            *RANGE,
            OpenApiParameter(
                "group_by",
                str,
                required=True,
                enum=list(selectors.SALES_KEYS),
                description=(
                    "channel (web, mobile, store), store (its code) or day (YYYY-MM-DD, the "
                    "store's local day of collection)"
                ),
            ),
        ],
        responses={
            200: inline_serializer(
                "SalesReport",
                {
                    "rows": inline_serializer(
                        "SalesRow",
                        {
                            "key": serializers.CharField(),
                            "orders": serializers.IntegerField(),
                            "revenue": serializers.DecimalField(max_digits=14, decimal_places=2),
                            "currency": serializers.CharField(),
                        },
                        many=True,
                    )
                },
            ),
            **REFUSED,
        },
    )
    def get(self, request):
        stores, start, end, data = _query(SalesQuerySerializer, request)
        rows = selectors.sales_by(data["group_by"], stores=stores, start=start, end=end)
        return Response(
            {
                "rows": [
                    {
                        "key": row.key,
                        "orders": row.orders,
                        "revenue": f"{row.net:.2f}",
                        "currency": row.currency,
                    }
                    for row in rows
                ]
            }
        )

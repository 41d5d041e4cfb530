"""The managers' API: sales across channels and stores, and the click & collect KPIs.

Managers see the stores they manage (a superuser every store); anyone else is refused with 403.
A store they do not manage is a 404, as on the tablet: no store is confirmed to exist.
"""

from datetime import date

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import UNAUTHENTICATED, error_response
from customers.models import Channel
from reports import selectors

MAX_DAYS = 366
ISO_DATE = ["%Y-%m-%d"]


class ReportQuerySerializer(serializers.Serializer):
    """``?from=&to=[&store=]``: local days, both included (``from`` is a Python keyword: the
    view reads it as ``start``)."""

    start = serializers.DateField(input_formats=ISO_DATE)
    end = serializers.DateField(input_formats=ISO_DATE)
    store = serializers.CharField(required=False, max_length=16)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)

    def __init__(self, params, **kwargs):
        super().__init__(data=self.read(params), **kwargs)
        messages = {
            "required": _("Give the range as from=YYYY-MM-DD and to=YYYY-MM-DD."),
            "null": _("Give the range as from=YYYY-MM-DD and to=YYYY-MM-DD."),
            "invalid": _("Write dates as YYYY-MM-DD, e.g. 2026-03-31."),
        }
        for name in ("start", "end"):
            self.fields[name].error_messages.update(messages)
        self.fields["channel"].error_messages["invalid_choice"] = _(
            "channel is one of web, mobile or store."
        )

    def read(self, params) -> dict:
        """The serializer's data from the query string."""
        data = {"start": params.get("from"), "end": params.get("to")}
        for name in ("store", "channel"):
            if params.get(name):
                data[name] = params[name]
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


def _query(serializer_class, request) -> tuple[list, date, date, dict]:
    query = serializer_class(request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    stores, chosen = selectors.managed_scope(request.user, data.get("store", ""))
    return [chosen] if chosen else stores, data["start"], data["end"], data


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
    OpenApiParameter(
        "channel",
        str,
        enum=[value for value, _label in Channel.choices],
        description="Only orders placed through this channel (default: every channel)",
    ),
]
BAD_RANGE = (
    "invalid: a date missing or not YYYY-MM-DD, from after to, a range over 366 days, an "
    "unknown channel"
)
REFUSED = {
    400: error_response(BAD_RANGE),
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
            400: error_response(f"{BAD_RANGE}, group_by not channel, store or day"),
        },
    )
    def get(self, request):
        stores, start, end, data = _query(SalesQuerySerializer, request)
        rows = selectors.sales_by(
            data["group_by"], stores=stores, start=start, end=end, channel=data.get("channel", "")
        )
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


def _spread(spread) -> dict:
    return {"median": spread.median, "p90": spread.p90, "count": spread.count}


def kpi_body(kpis) -> dict:
    """The KPIs as JSON: rates from 0 to 1, durations in minutes (null without data)."""
    return {
        "orders": kpis.orders,
        "ready": kpis.ready,
        "collected": kpis.collected,
        "ready_on_time_rate": kpis.ready_on_time_rate,
        "lead_time_minutes": _spread(kpis.lead_time_minutes),
        "ready_to_collected_minutes": _spread(kpis.ready_to_collected_minutes),
        "counter_wait_minutes": _spread(kpis.counter_wait_minutes),
        "no_show_rate": kpis.no_show_rate,
        "cancellation_rate": kpis.cancellation_rate,
        "cancellations": [
            {"reason": reason, "orders": n} for reason, n in kpis.cancellations.items()
        ],
        "fill_rate": kpis.fill_rate,
        "reminders_per_collected": kpis.reminders_per_collected,
        "nps": {
            "score": kpis.nps.score,
            "answers": kpis.nps.answers,
            "promoters": kpis.nps.promoters,
            "passives": kpis.nps.passives,
            "detractors": kpis.nps.detractors,
        },
    }


SPREAD = inline_serializer(
    "MinutesSpread",
    {
        "median": serializers.FloatField(allow_null=True),
        "p90": serializers.FloatField(allow_null=True),
        "count": serializers.IntegerField(),
    },
)
KPI_FIELDS = {
    "orders": serializers.IntegerField(help_text="Orders placed in the range"),
    "ready": serializers.IntegerField(help_text="Of them, made ready"),
    "collected": serializers.IntegerField(help_text="Of them, collected"),
    "ready_on_time_rate": serializers.FloatField(
        allow_null=True, help_text=str(selectors.KPI_DEFINITIONS["ready_on_time_rate"])
    ),
    "lead_time_minutes": SPREAD,
    "ready_to_collected_minutes": SPREAD,
    "counter_wait_minutes": SPREAD,
    "no_show_rate": serializers.FloatField(
        allow_null=True, help_text=str(selectors.KPI_DEFINITIONS["no_show_rate"])
    ),
    "cancellation_rate": serializers.FloatField(allow_null=True),
    "cancellations": inline_serializer(
        "CancellationReason",
        {"reason": serializers.CharField(), "orders": serializers.IntegerField()},
        many=True,
    ),
    "fill_rate": serializers.FloatField(
        allow_null=True, help_text=str(selectors.KPI_DEFINITIONS["fill_rate"])
    ),
    "reminders_per_collected": serializers.FloatField(allow_null=True),
    "nps": inline_serializer(
        "Nps",
        {
            "score": serializers.IntegerField(allow_null=True),
            "answers": serializers.IntegerField(),
            "promoters": serializers.IntegerField(),
            "passives": serializers.IntegerField(),
            "detractors": serializers.IntegerField(),
        },
    ),
}


class KpiReportView(APIView):
    """Click & collect KPIs of the orders placed on the stores' local days ``from`` to ``to``:
    over all the stores asked for, and per store."""

    @extend_schema(
        operation_id="reports_kpis",
        parameters=RANGE,
        responses={
            200: inline_serializer(
                "KpiReport",
                {
                    "overall": inline_serializer("Kpis", KPI_FIELDS),
                    "stores": inline_serializer(
                        "StoreKpis",
                        {"store": serializers.CharField(), **KPI_FIELDS},
                        many=True,
                    ),
                },
            ),
            **REFUSED,
        },
    )
    def get(self, request):
        stores, start, end, data = _query(ReportQuerySerializer, request)
        overall, by_store = selectors.kpis(
            stores=stores, start=start, end=end, channel=data.get("channel", "")
        )
        return Response(
            {
                "overall": kpi_body(overall),
                "stores": [
                    {"store": store.code, **kpi_body(by_store[store.pk])} for store in stores
                ],
            }
        )

"""Store API: where the stores are, when they open, which pickup slots are free."""

from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import NOT_FOUND, LocalTimeField, error_response
from stores.models import OpeningHours, Store
from stores.selectors import active_stores, slots_on, store_by_code

MAX_DAYS_AHEAD = 60


class OpeningHoursSerializer(serializers.ModelSerializer):
    opens = LocalTimeField()
    closes = LocalTimeField()

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]


class StoreSerializer(serializers.ModelSerializer):
    hours = OpeningHoursSerializer(source="opening_hours", many=True, read_only=True)

    class Meta:
        model = Store
        fields = [
            "code",
            "name",
            "address",
            "city",
            "latitude",
            "longitude",
            "timezone",
            "slot_minutes",
            "slot_capacity",
            "lead_time_minutes",
            "hold_hours",
            "hours",
        ]


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    capacity = serializers.IntegerField()
    remaining = serializers.IntegerField()


class StoreListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = StoreSerializer

    @extend_schema(responses={200: StoreSerializer(many=True), 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return active_stores().order_by("code")


class SlotListView(APIView):
    """Pickup slots of one local day at a store: inside opening hours, after the lead time."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        responses={
            200: SlotSerializer(many=True),
            400: error_response("invalid: not a date, or too far ahead"),
            404: NOT_FOUND,
        },
    )
    def get(self, request, code):
        store = store_by_code(code)
        raw = request.query_params.get("date", "")
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ValidationError({"date": [_("Give a date as YYYY-MM-DD.")]}) from None
        today = timezone.now().astimezone(store.tz).date()
        if day < today - timedelta(days=1):
            raise ValidationError({"date": [_("That day has passed.")]})
        if day > today + timedelta(days=MAX_DAYS_AHEAD):
            raise ValidationError(
                {
                    "date": [
                        _("Pickup slots can be booked up to %(days)d days ahead.")
                        % {"days": MAX_DAYS_AHEAD}
                    ]
                }
            )
        return Response(SlotSerializer(slots_on(store=store, day=day), many=True).data)

"""Customer API: register, per-device tokens, profile and preferences, the timeline."""

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    BAD_INPUT,
    NOT_JSON,
    THROTTLED,
    UNAUTHENTICATED,
    AuthThrottle,
    LocalTimeField,
    PasswordResetThrottle,
    error_response,
    validated,
)
from customers.forms import validate_time_zone
from customers.models import Channel, ContactChannel, Touchpoint, User
from customers.phones import country_for_timezone, normalize_phone
from customers.services import (
    customer_for_user,
    register_customer,
    request_password_reset,
    reset_password,
    send_verification,
    update_customer,
)
from customers.tokens import TokenAuthentication, issue_token
from customers.views import verification_link


class PhoneNumberField(serializers.CharField):
    """A phone number in the API, cleaned to E.164; local numbers are read as the country in
    the serializer context's ``phone_region``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("help_text", 'E.164 is best ("+34612345678"); stored in E.164.')
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return normalize_phone(value, region=self.context.get("phone_region"))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class PreferencesSerializer(serializers.Serializer):
    channels = serializers.ListField(
        source="preferred_channels",
        child=serializers.ChoiceField(choices=ContactChannel.choices),
        max_length=len(ContactChannel.values),
        required=False,
    )
    quiet_hours_start = LocalTimeField(required=False, allow_null=True)
    quiet_hours_end = LocalTimeField(required=False, allow_null=True)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    timezone = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        validators=[validate_time_zone],
        help_text='IANA time zone name, e.g. "Europe/Madrid"; blank means the store\'s.',
    )
    marketing_opt_in = serializers.BooleanField(required=False)


class CustomerSerializer(serializers.Serializer):
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(max_length=150, required=False)
    phone = PhoneNumberField(required=False, allow_blank=True)
    email_verified = serializers.SerializerMethodField()
    preferences = PreferencesSerializer(source="*", required=False)

    def get_email_verified(self, customer) -> bool:
        return customer.email_verified_at is not None


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    name = serializers.CharField(max_length=150)
    phone = PhoneNumberField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        # Checked against the would-be user, as the web sign-up does (not like the email...).
        user = User(email=attrs["email"].strip().lower(), name=attrs["name"])
        try:
            validate_password(attrs["password"], user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=128, trim_whitespace=False)


TokenSerializer = inline_serializer(
    "Token", {"token": serializers.CharField(), "expiry": serializers.DateTimeField()}
)


def _issue_token(request, user) -> dict:
    instance, token = issue_token(user)
    return {"token": token, "expiry": instance.expiry}


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: inline_serializer(
                "Registered",
                {
                    "token": serializers.CharField(),
                    "expiry": serializers.DateTimeField(),
                    "customer": CustomerSerializer(),
                },
            ),
            400: error_response("invalid (per-field errors), email_taken"),
            415: NOT_JSON,
            429: THROTTLED,
        },
    )
    def post(self, request):
        data = validated(RegisterSerializer, request)
        customer = register_customer(
            email=data["email"],
            password=data["password"],
            name=data["name"],
            phone=data["phone"],
            language=request.LANGUAGE_CODE,
            channel=Channel.MOBILE,
        )
        # The link in the email opens the web site (any browser will do).
        send_verification(
            customer=customer, build_url=verification_link(request), channel=Channel.MOBILE
        )
        body = _issue_token(request, customer.user)
        body["customer"] = CustomerSerializer(customer).data
        return Response(body, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    """Log in from one device: a new token for it (other devices keep theirs)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    def get_authenticate_header(self, request):
        # Wrong credentials are a 401 that says which scheme to use, not a 403.
        return "Token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: BAD_INPUT,
            401: error_response("authentication_failed: wrong email or password"),
            415: NOT_JSON,
            429: error_response("throttled, or locked_out after repeated failures"),
        },
    )
    def post(self, request):
        data = validated(TokenRequestSerializer, request)
        user = authenticate(
            request._request,
            # Addresses are stored in lower case; phone keyboards capitalise the first letter.
            username=data["email"].strip().lower(),
            password=data["password"],
        )
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("Wrong email or password."))
        return Response(_issue_token(request, user))


class LogoutView(KnoxLogoutView):
    """Log this device out: its token stops working."""

    authentication_classes = (TokenAuthentication,)

    @extend_schema(request=None, responses={204: None, 401: UNAUTHENTICATED})
    def post(self, request, format=None):
        super().post(request, format=format)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text="The first part of the link's token")
    token = serializers.CharField(max_length=100, help_text="The second part")
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)


DetailSerializer = inline_serializer("Detail", {"detail": serializers.CharField()})


class PasswordResetView(APIView):
    """ "Forgot your password?": email the account a link to choose a new one. The answer is
    202 whether or not the address has an account."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(
        request=PasswordResetRequestSerializer,
        responses={
            202: DetailSerializer,
            400: BAD_INPUT,
            415: NOT_JSON,
            429: error_response(
                "throttled: too many requests from this caller or for this address"
            ),
        },
    )
    def post(self, request):
        data = validated(PasswordResetRequestSerializer, request)
        request_password_reset(
            email=data["email"],
            language=request.LANGUAGE_CODE,
            channel=Channel.MOBILE,
        )
        detail = _(
            "If an account uses this address, we have sent it a link to choose a new password."
        )
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """Choose a new password with the ``uid`` and ``token`` of the emailed link
    (``…/account/password/reset/<uid>/<token>/``). The link then stops working, and every
    token and web session of the account ends: log in again."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={
            200: DetailSerializer,
            400: error_response(
                "invalid, bad_reset_link (not ours, used or expired), weak_password (with "
                "errors.password)"
            ),
            415: NOT_JSON,
            429: THROTTLED,
        },
    )
    def post(self, request):
        data = validated(PasswordResetConfirmSerializer, request)
        reset_password(
            uid=data["uid"],
            token=data["token"],
            password=data["password"],
            channel=Channel.MOBILE,
            ip_address=get_client_ip_address(request._request) or "",
        )
        detail = _("Your new password is saved. Log in with it.")
        return Response({"detail": detail})


class MeView(APIView):
    @extend_schema(responses={200: CustomerSerializer, 401: UNAUTHENTICATED})
    def get(self, request):
        return Response(CustomerSerializer(customer_for_user(user=request.user)).data)

    @extend_schema(
        request=CustomerSerializer,
        responses={
            200: CustomerSerializer,
            400: error_response(
                "invalid (an unknown time zone too), bad_channels, bad_quiet_hours"
            ),
            401: UNAUTHENTICATED,
            415: NOT_JSON,
        },
    )
    def patch(self, request):
        customer = customer_for_user(user=request.user)
        # A local number is read as the country of the customer's time zone, if they set one.
        context = {"phone_region": country_for_timezone(customer.timezone)}
        data = CustomerSerializer(customer, data=request.data, partial=True, context=context)
        data.is_valid(raise_exception=True)
        customer = update_customer(customer=customer, channel=Channel.MOBILE, **data.validated_data)
        return Response(CustomerSerializer(customer).data)


class TouchpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Touchpoint
        fields = ["created_at", "channel", "kind", "payload"]

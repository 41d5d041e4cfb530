"""The account API (DESIGN §8): register, per-device tokens, the profile and the timeline.

Contract tests: status codes and exact bodies, errors as ``{"code", "detail"}``, every refused
request leaves the database as it was, tokens are per device and stored hashed, and every
change made from the phone is recorded with channel ``mobile``.
"""

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import CONSTANTS

from customers.models import Customer, Touchpoint
from tests.support.api_client import token_for
from tests.support.factories import PASSWORD
from tests.support.web_helpers import written

pytest_plugins = ["tests.support.web_fixtures", "tests.support.api_fixtures"]

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
TIMELINE = "/api/v1/me/timeline/"

PASSPHRASE = "copper-kettle-on-the-hill"

DEFAULT_PREFERENCES = {
    "channels": [],
    "quiet_hours_start": None,
    "quiet_hours_end": None,
    "language": "es",
    "marketing_opt_in": False,
    "timezone": "",
}


def state() -> dict:
    """``written()`` plus what these endpoints add: tokens and the stored preferences."""
    return {
        **written(),
        "tokens": sorted(AuthToken.objects.values_list("digest", "user_id")),
        "preferences": sorted(
            Customer.objects.values_list(
                "pk",
                "language",
                "preferred_channels",
                "quiet_hours_start",
                "quiet_hours_end",
                "marketing_opt_in",
                "email_verified_at",
            )
        ),
    }


def post(path, body, token=None, content_type="application/json"):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return Client().post(path, body, content_type=content_type, **headers)


def get(path, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return Client().get(path, **headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def login(customer) -> str:
    response = post(TOKEN, {"email": customer.email, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def profile(customer, **overrides) -> dict:
    body = {
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "email_verified": False,
        "preferences": dict(DEFAULT_PREFERENCES),
    }
    body.update(overrides)
    return body


def assert_expires_in_30_days(expiry: str, before: datetime, after: datetime) -> None:
    moment = datetime.fromisoformat(expiry)
    assert before + timedelta(days=30) <= moment <= after + timedelta(days=30)


# --- POST /api/v1/auth/register/ -------------------------------------------------------------


def test_register_creates_the_account_and_answers_a_working_token(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            REGISTER,
            {
                "email": "Ana.Garcia@Example.test",
                "password": PASSPHRASE,
                "name": "Ana García",
                "phone": "+34600111222",
            },
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"token", "expiry", "customer"}
    assert body["customer"] == {
        "email": "ana.garcia@example.test",
        "name": "Ana García",
        "phone": "+34600111222",
        "email_verified": False,
        "preferences": {**DEFAULT_PREFERENCES, "language": "en"},
    }
    assert_expires_in_30_days(body["expiry"], before, timezone.now())
    me = get(ME, body["token"])
    assert me.status_code == 200
    assert me.json() == body["customer"]
    customer = Customer.objects.select_related("user").get()
    assert customer.user.email == "ana.garcia@example.test"
    assert customer.user.check_password(PASSPHRASE)
    assert list(Touchpoint.objects.values_list("channel", "kind").order_by("pk")) == [
        ("mobile", "account_created"),
        ("mobile", "verification_sent"),
    ]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ana.garcia@example.test"]
    assert mailoutbox[0].subject == "Confirm your email address"
    assert "/account/verify/" in mailoutbox[0].body


def test_register_without_a_phone_stores_none(db):
    response = post(REGISTER, {"email": "leo@example.test", "password": PASSPHRASE, "name": "Leo"})

    assert response.status_code == 201, response.content
    assert response.json()["customer"]["phone"] == ""
    assert Customer.objects.get().phone == ""


@pytest.mark.parametrize("email", ["taken@example.test", "TAKEN@example.TEST"])
def test_register_with_a_taken_email_is_refused_and_writes_nothing(
    db, user_factory, mailoutbox, django_capture_on_commit_callbacks, email
):
    user_factory(email="taken@example.test")
    before = state()

    with django_capture_on_commit_callbacks(execute=True):
        response = post(REGISTER, {"email": email, "password": PASSPHRASE, "name": "Someone"})

    body = assert_error(response, 400, "email_taken")
    assert body["detail"] == "An account with this email already exists."
    assert state() == before
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "password"}, "password"),
        ({"password": "short1"}, "password"),
        ({"password": "31415926535897"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 151}, "name"),
    ],
    ids=[
        "common-password",
        "short-password",
        "numeric-password",
        "bad-email",
        "blank-email",
        "missing-name",
        "blank-name",
        "long-name",
    ],
)
def test_register_with_bad_input_answers_the_field_errors_and_writes_nothing(
    db, mailoutbox, django_capture_on_commit_callbacks, changes, field
):
    data = {"email": "new@example.test", "password": PASSPHRASE, "name": "New", **changes}
    data = {key: value for key, value in data.items() if value is not None}
    before = state()

    with django_capture_on_commit_callbacks(execute=True):
        response = post(REGISTER, data)

    body = assert_error(response, 400, "invalid")
    assert list(body["errors"]) == [field]
    assert body["detail"] == body["errors"][field][0]
    assert state() == before
    assert mailoutbox == []


def test_register_refuses_a_password_that_is_the_email_address_like_the_web_signup(db):
    # Given a password that is the email address itself (long, not common, not numeric)
    data = {"email": "marta.lopez@example.test", "password": "marta.lopez@example.test"}
    before = state()

    # the web signup refuses it (UserAttributeSimilarityValidator) and writes nothing
    web = Client().post("/account/signup/", {**data, "name": "Marta López"})
    assert web.status_code == 400
    assert state() == before

    # When the app registers the same person
    response = post(REGISTER, {**data, "name": "Marta López"})

    # Then the API holds the same password rule
    body = assert_error(response, 400, "invalid")
    assert list(body["errors"]) == ["password"]
    assert state() == before


def test_register_with_a_form_body_is_415_and_writes_nothing(db):
    before = state()

    response = post(
        REGISTER,
        "email=a%40example.test&password=copper-kettle&name=A",
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 415, "unsupported_media_type")
    assert state() == before


# --- POST /api/v1/auth/token/ and /api/v1/auth/logout/ ---------------------------------------


def test_each_login_issues_a_new_device_token_stored_hashed(shopper):
    before = timezone.now()

    phone = post(TOKEN, {"email": shopper.email, "password": PASSWORD})
    tablet = post(TOKEN, {"email": shopper.email, "password": PASSWORD})

    assert phone.status_code == 200, phone.content
    assert tablet.status_code == 200, tablet.content
    assert set(phone.json()) == {"token", "expiry"}
    assert set(tablet.json()) == {"token", "expiry"}
    assert_expires_in_30_days(phone.json()["expiry"], before, timezone.now())
    tokens = [phone.json()["token"], tablet.json()["token"]]
    assert tokens[0] != tokens[1]
    for token in tokens:
        me = get(ME, token)
        assert me.status_code == 200
        assert me.json()["email"] == shopper.email
    digests = list(AuthToken.objects.filter(user=shopper.user).values_list("digest", flat=True))
    assert len(digests) == 2
    assert all(token not in digest for token in tokens for digest in digests)


def test_login_email_is_case_insensitive_like_registration_and_the_web_login(db):
    # Given an account registered from the app as "Ana.Garcia@Example.test" (stored lower case)
    registered = post(
        REGISTER, {"email": "Ana.Garcia@Example.test", "password": PASSPHRASE, "name": "Ana"}
    )
    assert registered.status_code == 201, registered.content
    # and the web login accepts the address as typed at sign-up
    web = Client().post(
        "/account/login/", {"username": "Ana.Garcia@Example.test", "password": PASSPHRASE}
    )
    assert web.status_code == 302

    # When a second device logs in with the address typed the same way
    response = post(TOKEN, {"email": "Ana.Garcia@Example.test", "password": PASSPHRASE})

    # Then it gets its token
    assert response.status_code == 200, response.content
    assert get(ME, response.json()["token"]).json()["email"] == "ana.garcia@example.test"


@pytest.mark.parametrize(
    "credentials",
    [{"password": "not-the-password"}, {"email": "nobody@example.test"}],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_are_401_with_the_token_scheme_and_issue_nothing(shopper, credentials):
    before = state()

    response = post(TOKEN, {"email": shopper.email, "password": PASSWORD, **credentials})

    body = assert_error(response, 401, "authentication_failed")
    assert body["detail"] == "Wrong email or password."
    assert response["WWW-Authenticate"] == "Token"
    assert state() == before


def test_token_request_without_a_password_is_invalid(shopper):
    before = state()

    response = post(TOKEN, {"email": shopper.email})

    body = assert_error(response, 400, "invalid")
    assert body["errors"] == {"password": ["This field is required."]}
    assert state() == before


def test_logout_ends_only_this_devices_token(shopper):
    phone, tablet = login(shopper), login(shopper)

    response = post(LOGOUT, None, token=phone)

    assert response.status_code == 204
    assert response.content == b""
    gone = get(ME, phone)
    assert_error(gone, 401, "authentication_failed")
    assert gone["WWW-Authenticate"] == "Token"
    assert get(ME, tablet).status_code == 200
    assert AuthToken.objects.filter(user=shopper.user).count() == 1


def test_logout_without_a_token_is_401(shopper):
    login(shopper)
    before = state()

    response = post(LOGOUT, None)

    assert_error(response, 401, "not_authenticated")
    assert state() == before


def test_an_expired_token_is_refused(shopper):
    token = login(shopper)
    AuthToken.objects.filter(user=shopper.user).update(expiry=timezone.now() - timedelta(seconds=1))

    response = get(ME, token)

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"


# --- GET, PATCH /api/v1/me/ ------------------------------------------------------------------


def test_me_shows_the_profile_and_preferences(shopper, shopper_api):
    shopper.phone = "+34600999888"
    shopper.preferred_channels = ["whatsapp"]
    shopper.quiet_hours_start = time(21, 30)
    shopper.quiet_hours_end = time(7, 0)
    shopper.save()

    response = shopper_api.get(ME)

    assert response.status_code == 200
    assert response.json() == profile(
        shopper,
        phone="+34600999888",
        preferences={
            **DEFAULT_PREFERENCES,
            "channels": ["whatsapp"],
            "quiet_hours_start": "21:30",
            "quiet_hours_end": "07:00",
        },
    )


@pytest.mark.parametrize("method", ["get", "patch"])
def test_me_without_a_token_is_401(shopper, anonymous_api, method):
    before = state()

    response = getattr(anonymous_api, method)(ME)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert state() == before


def test_patch_preferences_round_trips_and_records_the_change(shopper, shopper_api):
    preferences = {
        "channels": ["sms", "email"],
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "08:00",
        "language": "en",
        "marketing_opt_in": True,
        "timezone": "America/Mexico_City",
    }

    response = shopper_api.patch(ME, {"preferences": preferences})

    assert response.status_code == 200, response.content
    assert response.json() == profile(shopper, preferences=preferences)
    assert shopper_api.get(ME).json() == profile(shopper, preferences=preferences)
    shopper.refresh_from_db()
    assert shopper.preferred_channels == ["sms", "email"]
    assert (shopper.quiet_hours_start, shopper.quiet_hours_end) == (time(22, 0), time(8, 0))
    assert shopper.language == "en"
    assert shopper.marketing_opt_in is True
    (touchpoint,) = Touchpoint.objects.filter(customer=shopper)
    assert (touchpoint.channel, touchpoint.kind) == ("mobile", "profile_changed")
    assert touchpoint.payload == {
        "fields": [
            "preferred_channels",
            "quiet_hours_start",
            "quiet_hours_end",
            "language",
            "timezone",
            "marketing_opt_in",
        ]
    }


def test_patch_name_and_phone_records_only_what_changed(shopper, shopper_api):
    response = shopper_api.patch(ME, {"name": "Ana María", "phone": shopper.phone})

    assert response.status_code == 200, response.content
    assert response.json() == profile(shopper, name="Ana María")
    (touchpoint,) = Touchpoint.objects.filter(customer=shopper)
    assert (touchpoint.channel, touchpoint.kind) == ("mobile", "profile_changed")
    assert touchpoint.payload == {"fields": ["name"]}


def test_patch_that_changes_nothing_records_nothing(shopper, shopper_api):
    before = state()

    response = shopper_api.patch(
        ME, {"name": shopper.name, "preferences": {"language": "es", "channels": []}}
    )

    assert response.status_code == 200, response.content
    assert response.json() == profile(shopper)
    assert state() == before


def test_patch_cannot_change_the_email(shopper, shopper_api):
    before = state()

    response = shopper_api.patch(ME, {"email": "someone.else@example.test"})

    assert response.status_code == 200, response.content
    assert response.json()["email"] == shopper.email
    assert state() == before


def test_clearing_both_quiet_hours_is_allowed(shopper, shopper_api):
    shopper.quiet_hours_start, shopper.quiet_hours_end = time(22, 0), time(8, 0)
    shopper.save()

    response = shopper_api.patch(
        ME, {"preferences": {"quiet_hours_start": None, "quiet_hours_end": None}}
    )

    assert response.status_code == 200, response.content
    assert response.json()["preferences"] == DEFAULT_PREFERENCES
    shopper.refresh_from_db()
    assert (shopper.quiet_hours_start, shopper.quiet_hours_end) == (None, None)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"preferences": {"channels": ["fax"]}}, "invalid", "preferences"),
        ({"preferences": {"channels": ["sms", "sms"]}}, "bad_channels", None),
        ({"preferences": {"channels": "sms"}}, "invalid", "preferences"),
        ({"preferences": {"quiet_hours_start": "22:00"}}, "bad_quiet_hours", None),
        ({"preferences": {"quiet_hours_end": "08:00"}}, "bad_quiet_hours", None),
        (
            {"preferences": {"quiet_hours_start": "25:00", "quiet_hours_end": "08:00"}},
            "invalid",
            "preferences",
        ),
        ({"preferences": {"language": "fr"}}, "invalid", "preferences"),
        ({"preferences": {"marketing_opt_in": "perhaps"}}, "invalid", "preferences"),
        ({"name": "x" * 151}, "invalid", "name"),
        ({"phone": "6" * 33}, "invalid", "phone"),
    ],
    ids=[
        "unknown-channel",
        "duplicate-channel",
        "channels-not-a-list",
        "only-quiet-start",
        "only-quiet-end",
        "bad-time",
        "unknown-language",
        "not-a-boolean",
        "long-name",
        "long-phone",
    ],
)
def test_patch_with_bad_input_is_refused_and_writes_nothing(
    shopper, shopper_api, body, code, field
):
    before = state()

    response = shopper_api.patch(ME, body)

    answer = assert_error(response, 400, code)
    if field is None:
        assert "errors" not in answer
    else:
        assert list(answer["errors"]) == [field]
    assert state() == before


def test_refused_patch_leaves_the_other_fields_of_the_request_unapplied(shopper, shopper_api):
    before = state()

    response = shopper_api.patch(
        ME, {"name": "Changed", "preferences": {"channels": ["email", "email"]}}
    )

    assert_error(response, 400, "bad_channels")
    assert state() == before
    assert shopper_api.get(ME).json() == profile(shopper)


def test_patch_with_a_form_body_is_415_and_writes_nothing(shopper, shopper_api):
    before = state()

    response = shopper_api.patch(
        ME, "name=Changed", content_type="application/x-www-form-urlencoded"
    )

    assert_error(response, 415, "unsupported_media_type")
    assert state() == before


# --- GET /api/v1/me/timeline/ ----------------------------------------------------------------


def test_timeline_shows_the_profile_change_newest_first(shopper, shopper_api):
    shopper_api.patch(ME, {"name": "First"})
    shopper_api.patch(ME, {"preferences": {"marketing_opt_in": True}})

    response = shopper_api.get(TIMELINE)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert [(row["channel"], row["kind"], row["payload"]) for row in body["results"]] == [
        ("mobile", "profile_changed", {"fields": ["marketing_opt_in"]}),
        ("mobile", "profile_changed", {"fields": ["name"]}),
    ]
    stored = list(Touchpoint.objects.filter(customer=shopper).order_by("-created_at", "-pk"))
    assert [datetime.fromisoformat(row["created_at"]) for row in body["results"]] == [
        t.created_at for t in stored
    ]
    assert set(body["results"][0]) == {"created_at", "channel", "kind", "payload"}


def test_timeline_is_paginated_newest_first(shopper, shopper_api):
    shopper_api.patch(ME, {"name": "Ana María"})
    shopper_api.patch(ME, {"phone": "+34611222333"})
    shopper_api.patch(ME, {"preferences": {"marketing_opt_in": True}})

    first = shopper_api.get(f"{TIMELINE}?page_size=2")
    second = shopper_api.get(f"{TIMELINE}?page=2&page_size=2")

    assert first.status_code == second.status_code == 200
    first, second = first.json(), second.json()
    assert (first["count"], first["previous"]) == (3, None)
    assert first["next"] == f"http://testserver{TIMELINE}?page=2&page_size=2"
    assert (second["count"], second["next"]) == (3, None)
    assert second["previous"] == f"http://testserver{TIMELINE}?page_size=2"
    assert [row["payload"] for row in first["results"] + second["results"]] == [
        {"fields": ["marketing_opt_in"]},
        {"fields": ["phone"]},
        {"fields": ["name"]},
    ]


def test_timeline_shows_only_the_callers_touchpoints(shopper, shopper_api, other_api):
    other_api.patch(ME, {"name": "Someone Else"})

    response = shopper_api.get(TIMELINE)

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_timeline_without_a_token_is_401(shopper, anonymous_api):
    response = anonymous_api.get(TIMELINE)

    assert_error(response, 401, "not_authenticated")


def test_a_token_is_checked_with_one_query_whatever_else_the_user_holds(shopper):
    # given a user with 20 devices logged in, two of them long expired
    tokens = [token_for(shopper.user) for _ in range(20)]
    expired = [token[: CONSTANTS.TOKEN_KEY_LENGTH] for token in tokens[:2]]
    AuthToken.objects.filter(token_key__in=expired).update(
        expiry=timezone.now() - timedelta(days=1)
    )

    # when the newest device calls the API
    with CaptureQueriesContext(connection) as queries:
        response = get(ME, tokens[-1])

    # then one query found its token (and the user and customer record), nothing else
    assert response.status_code == 200
    tokens_read = [q["sql"] for q in queries.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(tokens_read) == 1
    assert '"token_key" =' in tokens_read[0]
    assert "customers_customer" in tokens_read[0]
    # and the expired ones still refuse, and are gone once the user logs in again
    assert get(ME, tokens[0]).status_code == 401
    assert AuthToken.objects.filter(user=shopper.user).count() == 19
    login(shopper)
    assert AuthToken.objects.filter(user=shopper.user).count() == 19
    assert not AuthToken.objects.filter(expiry__lt=timezone.now()).exists()

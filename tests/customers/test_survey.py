"""The NPS survey page: the link in the after-collection message opens it without a login; one
answer per order, recorded with a touchpoint; bad links, second answers and bad scores are
refused with nothing written."""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from customers.models import Notification, NpsAnswer, Touchpoint
from customers.services import nps_token
from orders.services import mark_preparing, mark_ready
from tests.support.web_helpers import collect_in_full, inputs_named, place_at, written

pytest_plugins = ["tests.support.web_fixtures"]

QUESTION = "How likely are you to recommend us to a friend?"


@pytest.fixture
def collected(shop, clerk, shopper):
    # The page follows the customer's language; these tests read it in English.
    shopper.language = "en"
    shopper.save(update_fields=["language"])
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    mark_preparing(order=order, user=clerk)
    mark_ready(order=order, user=clerk)
    collect_in_full(order, clerk)
    return order


@pytest.fixture
def survey_path(collected):
    """The path of the link the NPS message carries."""
    note = Notification.objects.get(order_number=collected.number, kind="nps_survey")
    return urlsplit(note.context["survey_url"]).path


def nothing_answered():
    return {**written(), "answers": NpsAnswer.objects.count()}


def test_the_link_opens_the_question_without_login(client, survey_path, collected):
    response = client.get(survey_path)

    assert response.status_code == 200
    html = response.content.decode()
    assert QUESTION in html
    assert collected.number in html
    assert [i["value"] for i in inputs_named(html, "score")] == [str(n) for n in range(11)]
    assert all(i["type"] == "radio" for i in inputs_named(html, "score"))
    assert 'name="comment"' in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_path_is_the_one_the_message_links_to(survey_path, collected):
    assert survey_path == f"/survey/{nps_token(order_number=collected.number)}/"


def test_an_answer_is_recorded_with_a_touchpoint(client, survey_path, collected, shopper):
    response = client.post(survey_path, {"score": "9", "comment": "  Quick and friendly.  "})

    assert response.status_code == 200
    assert "Thank you!" in response.content.decode()
    answer = NpsAnswer.objects.get()
    assert (answer.customer, answer.order_number, answer.score, answer.comment) == (
        shopper,
        collected.number,
        9,
        "Quick and friendly.",
    )
    touchpoint = Touchpoint.objects.get(customer=shopper, kind="nps_answered")
    assert touchpoint.channel == "web"
    assert touchpoint.payload == {
        "order": collected.number,
        "score": 9,
        "comment": "Quick and friendly.",
    }


def test_zero_without_a_comment_is_an_answer(client, survey_path):
    response = client.post(survey_path, {"score": "0"})

    assert response.status_code == 200
    assert NpsAnswer.objects.get().score == 0
    assert NpsAnswer.objects.get().comment == ""


def test_a_second_answer_is_refused(client, survey_path):
    client.post(survey_path, {"score": "9"})
    before = nothing_answered()

    again = client.post(survey_path, {"score": "2"})
    page = client.get(survey_path)

    assert again.status_code == 409
    assert "Already answered" in again.content.decode()
    assert "this survey was already answered" in again.content.decode()
    assert page.status_code == 409
    assert QUESTION not in page.content.decode()
    assert nothing_answered() == before
    assert NpsAnswer.objects.get().score == 9


def test_a_tampered_link_is_not_found(client, survey_path):
    before = nothing_answered()
    tampered = survey_path[:-3] + ("A" if survey_path[-3] != "A" else "B") + "x/"

    shown = client.get(tampered)
    posted = client.post(tampered, {"score": "10"})

    for response in (shown, posted):
        assert response.status_code == 404
        html = response.content.decode()
        assert "This survey link is not valid or has expired." in html
        assert QUESTION not in html
    assert nothing_answered() == before


def test_a_link_for_an_order_never_surveyed_is_not_found(client, shop):
    order = place_at(shop.store, (shop.lamp, 1))

    response = client.get(f"/survey/{nps_token(order_number=order.number)}/")

    assert response.status_code == 404
    assert "This survey link is not valid or has expired." in response.content.decode()


@pytest.mark.parametrize("score", ["11", "-1", "ten", "", "9.5"])
def test_a_bad_score_is_refused_with_nothing_written(client, survey_path, score):
    before = nothing_answered()

    response = client.post(survey_path, {"score": score, "comment": "Hi"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a score from 0 to 10." in html
    assert QUESTION in html
    assert nothing_answered() == before


def test_a_missing_score_is_refused_with_nothing_written(client, survey_path):
    before = nothing_answered()

    response = client.post(survey_path, {"comment": "No score"})

    assert response.status_code == 400
    assert "Choose a score from 0 to 10." in response.content.decode()
    assert nothing_answered() == before


def test_the_form_is_csrf_protected(survey_path):
    browser = Client(enforce_csrf_checks=True)
    form = browser.get(survey_path)
    token = inputs_named(form.content, "csrfmiddlewaretoken")[0]["value"]

    forged = browser.post(survey_path, {"score": "10"})
    assert forged.status_code == 403
    assert NpsAnswer.objects.count() == 0

    sent = browser.post(survey_path, {"score": "10", "csrfmiddlewaretoken": token})
    assert sent.status_code == 200
    assert NpsAnswer.objects.get().score == 10


def test_the_page_speaks_the_customers_language(client, survey_path, shopper):
    shopper.language = "es"
    shopper.save(update_fields=["language"])

    chosen_by_customer = client.get(survey_path)
    client.cookies["django_language"] = "en"
    chosen_on_the_site = client.get(survey_path)

    assert '<html lang="es">' in chosen_by_customer.content.decode()
    assert '<html lang="en">' in chosen_on_the_site.content.decode()

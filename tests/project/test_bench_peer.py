"""The pure pieces of the side-by-side bench (bench/peer.py): reading a page's forms as a
browser would send them, and the interleaved medians. No server, no timing."""

from bench import db
from bench.browser import Form, find_form, parse_forms
from bench.peer import database_names
from bench.processes import redis_db, redis_number

PAGE = """
<form method="get" action="/search/"><input name="q" value=""></form>
<form id="checkout-form" method="post" action="/checkout/">
  <input type="hidden" name="csrfmiddlewaretoken" value="tok&amp;en">
  <input type="hidden" name="store" value="MAD-01">
  <input type="radio" name="slot" value="2030-01-07T10:00:00+01:00" disabled required>
  <input type="radio" name="slot" value="2030-01-07T10:30:00+01:00" required>
  <input type='radio' name='slot' value='2030-01-07T11:00:00+01:00' required>
  <input type="radio" name="payment" value="in_store" checked>
  <input type="radio" name="payment" value="online">
  <input type="checkbox" name="remember" value="yes">
  <input type="email" name="email" value="locked@example.com" disabled>
  <input name="name" value="">
  <select name="country"><option value="ES">Spain</option>
    <option value="FR" selected>France</option></select>
  <textarea name="notes">Ring &amp; wait</textarea>
  <button type="submit" name="go">Place order</button>
</form>
"""


def test_a_form_sends_what_a_browser_would():
    form = find_form(PAGE, lambda f: f.attrs.get("id") == "checkout-form", "checkout")

    assert form.method == "post"
    assert form.action == "/checkout/"
    assert form.fields == [
        ("csrfmiddlewaretoken", "tok&en"),
        ("store", "MAD-01"),
        ("payment", "in_store"),
        ("name", ""),
        ("country", "FR"),
        ("notes", "Ring & wait"),
    ]
    # A disabled choice is not on offer; unchecked ones are, without being sent.
    assert form.radios == {
        "slot": ["2030-01-07T10:30:00+01:00", "2030-01-07T11:00:00+01:00"],
        "payment": ["in_store", "online"],
    }


def test_overrides_replace_fields_by_name_and_add_new_ones():
    form = Form(action="", method="post", attrs={}, fields=[("a", "1"), ("b", "2")])

    assert form.data(b="3", c="4") == [("a", "1"), ("b", "3"), ("c", "4")]


def test_every_form_of_the_page_is_read():
    assert [(f.method, f.action) for f in parse_forms(PAGE)] == [
        ("get", "/search/"),
        ("post", "/checkout/"),
    ]


def test_connection_strings_for_the_parts_own_databases():
    dsn = "host=127.0.0.1 port=5433 user=bench password=pw dbname=omni_bench"

    assert db.url_of(db.conninfo("omni_bench_peer", dsn)) == (
        "postgres://bench:pw@127.0.0.1:5433/omni_bench_peer"
    )
    assert database_names(dsn) == ("oscar_bench", "omni_bench_peer")
    assert database_names(db.conninfo("omni_bench_bf", dsn)) == (
        "oscar_bench_bf",
        "omni_bench_bf_peer",
    )
    assert redis_db("redis://127.0.0.1:6379/9", 13) == "redis://127.0.0.1:6379/13"
    assert redis_db("redis://127.0.0.1:6379", 13) == "redis://127.0.0.1:6379/13"
    assert redis_number("redis://127.0.0.1:6379/13") + 2 == 15

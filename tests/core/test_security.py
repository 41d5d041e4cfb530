"""Security from day one: headers and CSP, no inline script anywhere, CSRF, login lockout,
unguessable order numbers and pickup tokens, and orders visible only to whom they belong."""

import json
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from orders.models import CODE_ALPHABET, Order
from orders.services import mark_preparing, mark_ready
from shop.models import Cart
from stores.models import StockLevel
from tests.support.factories import PASSWORD, StaffMembershipFactory
from tests.support.web_helpers import (
    add_to_cart,
    checkout,
    collect_in_full,
    place_at,
    tags,
    text,
    written,
)

pytest_plugins = ["tests.support.web_fixtures"]  # the shop and shopper fixtures

# --- Headers -------------------------------------------------------------------------------


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_pages_carry_the_security_headers(shop):
    for path in ["/", "/p/brass-desk-lamp/", "/account/login/", "/p/no-such-product/"]:
        response = Client().get(path)

        csp = _csp(response)
        assert csp["script-src"] == ["'self'"], path
        assert csp["style-src"] == ["'self'"], path
        assert csp["default-src"] == ["'self'"], path
        assert csp["object-src"] == ["'none'"], path
        assert csp["frame-ancestors"] == ["'none'"], path
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], path
        assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", path


def test_https_responses_carry_hsts_and_secure_cookies(shop, shopper):
    client = Client()

    page = client.get("/account/login/", secure=True)
    login = client.post(
        "/account/login/", {"username": shopper.email, "password": PASSWORD}, secure=True
    )

    assert page.headers["Strict-Transport-Security"] == (
        f"max-age={settings.SECURE_HSTS_SECONDS}; includeSubDomains; preload"
    )
    assert login.status_code == 302
    session_cookie = login.cookies[settings.SESSION_COOKIE_NAME]
    assert session_cookie["secure"] is True
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"
    assert page.cookies[settings.CSRF_COOKIE_NAME]["secure"] is True


# --- No inline script, style or handler in any page ----------------------------------------


def _inline_problems(name: str, html: bytes) -> list[str]:
    problems = []
    for tag in tags(html):
        attrs = tag.attrs
        if tag.name == "script":
            if not attrs.get("src"):
                problems.append(f"{name}: <script> without src")
            if tag.text.strip():
                problems.append(f"{name}: <script> with inline code")
        if tag.name == "style":
            problems.append(f"{name}: <style> element")
        for attr, value in attrs.items():
            if attr.startswith("on") or attr.startswith("hx-on"):
                problems.append(f"{name}: <{tag.name} {attr}=…>")
            if attr == "style":
                problems.append(f"{name}: <{tag.name} style=…>")
            if attr in {"href", "src", "action"} and value.strip().lower().startswith(
                "javascript:"
            ):
                problems.append(f"{name}: javascript: URL in <{tag.name} {attr}>")
        url = (
            attrs.get("src")
            if tag.name == "script"
            else attrs.get("href")
            if tag.name == "link"
            else None
        )
        if (
            url
            and re.match(r"^(https?:)?//", url)
            and not re.match(r"^(https?:)?//testserver/", url)
        ):
            problems.append(f"{name}: <{tag.name}> loads {url} from another host")
    return problems


def test_no_page_of_the_shop_or_tablet_has_inline_script_style_or_handlers(shop, clerk, manager):
    store = shop.store
    StaffMembershipFactory(user=manager, store=shop.other, role="manager")
    pages: list[tuple[str, object]] = []

    browser = Client()
    pages.append(("catalogue", browser.get("/")))
    pages.append(
        (
            "catalogue grid",
            browser.get("/?q=lamp", headers={"HX-Request": "true", "HX-Target": "product-grid"}),
        )
    )
    pages.append(("product", browser.get("/p/brass-desk-lamp/")))
    pages.append(
        (
            "variant panel",
            browser.get(
                "/p/brass-desk-lamp/", headers={"HX-Request": "true", "HX-Target": "variant-panel"}
            ),
        )
    )
    pages.append(("empty cart", browser.get("/cart/")))
    pages.append(
        (
            "added",
            browser.post(
                "/cart/add/", {"sku": "LAMP-01", "quantity": 2}, headers={"HX-Request": "true"}
            ),
        )
    )
    add_to_cart(browser, shop.mug, 1)
    pages.append(("cart", browser.get("/cart/")))
    pages.append(("checkout", browser.get(f"/checkout/?store={store.code}")))
    pages.append(
        (
            "slot list",
            browser.get(
                f"/checkout/?store={store.code}",
                headers={"HX-Request": "true", "HX-Target": "slot-list"},
            ),
        )
    )
    pages.append(
        ("checkout errors", browser.post("/checkout/", {"store": store.code, "slot": "soon"}))
    )
    pages.append(("error 400", browser.post("/cart/add/", {"sku": "NOPE", "quantity": 1})))
    pages.append(("error 404", browser.get("/p/nope/")))
    pages.append(
        (
            "csrf 403",
            Client(enforce_csrf_checks=True).post("/cart/add/", {"sku": "LAMP-01", "quantity": 1}),
        )
    )
    order = checkout(browser, store)
    number = order["Location"].split("/")[2]
    pages.append(("order", browser.get(f"/orders/{number}/")))
    pages.append(("login", Client().get("/account/login/")))
    pages.append(
        (
            "login errors",
            Client().post("/account/login/", {"username": "x@example.test", "password": "no"}),
        )
    )
    pages.append(("signup", Client().get("/account/signup/")))
    pages.append(("signup errors", Client().post("/account/signup/", {"email": "bad"})))

    customer = Client()
    customer.force_login(manager)
    pages.append(("account", customer.get("/account/")))
    pages.append(("tablet home", customer.get("/store/")))

    tablet = Client()
    tablet.force_login(clerk)
    pages.append(("tablet queue", tablet.get(f"/store/{store.code}/")))
    pages.append(
        ("tablet board", tablet.get(f"/store/{store.code}/", headers={"HX-Request": "true"}))
    )
    pages.append(
        ("tablet scan error", tablet.post(f"/store/{store.code}/scan/", {"q": "WRONGCOD"}))
    )
    placed = Order.objects.get(number=number)
    pages.append(("tablet order placed", tablet.get(f"/store/{store.code}/orders/{number}/")))
    pages.append(
        (
            "tablet 409",
            tablet.post(f"/store/{store.code}/orders/{number}/status/", {"status": "ready"}),
        )
    )
    mark_preparing(order=placed, user=clerk)
    mark_ready(order=placed, user=clerk)
    pages.append(("tablet order ready", tablet.get(f"/store/{store.code}/orders/{number}/")))
    pages.append(
        (
            "tablet wrong code",
            tablet.post(f"/store/{store.code}/orders/{number}/verify/", {"code": "WRONGCOD"}),
        )
    )
    tablet.post(f"/store/{store.code}/scan/", {"q": placed.pickup_token})
    pages.append(("tablet collect", tablet.get(f"/store/{store.code}/orders/{number}/")))
    collect_in_full(placed, clerk)
    pages.append(("tablet collected", tablet.get(f"/store/{store.code}/orders/{number}/")))
    pages.append(
        (
            "tablet second scan",
            tablet.post(f"/store/{store.code}/scan/", {"q": placed.pickup_token}),
        )
    )
    pages.append(("order collected", browser.get(f"/orders/{number}/")))

    statuses = {name: r.status_code for name, r in pages}
    assert statuses == {
        **dict.fromkeys(statuses, 200),
        "checkout errors": 400,
        "error 400": 400,
        "error 404": 404,
        "csrf 403": 403,
        "signup errors": 400,
        "tablet scan error": 404,
        "tablet 409": 409,
        "tablet wrong code": 400,
        "tablet second scan": 409,
    }
    assert all(r["Content-Type"].startswith("text/html") for _, r in pages)
    problems = [p for name, response in pages for p in _inline_problems(name, response.content)]
    assert problems == []
    # The pages do load our own scripts: the check above had something to look at.
    scripts = {
        name: [t.attrs["src"] for t in tags(response.content) if t.name == "script"]
        for name, response in pages
    }
    assert scripts["catalogue"] == ["/static/django_htmx/htmx-2.min.js"]
    assert scripts["tablet queue"] == [
        "/static/django_htmx/htmx-2.min.js",
        "/static/counter/tablet.js",
    ]


def test_the_inline_check_catches_what_it_should():
    html = (
        b'<script>alert(1)</script><a onclick="x()" href="javascript:x()">a</a>'
        b'<p style="color:red">p</p><script src="https://cdn.example/x.js"></script>'
        b'<link rel="stylesheet" href="//cdn.example/x.css"><div hx-on:click="x()"></div>'
    )

    problems = _inline_problems("sample", html)

    assert problems == [
        "sample: <script> without src",
        "sample: <script> with inline code",
        "sample: <a onclick=…>",
        "sample: javascript: URL in <a href>",
        "sample: <p style=…>",
        "sample: <script> loads https://cdn.example/x.js from another host",
        "sample: <link> loads //cdn.example/x.css from another host",
        "sample: <div hx-on:click=…>",
    ]


# --- CSRF ----------------------------------------------------------------------------------


def test_a_post_without_csrf_token_is_refused_and_writes_nothing(shop):
    client = Client(enforce_csrf_checks=True)
    client.get("/p/brass-desk-lamp/")
    before = written()

    response = client.post("/cart/add/", {"sku": "LAMP-01", "quantity": 1})
    htmx = client.post(
        "/cart/add/", {"sku": "LAMP-01", "quantity": 1}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 403
    assert "Your session expired or the form was sent twice." in text(response)
    assert htmx.status_code == 403
    assert written() == before


def test_form_and_htmx_posts_with_the_pages_token_are_accepted(shop):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/p/brass-desk-lamp/")
    form_token = next(
        t.attrs["value"] for t in tags(page.content) if t.attrs.get("name") == "csrfmiddlewaretoken"
    )
    body = next(t for t in tags(page.content) if t.name == "body")
    header_token = json.loads(body.attrs["hx-headers"])["X-CSRFToken"]

    form = client.post(
        "/cart/add/", {"sku": "LAMP-01", "quantity": 1, "csrfmiddlewaretoken": form_token}
    )
    htmx = client.post(
        "/cart/add/",
        {"sku": "LAMP-01", "quantity": 1},
        headers={"HX-Request": "true", "X-CSRFToken": header_token},
    )

    assert form.status_code == 302
    assert htmx.status_code == 200
    assert Cart.objects.get().lines.get().quantity == 2


def test_tablet_posts_need_the_csrf_token_too(shop, clerk):
    order = place_at(shop.store, (shop.lamp, 1))
    tablet = Client(enforce_csrf_checks=True)
    tablet.force_login(clerk)
    before = written()

    response = tablet.post(
        f"/store/{shop.store.code}/orders/{order.number}/cancel/", {"reason": "forged"}
    )

    assert response.status_code == 403
    assert written() == before


# --- Login throttling ----------------------------------------------------------------------


def test_wrong_passwords_up_to_the_limit_lock_the_login_even_for_the_right_password(shop, shopper):
    browser = Client()
    limit = settings.AXES_FAILURE_LIMIT
    assert limit > 1  # room for the tries that only count
    statuses = [
        browser.post(
            "/account/login/", {"username": shopper.email, "password": f"wrong-{i}"}
        ).status_code
        for i in range(limit)
    ]

    locked = browser.post("/account/login/", {"username": shopper.email, "password": PASSWORD})

    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[-1] == 429
    assert locked.status_code == 429
    assert "This account is locked for 15 minutes after too many failed log-ins." in text(locked)
    assert SESSION_KEY not in browser.session
    # Another browser (same address in the test client) is locked out for this email too.
    other = Client().post("/account/login/", {"username": shopper.email, "password": PASSWORD})
    assert other.status_code == 429
    assert SESSION_KEY not in Client().session


def test_a_successful_login_resets_the_failure_count(shop, shopper):
    browser = Client()
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        browser.post("/account/login/", {"username": shopper.email, "password": f"wrong-{i}"})
    assert (
        browser.post(
            "/account/login/", {"username": shopper.email, "password": PASSWORD}
        ).status_code
        == 302
    )
    browser.post("/account/logout/")

    again = browser.post("/account/login/", {"username": shopper.email, "password": "wrong-again"})

    assert again.status_code == 200


# --- Unguessable numbers and tokens --------------------------------------------------------


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_order_numbers_and_pickup_tokens_are_random(shop):
    StockLevel.objects.filter(store=shop.store, variant=shop.lamp).update(on_hand=100)
    orders = [place_at(shop.store, (shop.lamp, 1), slot_index=1 + i // 5) for i in range(50)]
    numbers = [o.number for o in orders]
    tokens = [o.pickup_token for o in orders]

    assert all(re.fullmatch(rf"CC-[{CODE_ALPHABET}]{{8}}", n) for n in numbers)
    assert len(set(numbers)) == 50
    assert numbers != sorted(numbers)
    assert numbers != sorted(numbers, reverse=True)
    # Neighbours in time look nothing alike: 4 shared leading characters happen by chance in
    # about 1 run in 19,000 (49 pairs / 31**4).
    assert (
        max(_common_prefix(a[3:], b[3:]) for a, b in zip(numbers, numbers[1:], strict=False)) <= 3
    )
    assert len({n[3] for n in numbers}) >= 10
    assert len(set(tokens)) == 50
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, URL-safe base64
    assert all(o.pickup_token not in (o.number, o.pickup_code) for o in orders)
    assert all(re.fullmatch(rf"[{CODE_ALPHABET}]{{8}}", o.pickup_code) for o in orders)


# --- Orders are visible only to whom they belong ------------------------------------------


def test_a_customer_cannot_see_another_customers_order_or_qr(shop, shopper):
    order = place_at(shop.store, (shop.lamp, 1), customer=shopper)
    owner = Client()
    owner.force_login(shopper.user)
    intruder_user = shopper.user.__class__.objects.create_user(
        email="intruder@example.test", password=PASSWORD
    )
    intruder = Client()
    intruder.force_login(intruder_user)

    assert owner.get(f"/orders/{order.number}/").status_code == 200
    assert owner.get(f"/orders/{order.number}/qr.svg").status_code == 200
    assert intruder.get(f"/orders/{order.number}/").status_code == 404
    assert intruder.get(f"/orders/{order.number}/qr.svg").status_code == 404
    assert order.number not in text(intruder.get("/account/"))
    assert Client().get(f"/orders/{order.number}/").status_code == 404
    assert Client().get(f"/orders/{order.number}/qr.svg").status_code == 404


def test_a_guest_order_is_visible_only_in_the_session_that_placed_it(shop):
    browser = Client()
    add_to_cart(browser, shop.lamp, 1)
    number = checkout(browser, shop.store)["Location"].split("/")[2]

    assert browser.get(f"/orders/{number}/").status_code == 200
    assert browser.get(f"/orders/{number}/qr.svg").status_code == 200
    assert Client().get(f"/orders/{number}/").status_code == 404
    assert Client().get(f"/orders/{number}/qr.svg").status_code == 404


def test_guest_orders_join_an_account_only_once_its_email_is_verified(shop):
    guest = Client()
    add_to_cart(guest, shop.lamp, 1)
    number = checkout(guest, shop.store, email="walkin@example.test")["Location"].split("/")[2]
    account = Client()
    signup = account.post(
        "/account/signup/",
        {"name": "Walk In", "email": "walkin@example.test", "password": "a-long-enough-passphrase"},
    )
    assert signup.status_code == 302
    order = Order.objects.get(number=number)
    assert order.customer.user is not None
    assert order.customer.email_verified_at is None

    hidden_list = text(account.get("/account/"))
    hidden_page = account.get(f"/orders/{number}/")
    hidden_qr = account.get(f"/orders/{number}/qr.svg")

    assert number not in hidden_list
    assert "No orders yet." in hidden_list
    assert hidden_page.status_code == 404
    assert hidden_qr.status_code == 404

    order.customer.email_verified_at = timezone.now() - timedelta(minutes=1)
    order.customer.save(update_fields=["email_verified_at"])

    assert f'href="/orders/{number}/"' in text(account.get("/account/"))
    assert account.get(f"/orders/{number}/").status_code == 200
    assert account.get(f"/orders/{number}/qr.svg").status_code == 200


def test_the_account_page_needs_a_login(db):
    response = Client().get("/account/")

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/account/"


def test_login_next_cannot_send_the_user_to_another_site(shop, shopper):
    response = Client().post(
        "/account/login/",
        {"username": shopper.email, "password": PASSWORD, "next": "https://evil.example/phish"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"

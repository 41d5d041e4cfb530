"""End-to-end in a real browser (Debian's Chromium driven by Playwright) against a live server.

These check what only a browser can: htmx swaps, the Content Security Policy being obeyed by
every page (no inline script or style blocked), the QR image loading, and the tablet's live
queue refreshing by itself.
"""

import re

import pytest
from playwright.sync_api import expect

from orders.models import Order, OrderStatus
from stores.models import StockLevel
from tests.support.factories import (
    PASSWORD,
    ProductFactory,
    StaffMembershipFactory,
    StockLevelFactory,
    StoreFactory,
    UserFactory,
    VariantFactory,
)

pytest_plugins = ["tests.support.browser_fixtures"]


@pytest.fixture
def shop_data(transactional_db):
    store = StoreFactory(code="MAD-01", name="Madrid Centro")
    product = ProductFactory(name="Camiseta básica", slug="camiseta-basica")
    small = VariantFactory(product=product, sku="TEE-S", title="S")
    large = VariantFactory(product=product, sku="TEE-L", title="L")
    StockLevelFactory(store=store, variant=small, on_hand=5)
    StockLevelFactory(store=store, variant=large, on_hand=5)
    clerk = UserFactory(email="clerk@example.test")
    StaffMembershipFactory(user=clerk, store=store)
    return {"store": store, "small": small, "large": large, "clerk": clerk}


def _stock(variant, store):
    level = StockLevel.objects.get(variant=variant, store=store)
    return level.on_hand, level.reserved


def test_shopper_orders_in_the_browser_without_csp_violations(browser, live, shop_data, watch):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    console = watch(page)

    page.goto(f"{live}/")
    page.get_by_role("link", name=re.compile("Camiseta")).click()
    expect(page.locator("#variant-panel")).to_contain_text("TEE-S")

    # Variant choice swaps the panel with htmx, without a page load.
    page.locator("input[value=TEE-L]").check()
    expect(page.locator("#variant-panel")).to_contain_text("TEE-L")
    assert page.url.endswith("?sku=TEE-L")

    # Add to cart with htmx: the header badge updates in place.
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("1")

    # Cart quantity change with htmx: the total is recomputed by the server.
    page.goto(f"{live}/cart/")
    quantity = page.locator("input[name=quantity]").first
    quantity.fill("3")
    quantity.dispatch_event("change")
    expect(page.locator("#cart-total")).to_contain_text("30.00")
    expect(page.locator("#cart-count")).to_have_text("3")

    page.get_by_role("link", name="Checkout").click()
    page.locator("input[name=slot]:not([disabled])").first.check()
    page.fill("#id_name", "Ana Browser")
    page.fill("#id_email", "ana.browser@example.test")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("h1")).to_contain_text("Order CC-")
    page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
    order = Order.objects.get(contact_email="ana.browser@example.test")
    assert page.locator(".code").inner_text() == order.pickup_code
    assert _stock(shop_data["large"], shop_data["store"]) == (5, 3)
    assert console.problems == []


def test_clerk_hands_over_at_the_tablet_with_a_scanner(
    browser, live, shop_data, place_web_order, watch
):
    store, clerk = shop_data["store"], shop_data["clerk"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    console = watch(page)

    page.goto(f"{live}/account/login/?next=/store/")
    page.fill("#id_username", clerk.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("h1")).to_contain_text("Madrid Centro")

    # An order placed while the tablet is open appears by itself (htmx polling).
    order = place_web_order(store=store, lines=[(shop_data["small"], 2), (shop_data["large"], 1)])
    expect(page.locator(".column-placed")).to_contain_text(order.number, timeout=10_000)

    page.locator(".column-placed").get_by_role("button", name="Start preparing").click()
    expect(page.locator(".column-preparing")).to_contain_text(order.number)
    page.locator(".column-preparing").get_by_role("button", name="Mark ready").click()
    expect(page.locator(".column-ready")).to_contain_text(order.number)

    # A USB scanner types the QR token into the focused field and presses Enter.
    scan = page.locator("#scan")
    expect(scan).to_be_focused()
    page.keyboard.type(order.pickup_token)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(order.number)

    # The customer refuses the large T-shirt: the amount to take follows (htmx).
    taken = shop_data["small"].price * 2
    page.fill("input[name=qty_TEE-L]", "0")
    expect(page.locator("#amount-due")).to_contain_text(f"Amount to take: €{taken}")
    page.locator("input[name=payment_method][value=card]").check()
    page.fill("input[name=reference]", "TPV-0042")
    page.get_by_role("button", name="Confirm handover").click()
    # Back at the queue with the scanner field focused, ready for the next customer.
    expect(page.get_by_role("status")).to_contain_text(
        f"Order {order.number} handed over. Took €{taken} by card (receipt TPV-0042)."
    )
    expect(page.locator("#scan")).to_be_focused()

    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert _stock(shop_data["small"], store) == (3, 0)
    assert _stock(shop_data["large"], store) == (5, 0)
    assert order.payments.get().amount_captured == shop_data["small"].price * 2

    # Scanning the same QR again says when and by whom it was collected (answered with 409).
    console.allow(r"status of 409 \(Conflict\) \(http://[^ ]+/store/MAD-01/scan/\)")
    page.goto(f"{live}/store/{store.code}/")
    page.locator("#scan").fill(order.pickup_token)
    page.keyboard.press("Enter")
    expect(page.locator("#already-collected")).to_contain_text("Already collected")
    expect(page.locator("#already-collected")).to_contain_text(clerk.email)
    assert len(console.problems) == 1


@pytest.fixture
def place_web_order():
    from django.utils import timezone

    from orders.services import Contact, place_order
    from shop.models import Cart, CartLine
    from stores.selectors import pickup_slots

    def _place(*, store, lines):
        cart = Cart.objects.create()
        for variant, quantity in lines:
            CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
        return place_order(
            cart=cart,
            store=store,
            slot_start=pickup_slots(store=store, now=timezone.now())[0].start,
            payment_method="in_store",
            channel="web",
            contact=Contact(name="Bea Scanner", email="bea@example.test"),
        )

    return _place


def test_shopper_core_path_works_without_javascript(browser, live, shop_data):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()

    page.goto(f"{live}/?q=camiseta")
    page.get_by_role("link", name=re.compile("Camiseta")).click()
    # Variant choice falls back to a plain GET form with a submit button.
    page.locator("input[value=TEE-L]").check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#variant-panel")).to_contain_text("TEE-L")

    page.fill("#qty", "2")
    page.get_by_role("button", name="Add to cart").click()
    assert page.url.endswith("/cart/")
    expect(page.locator("#cart-total")).to_contain_text("20.00")

    page.fill("input[name=quantity]", "1")
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#cart-total")).to_contain_text("10.00")

    page.get_by_role("link", name="Checkout").click()
    page.locator("input[name=slot]:not([disabled])").first.check()
    page.fill("#id_name", "Nico NoScript")
    page.fill("#id_email", "nico@example.test")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("h1")).to_contain_text("Order CC-")
    order = Order.objects.get(contact_email="nico@example.test")
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [("TEE-L", 1)]
    assert _stock(shop_data["large"], shop_data["store"]) == (5, 1)
    context.close()


def test_refused_htmx_requests_show_their_message(browser, live, shop_data, watch):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    console = watch(page)
    page.goto(f"{live}/p/camiseta-basica/")
    page.fill("#qty", "20")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart-count")).to_have_text("20")

    # 20 more would pass the per-line limit: the refusal (a 400) is shown, the success is not
    # repeated.
    console.allow(r"status of 400 \(Bad Request\) \(http://[^ ]+/cart/add/\)")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#htmx-messages")).to_contain_text("Quantity must be between 1 and 20")
    expect(page.locator("#cart-count")).to_have_text("20")
    assert len(console.problems) == 1


def test_a_scan_into_the_code_box_opens_the_scanned_order(
    browser, live, shop_data, place_web_order
):
    """With order A on screen, the scanner types order B's QR token into the focused code box:
    B opens for handover and A is not charged a wrong pickup code."""
    from orders.services import mark_preparing, mark_ready

    store, clerk = shop_data["store"], shop_data["clerk"]
    first = place_web_order(store=store, lines=[(shop_data["small"], 1)])
    second = place_web_order(store=store, lines=[(shop_data["large"], 1)])
    for order in (first, second):
        mark_preparing(order=order, user=clerk)
        mark_ready(order=order, user=clerk)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live}/account/login/?next=/store/{store.code}/orders/{first.number}/")
    page.fill("#id_username", clerk.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#code")).to_be_focused()

    page.keyboard.type(second.pickup_token)
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_contain_text(second.number)
    expect(page.get_by_role("button", name="Confirm handover")).to_be_visible()
    first.refresh_from_db()
    assert first.code_failures == 0


def test_api_docs_render_offline_within_the_content_security_policy(browser, live, watch):
    page = browser.new_page()
    console = watch(page)
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on(
        "request",
        lambda request: (
            failed.append(request.url)
            if not request.url.startswith(live) and not request.url.startswith("data:")
            else None
        ),
    )

    page.goto(f"{live}/api/docs/")

    expect(page.locator(".swagger-ui .title")).to_contain_text("Omnicollect API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert failed == []
    assert console.problems == []

"""The short pickup code at the counter: store-scoped, rate-limited per clerk, locked per order."""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.urls import reverse

from orders.errors import OrderError
from orders.models import Order, OrderEvent
from orders.services import find_by_pickup_code, unlock_pickup_code, verify_pickup_code
from stores.models import StaffMembership
from tests.support.factories import StaffMembershipFactory, UserFactory
from tests.support.web_helpers import logged_in, tags, text


@pytest.fixture
def order(place, variant, stock):
    return place((variant, 1))


def _wrong(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return ("B" if code[0] != "B" else "C") + code[1:]


# --- Finding an order by its code ----------------------------------------------------------------


def test_find_by_pickup_code_at_the_orders_store(order, store, clerk):
    found = find_by_pickup_code(store=store, user=clerk, code=order.pickup_code)

    assert found.pk == order.pk


def test_find_by_pickup_code_ignores_case_spaces_and_dashes(order, store, clerk):
    typed = f" {order.pickup_code[:4].lower()}-{order.pickup_code[4:].lower()} "

    found = find_by_pickup_code(store=store, user=clerk, code=typed)

    assert found.pk == order.pk


def test_pickup_code_at_another_store_is_a_wrong_code(order, other_store, snapshot):
    other_clerk = UserFactory()
    StaffMembershipFactory(user=other_clerk, store=other_store)
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        find_by_pickup_code(store=other_store, user=other_clerk, code=order.pickup_code)

    assert (exc.value.code, exc.value.status) == ("wrong_code", 404)
    assert snapshot() == before


@pytest.mark.parametrize("code", ["", "ABC", "ABCDEFGHJ", "????????"])
def test_malformed_code_is_a_wrong_code(order, store, clerk, code):
    with pytest.raises(OrderError) as exc:
        find_by_pickup_code(store=store, user=clerk, code=code)

    assert (exc.value.code, exc.value.status) == ("wrong_code", 404)


def test_the_rate_limit_lives_in_the_shared_cache():
    # App servers keep no local state (DESIGN §7): the counter must be in Redis.
    assert isinstance(caches["default"], RedisCache)


def test_clerk_is_stopped_after_too_many_wrong_codes(order, store, clerk, settings):
    # given a clerk who typed the limit of wrong codes at this store
    for _ in range(settings.PICKUP_CODE_CLERK_LIMIT):
        with pytest.raises(OrderError) as exc:
            find_by_pickup_code(store=store, user=clerk, code=_wrong(order.pickup_code))
        assert exc.value.code == "wrong_code"

    # when they type the right code
    with pytest.raises(OrderError) as exc:
        find_by_pickup_code(store=store, user=clerk, code=order.pickup_code)

    # then they are stopped for a while
    assert (exc.value.code, exc.value.status) == ("too_many_attempts", 429)


def test_one_below_the_clerk_limit_still_finds_the_order(order, store, clerk, settings):
    for _ in range(settings.PICKUP_CODE_CLERK_LIMIT - 1):
        with pytest.raises(OrderError):
            find_by_pickup_code(store=store, user=clerk, code=_wrong(order.pickup_code))

    assert find_by_pickup_code(store=store, user=clerk, code=order.pickup_code).pk == order.pk


def test_clerk_limit_is_per_clerk(order, store, clerk, settings):
    colleague = UserFactory()
    StaffMembershipFactory(user=colleague, store=store)
    for _ in range(settings.PICKUP_CODE_CLERK_LIMIT):
        with pytest.raises(OrderError):
            find_by_pickup_code(store=store, user=clerk, code=_wrong(order.pickup_code))

    assert find_by_pickup_code(store=store, user=colleague, code=order.pickup_code).pk == order.pk


def test_locked_order_cannot_be_found_by_code(order, store, clerk, settings):
    for _ in range(settings.PICKUP_CODE_ORDER_LIMIT):
        with pytest.raises(OrderError):
            verify_pickup_code(order=order, user=clerk, code=_wrong(order.pickup_code))

    with pytest.raises(OrderError) as exc:
        find_by_pickup_code(store=store, user=clerk, code=order.pickup_code)

    assert (exc.value.code, exc.value.status) == ("code_locked", 423)


# --- Verifying the code of an order on screen ---------------------------------------------------


def test_verify_right_code_resets_earlier_failures(order, clerk):
    with pytest.raises(OrderError) as exc:
        verify_pickup_code(order=order, user=clerk, code=_wrong(order.pickup_code))
    assert (exc.value.code, exc.value.status) == ("wrong_code", 400)
    order.refresh_from_db()
    assert order.code_failures == 1

    verified = verify_pickup_code(order=order, user=clerk, code=order.pickup_code.lower())

    assert verified.pk == order.pk
    order.refresh_from_db()
    assert (order.code_failures, order.code_locked_at) == (0, None)


@pytest.mark.parametrize("limit", [None, 3], ids=["as-configured", "limit-3"])
def test_the_limits_wrong_code_locks_the_order(order, clerk, settings, limit):
    if limit is not None:
        settings.PICKUP_CODE_ORDER_LIMIT = limit
    limit = settings.PICKUP_CODE_ORDER_LIMIT
    assert limit > 1  # room for the tries that only count
    # given one wrong try fewer than the limit: counted, not yet locked
    for attempt in range(1, limit):
        with pytest.raises(OrderError) as exc:
            verify_pickup_code(order=order, user=clerk, code=_wrong(order.pickup_code))
        assert (exc.value.code, exc.value.status) == ("wrong_code", 400)
        order.refresh_from_db()
        assert (order.code_failures, order.code_locked_at) == (attempt, None)
    assert not OrderEvent.objects.filter(order=order, note__contains="locked").exists()

    # when the wrong code that reaches the limit is typed
    with pytest.raises(OrderError) as exc:
        verify_pickup_code(order=order, user=clerk, code=_wrong(order.pickup_code))

    # then the order's code locks, with a trace of why, and the clerk is told so
    assert (exc.value.code, exc.value.status) == ("code_locked", 423)
    order.refresh_from_db()
    assert order.code_failures == limit
    assert order.code_locked_at is not None
    event = OrderEvent.objects.filter(order=order).latest("pk")
    assert (event.from_status, event.to_status, event.user_id, event.note) == (
        "placed",
        "placed",
        clerk.pk,
        "pickup code locked after wrong tries",
    )

    # and even the right code is refused now
    with pytest.raises(OrderError) as exc:
        verify_pickup_code(order=order, user=clerk, code=order.pickup_code)
    assert (exc.value.code, exc.value.status) == ("code_locked", 423)


def _lock_code(order, clerk, limit):
    for _ in range(limit):
        with pytest.raises(OrderError):
            verify_pickup_code(order=order, user=clerk, code=_wrong(order.pickup_code))
    order.refresh_from_db()
    assert order.code_locked


def test_clerk_cannot_unlock_a_pickup_code(order, clerk, settings, snapshot):
    _lock_code(order, clerk, settings.PICKUP_CODE_ORDER_LIMIT)
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        unlock_pickup_code(order=order, user=clerk)

    assert (exc.value.code, exc.value.status) == ("not_manager", 403)
    assert snapshot() == before


def test_manager_of_another_store_cannot_unlock(order, clerk, other_store, settings, snapshot):
    _lock_code(order, clerk, settings.PICKUP_CODE_ORDER_LIMIT)
    elsewhere = UserFactory()
    StaffMembershipFactory(user=elsewhere, store=other_store, role=StaffMembership.Role.MANAGER)
    before = snapshot()

    with pytest.raises(OrderError) as exc:
        unlock_pickup_code(order=order, user=elsewhere)

    assert exc.value.code == "not_manager"
    assert snapshot() == before


def test_manager_unlocks_and_the_right_code_works_again(order, clerk, manager, settings):
    # given a locked code
    _lock_code(order, clerk, settings.PICKUP_CODE_ORDER_LIMIT)

    # when the store manager unlocks it
    unlock_pickup_code(order=order, user=manager)

    # then failures are cleared, the unlock is recorded and the right code opens the order
    order.refresh_from_db()
    assert (order.code_failures, order.code_locked_at) == (0, None)
    event = OrderEvent.objects.filter(order=order).latest("pk")
    assert (event.user_id, event.note) == (manager.pk, "pickup code unlocked by manager")
    assert verify_pickup_code(order=order, user=clerk, code=order.pickup_code).pk == order.pk


# --- Unlocking through the other routes --------------------------------------------------------
#
# The tablet's unlock button and the admin's order page; the API has no unlock route.


def _unlock_url(order, store=None) -> str:
    return f"/store/{(store or order.store).code}/orders/{order.number}/unlock/"


def _still_locked(order, limit) -> bool:
    order = Order.objects.get(pk=order.pk)
    return order.code_locked and order.code_failures == limit


def _unlocks(order) -> int:
    return OrderEvent.objects.filter(order=order, note="pickup code unlocked by manager").count()


@pytest.mark.parametrize(
    ("who", "refusals"),
    [
        # A manager elsewhere is not staff at the order's store: the order does not exist for
        # them, at its own store's address or at theirs.
        ("manager elsewhere", {"order's store": 404, "their store": 404}),
        # Manager elsewhere and clerk here: they reach the order, but manage another store.
        ("manager elsewhere, clerk here", {"order's store": 403, "their store": 404}),
        ("clerk here", {"order's store": 403}),
    ],
)
def test_the_tablet_unlocks_only_for_a_manager_of_the_orders_store(
    order, store, other_store, clerk, manager, settings, snapshot, who, refusals
):
    # given a locked code, and someone who is not a manager of the order's store
    limit = settings.PICKUP_CODE_ORDER_LIMIT
    _lock_code(order, clerk, limit)
    if who == "clerk here":
        user = clerk
    else:
        user = UserFactory()
        StaffMembershipFactory(user=user, store=other_store, role=StaffMembership.Role.MANAGER)
        if who == "manager elsewhere, clerk here":
            StaffMembershipFactory(user=user, store=store, role=StaffMembership.Role.CLERK)
    tablet = logged_in(user)
    before = snapshot()

    # when they press unlock at every address they could use
    answers = {
        place: tablet.post(_unlock_url(order, store if place == "order's store" else other_store))
        for place in refusals
    }

    # then each is refused, the code stays locked and nothing is written
    assert {place: answer.status_code for place, answer in answers.items()} == refusals
    for answer in answers.values():
        if answer.status_code == 403:
            assert "Only a store manager can unlock a pickup code." in text(answer)
    assert _still_locked(order, limit)
    assert _unlocks(order) == 0
    assert snapshot() == before

    # and the same button works for the order's store manager
    unlocked = logged_in(manager).post(_unlock_url(order))
    assert unlocked.status_code == 302
    assert unlocked["Location"] == f"/store/{store.code}/orders/{order.number}/"
    order.refresh_from_db()
    assert (order.code_failures, order.code_locked_at) == (0, None)
    assert _unlocks(order) == 1


def _admin_form(html) -> dict:
    """The values an admin change form would post as rendered (inline templates left out)."""
    return {
        t.attrs["name"]: t.attrs.get("value", "")
        for t in tags(html)
        if t.name == "input"
        and t.attrs.get("name")
        and "__prefix__" not in t.attrs["name"]
        and t.attrs.get("type") not in {"submit", "button", "search"}
    }


def test_the_admin_order_page_cannot_unlock_a_pickup_code(
    order, clerk, other_store, settings, snapshot
):
    # given a locked code, and a manager of another store with back-office access to orders
    limit = settings.PICKUP_CODE_ORDER_LIMIT
    _lock_code(order, clerk, limit)
    elsewhere = UserFactory(is_staff=True)
    StaffMembershipFactory(user=elsewhere, store=other_store, role=StaffMembership.Role.MANAGER)
    elsewhere.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "change_order"])
    )
    admin = logged_in(elsewhere)
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = admin.get(url)
    assert page.status_code == 200
    before = snapshot()

    # when they save the order's page with the failures and the lock cleared
    response = admin.post(
        url,
        {
            **_admin_form(page.content),
            "code_failures": "0",
            "code_locked_at": "",
            "code_locked_at_0": "",
            "code_locked_at_1": "",
            "_save": "Save",
        },
    )

    # then the page saves what it may, and the code stays locked
    assert response.status_code == 302
    assert _still_locked(order, limit)
    assert _unlocks(order) == 0
    assert snapshot() == before

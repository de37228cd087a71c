"""Sends people start by hand are limited per user: the test endpoint (and its alias), the
admin's test action and Resend on the history pages. Counted in the real `ratelimit` cache
(the database cache by default, Redis when the nodes share one)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from channels.webhook import WebhookSetup
from notifier import history, ratelimit
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.support.history import (
    deployment_event,
    failed,
    register,
    seed_delivery,
    seed_deployment,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(httpserver, settings):
    """A registration whose one setup is a webhook at the local server."""
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/hook").respond_with_data("thanks")
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(
        registration=registration, url=httpserver.url_for("/hook"), events=["succeeded"]
    )
    return registration


def api_as(account) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def hook_calls(httpserver) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/hook")


# --- the mechanism, on both shared backends ----------------------------------------------


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    if request.param == "redis":
        from tests.support.services import require_redis

        require_redis()
        settings.CACHES = {
            **settings.CACHES,
            "ratelimit": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/0",
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            },
        }
    yield request.param
    if request.param == "redis":
        from django.core.cache import caches

        caches["ratelimit"].clear()


def test_the_eleventh_send_in_a_minute_is_refused_with_when_to_retry(backend):
    alice, bob = user("alice"), user("bob")
    for _ in range(10):
        ratelimit.rate_limit_take(user=alice, action="test")
    with pytest.raises(ratelimit.RateLimited) as caught:
        ratelimit.rate_limit_take(user=alice, action="test")
    assert 55 <= caught.value.retry_after <= 60
    assert "NOTIFIER_MANUAL_SENDS_PER_MINUTE" in str(caught.value)
    ratelimit.rate_limit_take(user=bob, action="test")  # another user: unaffected
    ratelimit.rate_limit_take(user=alice, action="resend")  # another action: its own count


def test_a_refused_call_takes_nothing(backend, settings):
    settings.NOTIFIER_MANUAL_SENDS_PER_MINUTE = 3
    alice = user("alice")
    ratelimit.rate_limit_take(user=alice, action="test", count=2)
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.rate_limit_take(user=alice, action="test", count=2)
    ratelimit.rate_limit_take(user=alice, action="test")  # the third is still there


# --- the test endpoint -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/registrations/{}/test", "/api/registrations/{}/test/"])
def test_the_api_answers_429_with_retry_after_and_sends_nothing(hook, httpserver, path):
    alice = api_as(user("alice", staff=True))
    for _ in range(10):
        assert alice.post(path.format(hook.pk), format="json").status_code == 200
    assert hook_calls(httpserver) == 10

    response = alice.post(path.format(hook.pk), format="json")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "rate_limited"
    assert "at most 10 a minute" in body["detail"] and "try again in" in body["detail"]
    assert hook_calls(httpserver) == 10
    bob = api_as(user("bob", staff=True))
    assert bob.post(path.format(hook.pk), format="json").status_code == 200
    assert hook_calls(httpserver) == 11


def test_the_alias_and_the_router_path_share_one_count(hook, httpserver):
    alice = api_as(user("alice", staff=True))
    for n in range(10):
        suffix = "/" if n % 2 else ""
        assert alice.post(f"/api/registrations/{hook.pk}/test{suffix}").status_code == 200
    assert alice.post(f"/api/registrations/{hook.pk}/test/").status_code == 429
    assert hook_calls(httpserver) == 10


# --- the admin action --------------------------------------------------------------------


def run_action(client, *registrations):
    return client.post(
        "/admin/registrations/registration/",
        {"action": "send_test_notification", "_selected_action": [r.pk for r in registrations]},
        follow=True,
    )


def test_the_admin_action_over_the_limit_says_so_and_sends_nothing(client, hook, httpserver):
    client.force_login(user("alice", staff=True))
    for _ in range(10):
        assert "delivered" in run_action(client, hook).content.decode()
    assert hook_calls(httpserver) == 10

    page = run_action(client, hook).content.decode()

    assert "Nothing was sent" in page
    assert re.search(r"try again in \d+ seconds", page)
    assert hook_calls(httpserver) == 10


def test_the_admin_action_counts_each_selected_registration(client, hook, httpserver, settings):
    settings.NOTIFIER_MANUAL_SENDS_PER_MINUTE = 2
    client.force_login(user("alice", staff=True))
    others = [Registration.objects.create(codedeploy_application_name=f"app{n}") for n in (1, 2)]
    page = run_action(client, hook, *others).content.decode()
    assert "Nothing was sent" in page and "at most 2 registrations at a time" in page
    assert hook_calls(httpserver) == 0


# --- Resend on the history pages ---------------------------------------------------------


def test_resend_over_the_limit_is_a_429_page_saying_when_to_try_again(client, newrelic):
    team = Group.objects.create(name="storefront-team")
    _, (setup,) = register("storefront", team=team)
    newrelic.add_application("web", 7)
    store = OrmStore()
    event = deployment_event("d-RESEND001", "storefront", status="Failed")
    seed_deployment(store, event)
    seed_delivery(store, event, setup, outcomes=[failed()])
    client.force_login(user("alice", team=team))
    data = {"event": "failed", "setup": setup.pk}
    for _ in range(10):
        assert client.post("/deployments/d-RESEND001/resend/", data).status_code == 302
    assert len(newrelic.markers) == 10

    response = client.post("/deployments/d-RESEND001/resend/", data)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    page = re.sub(r"\s+", " ", response.content.decode())
    assert re.search(r"Not resent: too many resends: .* try again in \d+ seconds", page)
    assert len(newrelic.markers) == 10
    delivery = store.delivery_get(history.DeliveryKey("d-RESEND001", "failed", setup.pk))
    assert delivery.attempts == 11

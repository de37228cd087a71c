"""The test button: the API endpoint and the admin action send a sample event through the
setups and report each result, without touching the delivery ledger."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.webhook import WebhookSetup
from notifier.models import Delivery as LedgerDelivery
from registrations.models import Registration

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def two_setups(httpserver, settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/good").respond_with_data("thanks")
    httpserver.expect_request("/bad").respond_with_data("no such hook", status=404)
    registration = Registration.objects.create(
        codedeploy_application_name="storefront", deployment_groups="blue"
    )
    good = WebhookSetup.objects.create(
        registration=registration, url=httpserver.url_for("/good"), events=["succeeded"]
    )
    bad = WebhookSetup.objects.create(
        registration=registration,
        url=httpserver.url_for("/bad"),
        events=["failed"],
        enabled=False,
    )
    return registration, good, bad


def test_it_tests_every_setup_and_reports_each_result(api, httpserver, two_setups):
    registration, good, bad = two_setups

    response = api.post(f"/api/registrations/{registration.pk}/test", format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["delivered"] is False
    by_setup = {r["setup"]: r for r in body["results"]}
    assert by_setup[good.pk]["delivered"] is True
    assert by_setup[good.pk]["kind"] == "webhook_notification"
    assert by_setup[bad.pk]["delivered"] is False
    assert "refused the request (404)" in by_setup[bad.pk]["error"]
    assert by_setup[bad.pk]["retryable"] is False
    assert by_setup[bad.pk]["error_code"] == "not_found"
    sent = {req.path: json.loads(req.get_data()) for req, _ in httpserver.log}
    assert sent["/good"]["application"] == "storefront"
    assert sent["/good"]["deployment_group"] == "blue"
    assert sent["/good"]["event"] == "succeeded"
    assert sent["/bad"]["event"] == "failed"
    assert "Test notification" in sent["/good"]["description"]
    assert LedgerDelivery.objects.count() == 0


def test_it_tests_one_named_setup(api, httpserver, two_setups):
    registration, good, _ = two_setups
    response = api.post(
        f"/api/registrations/{registration.pk}/test/", {"setup": good.pk}, format="json"
    )
    assert response.status_code == 200
    assert [r["setup"] for r in response.json()["results"]] == [good.pk]
    assert len(httpserver.log) == 1


def test_a_setup_of_another_registration_is_refused_by_field(api, two_setups):
    registration, _, _ = two_setups
    response = api.post(f"/api/registrations/{registration.pk}/test", {"setup": 999}, format="json")
    assert response.status_code == 400
    assert "has no setup 999" in response.json()["setup"][0]


def test_an_unknown_registration_is_404(api):
    assert api.post("/api/registrations/12345/test", format="json").status_code == 404


def test_the_admin_action_reports_each_setup(client, httpserver, two_setups):
    registration, good, bad = two_setups
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))

    response = client.post(
        "/admin/registrations/registration/",
        {"action": "send_test_notification", "_selected_action": [registration.pk]},
        follow=True,
    )

    text = response.content.decode()
    assert f"(setup {good.pk}): delivered" in text
    assert f"(setup {bad.pk}): not delivered" in text
    assert "refused the request (404)" in text
    assert LedgerDelivery.objects.count() == 0

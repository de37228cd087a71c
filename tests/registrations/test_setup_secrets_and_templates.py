"""Secrets are write-only in the API and masked in the admin; template overrides are checked
by one validation the API and the admin share, and previewed in the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.webhook import WebhookSetup
from registrations.models import NotificationSetup, Registration

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.com/services/T0001/B0002/abcdefghijklmnop"


@pytest.fixture
def api():
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """hooks.example.com must resolve to a public address without a network."""
    import socket

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def create(api, notification):
    return api.post(
        "/api/registrations/",
        {"codedeploy_application_name": "storefront", "notifications": [notification]},
        format="json",
    )


def test_secrets_are_accepted_but_never_returned(api):
    response = create(api, {"webhook_notification": {"url": HOOK, "secret": "hmac-secret-123456"}})
    assert response.status_code == 201, response.content
    text = response.content.decode() + api.get("/api/registrations/").content.decode()
    assert "abcdefghijklmnop" not in text and "hmac-secret" not in text
    (notification,) = response.json()["notifications"]
    assert "url" not in notification["webhook_notification"]
    assert WebhookSetup.objects.get().secret == "hmac-secret-123456"


def test_an_update_without_the_secret_keeps_it(api):
    registration = create(api, {"webhook_notification": {"url": HOOK, "secret": "s" * 20}}).json()
    setup_id = registration["notifications"][0]["webhook_notification"]["id"]
    response = api.patch(
        f"/api/registrations/{registration['id']}/",
        {"notifications": [{"webhook_notification": {"id": setup_id, "events": ["failed"]}}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    setup = WebhookSetup.objects.get(pk=setup_id)
    assert (setup.url, setup.secret, setup.events) == (HOOK, "s" * 20, ["failed"])


def test_an_internal_url_is_refused_by_field_and_nothing_is_saved(api):
    response = create(api, {"webhook_notification": {"url": "http://169.254.169.254/latest"}})
    assert response.status_code == 400
    error = response.json()["notifications"][0]["webhook_notification"]["url"][0]
    assert "link-local" in error and "NOTIFIER_URL_ALLOWLIST" in error
    assert Registration.objects.count() == 0


def test_a_template_that_does_not_render_is_refused_with_line_and_reason(api):
    response = create(
        api,
        {
            "newrelic_notification": {
                "application_name": "web",
                "subject_template": "ok line\n{% if event.status %}never closed",
            }
        },
    )
    assert response.status_code == 400
    error = response.json()["notifications"][0]["newrelic_notification"]["subject_template"][0]
    assert "line" in error and "endif" in error
    assert NotificationSetup.objects.count() == 0


def staff(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def test_the_admin_masks_secrets_and_previews_the_message(client):
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(
        registration=registration,
        url=HOOK,
        secret="hmac-secret-123456",
        headers="Authorization: Bearer header-token-987",
    )
    from channels.newrelic import NewRelicSetup

    NewRelicSetup.objects.create(
        registration=registration,
        application_name="web",
        subject_template="Deployed {{ event.application }} as {{ event.revision.summary }}",
    )
    html = staff(client).get(f"/admin/registrations/registration/{registration.pk}/change/")
    html = html.content.decode()
    for secret in ("abcdefghijklmnop", "hmac-secret-123456", "header-token-987"):
        assert secret not in html
    assert 'type="password"' in html
    assert "leave empty to keep it" in html
    assert "Deployed storefront as 9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6" in html
    assert "A sample succeeded deployment" in html


def change_form(client, registration):
    """The change form's data as the browser would post it, and the page."""
    url = f"/admin/registrations/registration/{registration.pk}/change/"
    html = client.get(url).content.decode()
    data = {"codedeploy_application_name": "storefront", "enabled": "on"}
    for prefix, total, initial in re.findall(
        r'name="([\w-]+)-TOTAL_FORMS"[^>]*value="(\d+)".*?name="\1-INITIAL_FORMS"[^>]*value="(\d+)"',
        html,
        re.S,
    ):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": total,
                f"{prefix}-INITIAL_FORMS": initial,
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return url, html, data


def test_the_admin_keeps_a_secret_left_empty(client):
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    setup = WebhookSetup.objects.create(registration=registration, url=HOOK, secret="x" * 20)
    url, html, data = change_form(staff(client), registration)
    prefix = re.search(r'name="([\w-]+)-0-secret"', html).group(1)
    data.update(
        {
            f"{prefix}-0-notificationsetup_ptr": str(setup.pk),
            f"{prefix}-0-registration": str(registration.pk),
            f"{prefix}-0-url": "",
            f"{prefix}-0-secret": "",
            f"{prefix}-0-headers": "",
            f"{prefix}-0-events": ["failed"],
            f"{prefix}-0-enabled": "on",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    setup.refresh_from_db()
    assert (setup.url, setup.secret, setup.events) == (HOOK, "x" * 20, ["failed"])


def test_the_admin_refuses_a_template_that_does_not_render(client):
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    setup = WebhookSetup.objects.create(registration=registration, url=HOOK)
    from channels.slack import SlackSetup

    slack = SlackSetup.objects.create(registration=registration, webhook_url=HOOK)
    url, html, data = change_form(staff(client), registration)
    prefix = re.search(r'name="([\w-]+)-0-channel"', html).group(1)
    data.update(
        {
            f"{prefix}-0-notificationsetup_ptr": str(slack.pk),
            f"{prefix}-0-registration": str(registration.pk),
            f"{prefix}-0-webhook_url": "",
            f"{prefix}-0-bot_token": "",
            f"{prefix}-0-channel": "",
            f"{prefix}-0-events": ["failed"],
            f"{prefix}-0-enabled": "on",
            f"{prefix}-0-body_template": "Deployed\n{{ event.application|nosuchfilter }}",
        }
    )
    webhook_prefix = re.search(r'name="([\w-]+)-0-secret"', html).group(1)
    data.update(
        {
            f"{webhook_prefix}-0-notificationsetup_ptr": str(setup.pk),
            f"{webhook_prefix}-0-registration": str(registration.pk),
            f"{webhook_prefix}-0-events": ["succeeded"],
            f"{webhook_prefix}-0-enabled": "on",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    text = response.content.decode()
    assert "does not compile: line 2: Invalid filter: &#x27;nosuchfilter&#x27;" in text
    slack.refresh_from_db()
    assert slack.body_template == "" and slack.events != ["failed"]

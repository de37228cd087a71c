"""Every kind is registered once, has a typed admin form, a REST key and default events, and
keeps its secrets out of logs."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.registry import KINDS, api_key, load_all
from channels.secrets import RedactSecretsFilter, secret_field_names
from registrations.models import NotificationSetup

CHAT_DEFAULT = ["succeeded", "failed", "stopped"]
EXPECTED_DEFAULTS = {
    "newrelic": ["succeeded"],
    "email": CHAT_DEFAULT,
    "ses": CHAT_DEFAULT,
    "slack": CHAT_DEFAULT,
    "teams": CHAT_DEFAULT,
    "pagerduty": CHAT_DEFAULT,
    "webhook": CHAT_DEFAULT,
    "sns": ["started", "ready", "succeeded", "failed", "stopped"],
}
EXPECTED_SECRETS = {
    "slack": ["webhook_url", "bot_token"],
    "teams": ["webhook_url"],
    "pagerduty": ["routing_key"],
    "webhook": ["url", "secret", "headers"],
}


def test_every_kind_follows_the_contract():
    assert set(KINDS) == set(EXPECTED_DEFAULTS)
    for module in load_all():
        assert issubclass(module.SETUP_MODEL, NotificationSetup)
        assert list(module.DEFAULT_EVENTS) == EXPECTED_DEFAULTS[module.KIND]
        assert module.LABEL and callable(module.send)
        assert set(module.SETUP_FIELDS) <= {f.name for f in module.SETUP_MODEL._meta.fields}
        assert secret_field_names(module.SETUP_MODEL) == EXPECTED_SECRETS.get(module.KIND, [])


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def test_the_admin_has_a_typed_form_per_kind(staff_client):
    html = staff_client.get("/admin/registrations/registration/add/").content.decode()
    for module in load_all():
        assert module.LABEL in html
        for field in module.SETUP_FIELDS:
            assert f"-__prefix__-{field}" in html, (module.KIND, field)
    assert html.count('type="password"') >= sum(len(v) for v in EXPECTED_SECRETS.values()) - 1


EXAMPLES = {
    "newrelic_notification": {"application_name": "storefront-web"},
    "email_notification": {"recipients": "ops@example.com"},
    "ses_notification": {"from_address": "deploys@example.com", "recipients": "ops@example.com"},
    "sns_notification": {"topic": "arn:aws:sns:us-east-1:123456789012:deployments"},
    "slack_notification": {"bot_token": "xoxb-1-2-abcdefghijkl", "channel": "#deploys"},
    "teams_notification": {"webhook_url": "http://127.0.0.1:9/workflows/x?sig=abcdefghijkl"},
    "pagerduty_notification": {"routing_key": "R0123456789abcdef0123456789abcde"},
    "webhook_notification": {"url": "http://127.0.0.1:9/hook", "secret": "abcdefghijkl"},
}


def test_every_kind_registers_over_the_api_and_hides_its_secrets(db, settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    settings.NOTIFIER_SES_FROM_ALLOWED = ["deploys@example.com"]
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = ["arn:aws:sns:us-east-1:123456789012:*"]
    user = User.objects.create_user("automation", is_staff=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert set(EXAMPLES) == {api_key(kind) for kind in KINDS}

    response = api.post(
        "/api/registrations/",
        {
            "codedeploy_application_name": "storefront",
            "notifications": [{key: fields} for key, fields in EXAMPLES.items()],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    returned = {key: fields for n in response.json()["notifications"] for key, fields in n.items()}
    assert set(returned) == set(EXAMPLES)
    assert returned["email_notification"]["events"] == CHAT_DEFAULT
    assert "abcdefghijkl" not in response.content.decode()
    assert returned["slack_notification"]["channel"] == "#deploys"


def test_logs_never_show_token_shapes(caplog):
    logger = logging.getLogger("channels.test")
    logger.addFilter(RedactSecretsFilter())
    with caplog.at_level(logging.INFO, logger="channels.test"):
        logger.info(
            "posting with %s to %s",
            "xoxb-1234-5678-abcdefghijkl",
            "https://hooks.slack.com/services/T0/B0/abcdefghijkl and ...invoke?sig=s3cr3t",
        )
    assert "abcdefghijkl" not in caplog.text and "s3cr3t" not in caplog.text

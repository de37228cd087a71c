"""A client generated from /api/schema/ by openapi-python-client works against the service:
it creates, reads, updates and deletes a registration holding every kind of notification,
over HTTP, with only the types the document gives it."""

from __future__ import annotations

import importlib
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from channels.registry import API_KEYS

pytestmark = pytest.mark.django_db(transaction=True)

HOOK = "https://hooks.example.com/services/T0001/B0002/abcdefghijklmnop"
GENERATE_TIMEOUT = 120  # seconds


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """hooks.example.com must resolve to a public address without a network."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def generated_client(schema_url: str, token: str, out: Path):
    """Generate the client package from the served document into `out` and import it."""
    document = requests.get(
        schema_url,
        headers={"Authorization": f"Token {token}", "Accept": "application/vnd.oai.openapi+json"},
        timeout=30,
    )
    document.raise_for_status()
    (out / "schema.json").write_text(document.text)
    # The apply endpoint also takes YAML, which the generator does not write; JSON is YAML, so
    # a generated client sends its document as JSON under either YAML type.
    (out / "config.yaml").write_text(
        "post_hooks: []\npackage_name_override: notifier_client\ncontent_type_overrides:\n"
        "  application/yaml: application/json\n  text/yaml: application/json\n"
    )
    tool = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert tool, "openapi-python-client is not installed: pip install -e '.[test]'"
    run = subprocess.run(
        [
            tool,
            "generate",
            "--path",
            "schema.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            "notifier_client",
            "--fail-on-warning",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("notifier_client")
    finally:
        sys.path.remove(str(out))


def test_a_generated_client_creates_reads_updates_and_deletes_every_kind(
    live_server, aws, tmp_path, settings
):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["deploys@example.com"]
    topic = boto3.client("sns").create_topic(Name="deployments")["TopicArn"]
    token = Token.objects.create(user=User.objects.create_user("automation", is_staff=True)).key
    client_package = generated_client(f"{live_server.url}/api/schema/", token, tmp_path)

    def operation(name: str):
        return importlib.import_module(f"notifier_client.api.api.{name}")

    models = importlib.import_module("notifier_client.models")
    client = client_package.AuthenticatedClient(
        base_url=live_server.url, token=token, prefix="Token", timeout=30.0
    )

    setups = {
        "newrelic_notification": models.NewRelicSetupRequest(application_name="checkout"),
        "email_notification": models.EmailSetupRequest(recipients="team@example.com"),
        "ses_notification": models.SesSetupRequest(
            from_address="deploys@example.com", recipients="team@example.com"
        ),
        "sns_notification": models.SnsSetupRequest(topic=topic),
        "slack_notification": models.SlackSetupRequest(webhook_url=HOOK),
        "teams_notification": models.TeamsSetupRequest(webhook_url=HOOK),
        "pagerduty_notification": models.PagerDutySetupRequest(routing_key="a" * 32),
        "webhook_notification": models.WebhookSetupRequest(url=HOOK, secret="s" * 20),
    }
    assert set(setups) == set(API_KEYS)  # every kind the service knows
    wrappers = {
        "newrelic_notification": models.NewRelicNotificationRequest,
        "email_notification": models.EmailNotificationRequest,
        "ses_notification": models.SesNotificationRequest,
        "sns_notification": models.SnsNotificationRequest,
        "slack_notification": models.SlackNotificationRequest,
        "teams_notification": models.TeamsNotificationRequest,
        "pagerduty_notification": models.PagerDutyNotificationRequest,
        "webhook_notification": models.WebhookNotificationRequest,
    }
    notifications = [wrappers[key](**{key: setup}) for key, setup in setups.items()]

    created = operation("api_registrations_create").sync(
        client=client,
        body=models.NewRegistrationRequest(
            codedeploy_application_name="checkout", notifications=notifications
        ),
    )
    assert isinstance(created, models.Registration), created
    kinds = [next(iter(n.to_dict())) for n in created.notifications]
    assert kinds == list(setups)

    read = operation("api_registrations_retrieve").sync(id=created.id, client=client)
    assert isinstance(read, models.Registration)
    assert [w.code for w in created.warnings] == ["application_not_found"]  # none in moto
    assert "saved anyway" in created.warnings[0].message
    assert read.warnings == []
    assert {**read.to_dict(), "warnings": []} == {**created.to_dict(), "warnings": []}
    document = json.dumps(read.to_dict())
    assert HOOK not in document and "s" * 20 not in document and "a" * 32 not in document
    assert isinstance(read.notifications[0], models.NewRelicNotification)
    assert read.notifications[0].newrelic_notification.application_name == "checkout"

    changed = operation("api_registrations_partial_update").sync(
        id=created.id,
        client=client,
        body=models.PatchedRegistrationRequest(
            enabled=False,
            notifications=[
                models.NewRelicNotificationRequest(
                    newrelic_notification=models.NewRelicSetupRequest(
                        id=read.notifications[0].newrelic_notification.id,
                        application_name="checkout-eu",
                        events=[models.EventsEnum.SUCCEEDED, models.EventsEnum.FAILED],
                    )
                ),
                notifications[-1],
            ],
        ),
    )
    assert isinstance(changed, models.Registration), changed
    assert changed.enabled is False
    first, second = changed.notifications
    assert first.newrelic_notification.application_name == "checkout-eu"
    assert [e.value for e in first.newrelic_notification.events] == ["succeeded", "failed"]
    assert isinstance(second, models.WebhookNotification)

    refused = operation("api_registrations_create").sync(
        client=client,
        body=models.NewRegistrationRequest(
            codedeploy_application_name="checkout", notifications=notifications[:1]
        ),
    )
    assert isinstance(refused, models.FieldErrors)
    assert "registered already" in refused["codedeploy_application_name"][0]

    replaced = operation("api_registrations_by_name_update").sync_detailed(
        application="checkout",
        client=client,
        body=models.ReplaceRegistrationRequest(enabled=True, notifications=notifications[:1]),
    )
    assert replaced.status_code == 200, replaced.content
    assert replaced.headers["ETag"] and replaced.parsed.enabled is True
    planned = operation("api_registrations_apply_create").sync(
        client=client,
        dry_run=True,
        body=models.RegistrationsDocumentRequest(registrations=[]),
        prune=True,
    )
    assert isinstance(planned, models.ApplyResult), planned
    assert (planned.removed, planned.applied) == (["default/checkout"], False)

    deleted = operation("api_registrations_destroy").sync_detailed(id=created.id, client=client)
    assert deleted.status_code == 204
    gone = operation("api_registrations_retrieve").sync(id=created.id, client=client)
    assert isinstance(gone, models.Error)
    assert gone.detail

"""Registrations published to DynamoDB carry no secret, neither plain nor encrypted, so
rotating NOTIFIER_ENCRYPTION_KEY (manage.py rotate_encryption_key) has nothing to do there."""

from __future__ import annotations

import json

import pytest

from channels.secrets import PREFIX
from tests.registrations.test_dynamodb import api, table  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_a_published_registration_carries_no_secret(table, api, settings):  # noqa: F811
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    response = api.post(
        "/api/registrations/",
        {
            "codedeploy_application_name": "storefront",
            "notifications": [
                {
                    "webhook_notification": {
                        "url": "https://127.0.0.1/services/T0001/B0002/abcdefghijklmnop",
                        "secret": "hmac-secret-123456",
                        "headers": "X-Token: t0k3n-123456",
                    }
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    document = json.dumps(table.documents()["storefront"])
    assert "webhook_notification" in document
    for value in ("abcdefghijklmnop", "hmac-secret-123456", "t0k3n-123456", PREFIX):
        assert value not in document

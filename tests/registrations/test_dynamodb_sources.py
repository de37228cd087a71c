"""Registrations of several sources in DynamoDB (NOTIFIER_STORAGE=dynamodb), on moto's
server: the default source's keep the bare application name as key, as before sources."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from notifier.sources import boto3_session_for
from registrations.models import Registration
from registrations.sources import Source
from tests.registrations.test_dynamodb import ORIGINAL, api, send, table  # noqa: F401

pytestmark = pytest.mark.django_db

ROLE = "arn:aws:iam::210987654321:role/codedeploy-notifier"


@pytest.fixture(autouse=True)
def fresh_sessions(aws):
    boto3_session_for.cache_clear()


def test_another_sources_registration_is_keyed_by_source_and_name(table, api):  # noqa: F811
    Source.objects.create(name="prod", credentials="role", role_arn=ROLE)
    default = send(api, "post", "/api/registrations/", ORIGINAL)
    prod = send(api, "post", "/api/registrations/", {**ORIGINAL, "source": "prod"})
    assert (default.status_code, prod.status_code) == (201, 201), prod.content

    documents = table.documents()
    assert set(documents) == {"storefront", "prod/storefront"}
    answer = default.json()
    answer.pop("warnings")  # about the save, never stored
    assert documents["storefront"] == answer  # the original shape, plus source
    assert documents["prod/storefront"] == {
        **{key: value for key, value in prod.json().items() if key != "warnings"},
        "codedeploy_application_name": "prod/storefront",
    }

    path = f"/api/registrations/{prod.json()['id']}/"
    assert send(api, "patch", path, {"codedeploy_application_name": "shop"}).status_code == 200
    assert set(table.documents()) == {"storefront", "prod/shop"}
    assert send(api, "patch", path, {"source": "default"}).status_code == 200
    assert set(table.documents()) == {"storefront", "shop"}
    assert api.delete(path).status_code == 204
    assert set(table.documents()) == {"storefront"}


def test_sync_finds_every_sources_registration_the_same(table, api):  # noqa: F811
    Source.objects.create(name="prod", credentials="role", role_arn=ROLE)
    send(api, "post", "/api/registrations/", ORIGINAL)
    send(api, "post", "/api/registrations/", {**ORIGINAL, "source": "prod"})
    out = io.StringIO()
    call_command("dynamodb_sync_registrations", stdout=out)
    assert "0 added, 0 updated, 0 removed, 2 already the same" in out.getvalue()
    assert Registration.objects.count() == 2


def test_ensure_schedule_makes_the_default_source_when_missing():
    Registration.objects.all().delete()
    Source.objects.all().delete()
    out = io.StringIO()
    call_command("ensure_schedule", stdout=out)
    assert "Default source 'default'" in out.getvalue()
    assert Source.objects.get().is_default

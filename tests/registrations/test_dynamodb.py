"""Registrations persisted in DynamoDB too (NOTIFIER_STORAGE=dynamodb), on moto's server."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registrations.models import Registration
from registrations.storage import RegistrationTable
from tests.registrations.test_admin import ADD_URL, management_data, newrelic_prefix
from tests.support.dynamodb import serialise_moto_writes

pytestmark = pytest.mark.django_db

ORIGINAL = {
    "codedeploy_application_name": "storefront",
    "notifications": [{"newrelic_notification": {"application_name": "storefront-web"}}],
}


@pytest.fixture
def table(aws, settings):
    settings.NOTIFIER_STORAGE = "dynamodb"
    serialise_moto_writes()
    table = RegistrationTable(prefix=settings.NOTIFIER_DYNAMODB_TABLE_PREFIX)
    table.table_ensure()
    return table


@pytest.fixture
def api():
    user = User.objects.create_user("automation", is_staff=True, is_superuser=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def send(api, method, path, body=None):
    return getattr(api, method)(path, data=json.dumps(body), content_type="application/json")


def refuse_writes(table) -> None:
    """Make DynamoDB refuse: the registrations table is gone."""
    table.client.delete_table(TableName=table.name)


def test_a_registration_made_through_the_api_is_in_dynamodb_in_the_original_shape(table, api):
    response = send(api, "post", "/api/registrations/", ORIGINAL)
    assert response.status_code == 201, response.content
    document = table.documents()["storefront"]
    assert document["codedeploy_application_name"] == "storefront"
    (notification,) = document["notifications"]
    assert notification["newrelic_notification"]["application_name"] == "storefront-web"
    # The document is what the API shows, so write-only fields (secrets) are never in it.
    read = api.get(f"/api/registrations/{response.json()['id']}/").json()
    assert read.pop("warnings") == []  # about a save, never stored
    assert document == read


def test_updates_renames_and_deletes_reach_dynamodb(table, api):
    registration_id = send(api, "post", "/api/registrations/", ORIGINAL).json()["id"]
    path = f"/api/registrations/{registration_id}/"
    response = send(api, "patch", path, {"enabled": False})
    assert response.status_code == 200, response.content
    assert table.documents()["storefront"]["enabled"] is False

    response = send(api, "patch", path, {"codedeploy_application_name": "shop"})
    assert response.status_code == 200, response.content
    assert set(table.documents()) == {"shop"}

    assert api.delete(path).status_code == 204
    assert table.documents() == {}


def test_a_refused_write_fails_the_request_and_saves_nothing(table, api):
    refuse_writes(table)
    response = send(api, "post", "/api/registrations/", ORIGINAL)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "'storefront' was not saved: DynamoDB refused" in detail
    assert "dynamodb_create_tables" in detail
    assert not Registration.objects.exists()


def test_a_refused_delete_keeps_the_registration(table, api):
    registration_id = send(api, "post", "/api/registrations/", ORIGINAL).json()["id"]
    refuse_writes(table)
    response = api.delete(f"/api/registrations/{registration_id}/")
    assert response.status_code == 503
    assert "not deleted" in response.json()["detail"]
    assert Registration.objects.get().setups.count() == 1


def test_a_registration_saved_in_the_admin_is_in_dynamodb(table, admin_client):
    html = admin_client.get(ADD_URL).content.decode()
    prefix = newrelic_prefix(html)
    data = {
        "codedeploy_application_name": "storefront",
        "enabled": "on",
        **management_data(html),
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-application_name": "storefront-web",
        f"{prefix}-0-events": ["succeeded"],
        f"{prefix}-0-enabled": "on",
    }
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    (notification,) = table.documents()["storefront"]["notifications"]
    assert notification["newrelic_notification"]["application_name"] == "storefront-web"

    registration = Registration.objects.get()
    delete_url = f"/admin/registrations/registration/{registration.pk}/delete/"
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert table.documents() == {}


def test_the_admin_shows_a_refusal_and_saves_nothing(table, admin_client):
    refuse_writes(table)
    html = admin_client.get(ADD_URL).content.decode()
    data = {"codedeploy_application_name": "storefront", "enabled": "on", **management_data(html)}
    response = admin_client.post(ADD_URL, data, follow=True)
    page = response.content.decode()
    assert "was not saved: DynamoDB refused" in page
    assert not Registration.objects.exists()


def test_with_the_orm_store_nothing_is_written_to_dynamodb(table, api, settings):
    settings.NOTIFIER_STORAGE = "orm"
    refuse_writes(table)  # would fail the request if anything were written
    assert send(api, "post", "/api/registrations/", ORIGINAL).status_code == 201


def test_sync_pushes_every_registration_and_reports_differences(table, api, settings, capsys):
    send(api, "post", "/api/registrations/", ORIGINAL)
    send(api, "post", "/api/registrations/", {**ORIGINAL, "codedeploy_application_name": "shop"})
    # DynamoDB drifted: one document lost, one stale, one left over.
    table.delete("shop")
    stale = table.documents()["storefront"]
    table.put({**stale, "enabled": False})
    table.put({**stale, "codedeploy_application_name": "gone"})

    call_command("dynamodb_sync_registrations", "--dry-run")
    dry = capsys.readouterr().out
    assert "added shop (missing from DynamoDB)" in dry
    assert "updated storefront (differed in enabled)" in dry
    assert "removed gone (no such registration here)" in dry
    assert "dry run: nothing was written" in dry
    assert "gone" in table.documents()

    call_command("dynamodb_sync_registrations")
    assert "1 added, 1 updated, 1 removed, 0 already the same" in capsys.readouterr().out
    assert set(table.documents()) == {"storefront", "shop"}
    call_command("dynamodb_sync_registrations")
    assert "0 added, 0 updated, 0 removed, 2 already the same" in capsys.readouterr().out

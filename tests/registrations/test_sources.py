"""Sources in the API and the admin, and registrations that belong to one; moto's STS over
HTTP answers the identity checks (a role assumed through moto acts in the role's account)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifier.sources import boto3_session_for
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.support.aws import ACCOUNT
from tests.support.sts import DenyingSts

pytestmark = pytest.mark.django_db

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"
ORIGINAL = {
    "codedeploy_application_name": "CODE_DEPLOY_APPLICATION_NAME",
    "notifications": [{"newrelic_notification": {"application_name": "NEWRELIC_APPLICATION_NAME"}}],
}
PROD = {"name": "prod", "region": "eu-west-1", "credentials": "role", "role_arn": ROLE}


@pytest.fixture(autouse=True)
def fresh_sessions(aws):
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api() -> APIClient:
    return client_for(User.objects.create_user("automation", is_staff=True))


def send(api, method, path, body=None):
    return getattr(api, method)(path, data=json.dumps(body), content_type="application/json")


def prod_source(**fields) -> Source:
    return Source.objects.create(**{**PROD, **fields})


# --- the default source and the original request ---------------------------------------


def test_the_original_request_registers_in_the_default_source_in_the_original_shape(api):
    response = send(api, "post", "/registrations", ORIGINAL)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "default"
    assert set(body) == {
        "id",
        "codedeploy_application_name",
        "source",
        "team",
        "enabled",
        "deployment_groups",
        "notifications",
        "created_at",
        "updated_at",
        "warnings",
    }
    registration = Registration.objects.get()
    assert registration.source == source_default()
    assert registration.source.is_default and registration.source.credentials == "own"


def test_the_same_application_in_two_sources_is_two_registrations(api):
    prod_source()
    first = send(api, "post", "/api/registrations/", ORIGINAL)
    second = send(api, "post", "/api/registrations/", {**ORIGINAL, "source": "prod"})
    assert (first.status_code, second.status_code) == (201, 201), second.content
    assert (first.json()["source"], second.json()["source"]) == ("default", "prod")

    third = send(api, "post", "/api/registrations/", {**ORIGINAL, "source": "prod"})
    assert third.status_code == 400
    assert third.json()["codedeploy_application_name"] == [
        f"'CODE_DEPLOY_APPLICATION_NAME' is registered already in source 'prod' "
        f"(registration {second.json()['id']}); update that registration instead"
    ]
    assert Registration.objects.count() == 2


def test_an_unknown_source_is_refused_naming_the_field(api):
    response = send(api, "post", "/api/registrations/", {**ORIGINAL, "source": "nope"})
    assert response.status_code == 400
    (message,) = response.json()["source"]
    assert message.startswith("source 'nope' does not exist: name one of the sources")
    assert not Registration.objects.exists()


def test_an_update_without_source_keeps_the_registrations_source(api):
    prod_source()
    created = send(api, "post", "/api/registrations/", {**ORIGINAL, "source": "prod"}).json()
    body = {**ORIGINAL, "enabled": False}  # a PUT without source
    response = send(api, "put", f"/api/registrations/{created['id']}/", body)
    assert response.status_code == 200, response.content
    assert response.json()["source"] == "prod"


def test_the_default_source_is_made_again_when_missing():
    Source.objects.all().delete()
    registration = Registration.objects.create(codedeploy_application_name="shop")
    assert registration.source.name == "default" and registration.source.is_default
    assert source_default() == registration.source


# --- /api/sources/ ---------------------------------------------------------------------


def test_staff_add_a_role_source_and_it_learns_the_roles_account(api):
    response = send(api, "post", "/api/sources/", {**PROD, "external_id": "x-123456"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["account_id"] == OTHER_ACCOUNT
    assert body["check_error"] == "" and body["last_checked"]
    assert body["external_id_set"] is True
    assert "external_id" not in body
    assert "x-123456" not in response.content.decode()
    assert Source.objects.get(name="prod").external_id == "x-123456"


def test_the_default_source_is_listed_and_checked_on_save(api):
    (default,) = api.get("/api/sources/").json()["results"]
    assert default["name"] == "default" and default["is_default"] is True
    response = send(api, "patch", f"/api/sources/{default['id']}/", {"enabled": False})
    assert response.status_code == 200, response.content
    assert response.json()["account_id"] == ACCOUNT
    assert response.json()["enabled"] is False


def test_a_role_that_cannot_be_assumed_is_saved_and_shown_failing(
    api, aws, httpserver, monkeypatch
):
    relay = DenyingSts(httpserver, aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", relay.url)
    denied = f"arn:aws:iam::{OTHER_ACCOUNT}:role/not-trusted"
    relay.denied.add(denied)

    response = send(api, "post", "/api/sources/", {**PROD, "role_arn": denied})
    assert response.status_code == 201, response.content
    assert response.json()["account_id"] == ""
    assert "AccessDenied" in response.json()["check_error"]
    assert "trust policy" in response.json()["check_error"]

    other = send(api, "post", "/api/sources/", {**PROD, "name": "prod-us", "region": "us-east-2"})
    assert other.json()["account_id"] == OTHER_ACCOUNT
    assert other.json()["check_error"] == ""


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**PROD, "region": "Europe"}, "region", "is not an AWS region name"),
        ({**PROD, "role_arn": "arn:aws:iam::123:role/x"}, "role_arn", "12-digit account id"),
        ({**PROD, "role_arn": ""}, "role_arn", "role_arn is required when credentials is 'role'"),
        ({**PROD, "name": "Prod EU"}, "name", "lowercase letters, digits and hyphens"),
        ({**PROD, "name": "default"}, "name", "exists already"),
        ({**PROD, "credentials": "own"}, "credentials", "credentials is 'own'"),
        ({**PROD, "external_id": "x"}, "external_id", "2-1224"),
        ({**PROD, "queue_url": "arn:aws:sqs:eu-west-1:1:q"}, "queue_url", "an SQS queue URL"),
        (
            {**PROD, "queue_url": "https://sqs.eu-west-1.amazonaws.com/123/q"},
            "queue_url",
            "12-digit account id",
        ),
    ],
)
def test_invalid_sources_are_refused_naming_the_field(api, body, field, words):
    response = send(api, "post", "/api/sources/", body)
    assert response.status_code == 400, response.content
    assert words in json.dumps(response.json()[field]), response.json()
    assert Source.objects.count() == 1


def test_a_source_keeps_its_push_queue_and_the_engine_sees_it(api):
    queue = "https://sqs.eu-west-1.amazonaws.com/210987654321/codedeploy-events"
    response = send(api, "post", "/api/sources/", {**PROD, "queue_url": queue})
    assert response.status_code == 201, response.content
    assert response.json()["queue_url"] == queue
    assert Source.objects.get(name=PROD["name"]).config().queue_url == queue


def test_a_sources_name_cannot_change_and_the_default_cannot_take_a_role(api):
    prod = prod_source()
    renamed = send(api, "patch", f"/api/sources/{prod.pk}/", {"name": "production"})
    assert renamed.status_code == 400
    assert "cannot be changed" in renamed.json()["name"][0]
    default = source_default()
    role = send(
        api, "patch", f"/api/sources/{default.pk}/", {"credentials": "role", "role_arn": ROLE}
    )
    assert role.status_code == 400
    assert "default source always uses the service's own" in role.json()["credentials"][0]


def test_deleting_the_default_or_a_source_in_use_is_refused(api):
    default = source_default()
    response = api.delete(f"/api/sources/{default.pk}/")
    assert response.status_code == 409
    assert "default source cannot be deleted" in response.json()["detail"]

    prod = prod_source()
    Registration.objects.create(codedeploy_application_name="shop", source=prod)
    response = api.delete(f"/api/sources/{prod.pk}/")
    assert response.status_code == 409
    assert "still has 1 registration(s)" in response.json()["detail"]

    Registration.objects.all().delete()
    assert api.delete(f"/api/sources/{prod.pk}/").status_code == 204


def test_anyone_signed_in_reads_sources_and_only_staff_change_them():
    member = client_for(User.objects.create_user("sam"))
    assert member.get("/api/sources/").status_code == 200
    response = send(member, "post", "/api/sources/", PROD)
    assert response.status_code == 403
    assert "only staff may add, change or delete sources" in response.json()["detail"]
    assert APIClient().get("/api/sources/").status_code in (401, 403)

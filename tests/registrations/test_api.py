from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registrations.models import NotificationSetup, Registration

pytestmark = pytest.mark.django_db

ORIGINAL = {
    "codedeploy_application_name": "CODE_DEPLOY_APPLICATION_NAME",
    "notifications": [{"newrelic_notification": {"application_name": "NEWRELIC_APPLICATION_NAME"}}],
}


@pytest.fixture
def api():
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def post(api, body, path="/api/registrations/", **kwargs):
    data = body if isinstance(body, str) else json.dumps(body)
    return api.post(
        path, data=data, content_type=kwargs.pop("content_type", "application/json"), **kwargs
    )


def test_the_original_request_registers_an_application(api):
    response = post(api, ORIGINAL, path="/registrations")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["codedeploy_application_name"] == "CODE_DEPLOY_APPLICATION_NAME"
    (setup,) = body["notifications"]
    assert setup["newrelic_notification"]["application_name"] == "NEWRELIC_APPLICATION_NAME"
    assert setup["newrelic_notification"]["events"] == ["succeeded"]
    stored = Registration.objects.get()
    assert stored.setups.get().typed().application_name == "NEWRELIC_APPLICATION_NAME"


def test_it_lists_gets_updates_and_deletes(api):
    created = post(api, ORIGINAL).json()
    url = f"/api/registrations/{created['id']}/"
    assert api.get("/api/registrations/").json()["results"][0]["id"] == created["id"]
    assert api.get(url).json() == created

    setup_id = created["notifications"][0]["newrelic_notification"]["id"]
    changed = api.patch(
        url,
        data=json.dumps(
            {
                "enabled": False,
                "notifications": [
                    {
                        "newrelic_notification": {
                            "id": setup_id,
                            "application_name": "renamed",
                            "events": ["succeeded", "failed"],
                        }
                    },
                    {"newrelic_notification": {"application_name": "second"}},
                ],
            }
        ),
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    setups = [n["newrelic_notification"] for n in changed.json()["notifications"]]
    assert setups[0] == {
        **setups[0],
        "id": setup_id,
        "application_name": "renamed",
        "events": ["succeeded", "failed"],
    }
    assert setups[1]["application_name"] == "second"
    assert changed.json()["enabled"] is False

    assert api.delete(url).status_code == 204
    assert not Registration.objects.exists() and not NotificationSetup.objects.exists()


def test_replacing_notifications_drops_the_ones_left_out(api):
    created = post(api, ORIGINAL).json()
    url = f"/api/registrations/{created['id']}/"
    response = api.patch(
        url,
        data=json.dumps(
            {"notifications": [{"newrelic_notification": {"application_name": "other"}}]}
        ),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert list(
        NotificationSetup.objects.values_list("newrelicsetup__application_name", flat=True)
    ) == ["other"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"notifications": ORIGINAL["notifications"]},
            "codedeploy_application_name",
            "codedeploy_application_name is required",
        ),
        (
            {**ORIGINAL, "codedeploy_application_name": "  "},
            "codedeploy_application_name",
            "must not be blank",
        ),
        (
            {**ORIGINAL, "codedeploy_application_name": "x" * 101},
            "codedeploy_application_name",
            "no more than 100 characters",
        ),
        (
            {**ORIGINAL, "notifications": [{"pigeon_notification": {}}]},
            "notifications",
            "unknown notification kind 'pigeon_notification'; known kinds: "
            "email_notification, newrelic_notification, pagerduty_notification",
        ),
        ({**ORIGINAL, "notifications": [{}]}, "notifications", "exactly one kind key"),
        (
            {
                **ORIGINAL,
                "notifications": [
                    {"newrelic_notification": {"application_name": "a"}, "other_notification": {}}
                ],
            },
            "notifications",
            "exactly one kind key",
        ),
        (
            {**ORIGINAL, "notifications": [{"newrelic_notification": {}}]},
            "notifications",
            "application_name",
        ),
        (
            {
                **ORIGINAL,
                "notifications": [
                    {"newrelic_notification": {"application_name": "a", "events": ["exploded"]}}
                ],
            },
            "notifications",
            "exploded",
        ),
        ({**ORIGINAL, "notifications": []}, "notifications", "at least one notification"),
        ({**ORIGINAL, "notifications": "newrelic"}, "notifications", "must be a list"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_saved(api, body, field, words):
    response = post(api, body)
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in json.dumps(errors), errors
    assert not Registration.objects.exists()
    assert not NotificationSetup.objects.exists()


def test_an_application_registered_already_is_refused(api):
    first = post(api, ORIGINAL).json()
    response = post(api, ORIGINAL)
    assert response.status_code == 400
    assert response.json()["codedeploy_application_name"] == [
        f"'CODE_DEPLOY_APPLICATION_NAME' is registered already (registration {first['id']}); "
        "update that registration instead"
    ]
    assert Registration.objects.count() == 1


def test_malformed_json_is_a_clear_400(api):
    response = post(api, '{"codedeploy_application_name": ')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The request body is not valid JSON")
    assert not Registration.objects.exists()


def test_a_body_that_is_not_json_is_refused_with_what_to_send(api):
    response = api.post(
        "/api/registrations/",
        data="codedeploy_application_name=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    assert not Registration.objects.exists()


def test_no_credentials_is_401():
    response = APIClient().post(
        "/api/registrations/", data=json.dumps(ORIGINAL), content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_bad_setup_in_an_update_changes_nothing(api):
    created = post(api, ORIGINAL).json()
    url = f"/api/registrations/{created['id']}/"
    response = api.patch(
        url,
        data=json.dumps(
            {
                "codedeploy_application_name": "renamed",
                "notifications": [{"newrelic_notification": {"id": 9999, "application_name": "x"}}],
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "has no setup 9999" in json.dumps(response.json())
    assert api.get(url).json() == created


def test_the_schema_and_docs_are_served_without_a_cdn(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/registrations/" in schema.content
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


def test_errors_never_carry_a_stack_trace(api):
    response = api.get("/api/registrations/not-a-number/")
    assert response.status_code == 404
    assert "Traceback" not in response.content.decode()

"""What /api/schema/ says about registrations, so automation (and generated clients) can
rely on it; the contract test checks the running API against it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.registry import API_KEYS

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(settings):
    settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION = 7
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_notifications_is_a_list_of_one_of_the_eight_kinds(schema):
    create = schema["paths"]["/api/registrations/"]["post"]["requestBody"]["content"]
    body = resolve(schema, create["application/json"]["schema"])
    assert {"codedeploy_application_name", "notifications"} <= set(body["required"])
    notifications = body["properties"]["notifications"]
    assert (notifications["type"], notifications["minItems"], notifications["maxItems"]) == (
        "array",
        1,
        7,
    )
    kinds = [resolve(schema, item) for item in notifications["items"]["oneOf"]]
    assert sorted(key for kind in kinds for key in kind["required"]) == sorted(API_KEYS)
    for kind in kinds:
        assert kind["additionalProperties"] is False
        assert len(kind["properties"]) == 1


def test_each_kind_states_its_fields_events_limits_and_write_only_secrets(schema):
    components = schema["components"]["schemas"]
    sns = components["SnsSetupRequest"]
    assert sns["required"] == ["topic"]
    assert sns["properties"]["topic"]["maxLength"] == 400
    assert sns["properties"]["topic"]["pattern"].startswith("^arn:aws")
    events = sns["properties"]["events"]
    assert events["minItems"] == 1
    assert resolve(schema, events["items"])["enum"] == [
        "started",
        "ready",
        "succeeded",
        "failed",
        "stopped",
    ]
    pagerduty = components["PagerDutySetupRequest"]
    assert pagerduty["required"] == ["routing_key"]
    assert pagerduty["properties"]["routing_key"]["writeOnly"] is True
    assert "routing_key" not in components["PagerDutySetup"]["properties"]  # never returned
    webhook = components["WebhookSetupRequest"]
    assert webhook["required"] == ["url"]
    assert all(webhook["properties"][name]["writeOnly"] for name in ("url", "secret", "headers"))
    assert not {"url", "secret", "headers"} & set(components["WebhookSetup"]["properties"])
    assert components["NewRelicSetupRequest"]["properties"]["application_name"]["description"]


def test_every_operation_documents_its_errors_with_their_bodies(schema):
    paths = schema["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403"} <= set(responses), (method, path)
            if method in ("post", "put", "patch"):
                assert {"400", "413", "415"} <= set(responses), (method, path)
                assert responses["400"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/FieldErrors"
                }
            if "{" in path:
                assert "404" in responses, (method, path)
    test_send = paths["/api/registrations/{id}/test/"]["post"]["responses"]
    assert test_send["429"]["headers"]["Retry-After"]["required"] is True
    assert "409" in paths["/api/sources/{id}/"]["delete"]["responses"]
    assert "201" in paths["/registrations"]["post"]["responses"]  # the original path
    errors = schema["components"]["schemas"]["FieldErrors"]
    assert errors["additionalProperties"]["type"] == "array"


def test_an_id_that_is_not_a_number_is_a_json_404_under_the_api(client):
    response = client.get("/api/registrations/0.5/")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No such API path")
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]


def test_the_api_takes_json_types_as_the_document_states_them():
    user = User.objects.create_user("automation", is_staff=True)
    api = APIClient()
    api.force_authenticate(user)
    body = {
        "codedeploy_application_name": "app",
        "enabled": "false",
        "notifications": [{"newrelic_notification": {"application_name": 12}}],
    }
    response = api.post("/api/registrations/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert errors["enabled"] == ["must be true or false (a JSON boolean)"]
    assert errors["notifications"][0]["newrelic_notification"]["application_name"] == [
        "must be a string"
    ]


def error_body(schema, response) -> dict:
    return resolve(schema, response["content"]["application/json"]["schema"])


def test_put_by_name_documents_its_body_answers_etag_and_preconditions(schema):
    put = schema["paths"]["/api/registrations/by-name/{application}"]["put"]
    body = resolve(schema, put["requestBody"]["content"]["application/json"]["schema"])
    assert "notifications" in body["required"]
    assert not {"codedeploy_application_name", "source"} & set(body["properties"])
    responses = put["responses"]
    codes = {"200", "201", "400", "401", "403", "404", "409", "412", "413", "415"}
    assert codes <= set(responses)
    for code in codes - {"200", "201", "400"}:
        assert set(error_body(schema, responses[code])["properties"]) >= {"detail"}, code
    for code in ("200", "201"):
        assert "ETag" in responses[code]["headers"], code
        assert "notifications" in error_body(schema, responses[code])["properties"]
    parameters = {(p["in"], p["name"]): p for p in put["parameters"]}
    assert {("header", "If-Match"), ("header", "If-None-Match"), ("query", "source")} <= set(
        parameters
    )
    pattern = re.compile(parameters[("path", "application")]["schema"]["pattern"])
    assert pattern.search("storefront-v2.1_web") and pattern.search("a" * 100)
    assert not any(pattern.search(name) for name in ("a b", "..", ".", "a" * 101, "café"))
    get = schema["paths"]["/api/registrations/by-name/{application}"]["get"]["responses"]
    assert "ETag" in get["200"]["headers"] and {"401", "403", "404"} <= set(get)


def test_apply_documents_json_and_yaml_bodies_its_diff_and_the_types_it_takes(schema):
    apply = schema["paths"]["/api/registrations/apply"]["post"]
    content = apply["requestBody"]["content"]
    assert set(content) == {"application/json", "application/yaml", "text/yaml"}
    assert {body["schema"]["$ref"] for body in content.values()} == {
        "#/components/schemas/RegistrationsDocumentRequest"
    }
    document = resolve(schema, content["text/yaml"]["schema"])
    assert (document["required"], document["additionalProperties"]) == (["registrations"], False)
    item = resolve(schema, document["properties"]["registrations"]["items"])
    assert {"codedeploy_application_name", "notifications"} <= set(item["required"])
    assert "source" in item["properties"]
    result = error_body(schema, apply["responses"]["200"])
    assert set(result["properties"]) == {"added", "changed", "removed", "unchanged", "applied"}
    change = resolve(schema, result["properties"]["changed"]["items"])
    assert set(change["properties"]) == {"registration", "fields"}
    refused = apply["responses"]["415"]
    assert "application/yaml" in refused["description"] and "text/yaml" in refused["description"]
    assert {"400", "401", "403", "413"} <= set(apply["responses"])
    flags = {p["name"]: p["schema"]["type"] for p in apply["parameters"]}
    assert flags == {"dry_run": "boolean", "prune": "boolean", "team": "string"}


def test_writes_by_id_document_the_etag_and_if_match(schema):
    item = schema["paths"]["/api/registrations/{id}/"]
    for method in ("put", "patch", "delete"):
        names = {p["name"] for p in item[method]["parameters"] if p["in"] == "header"}
        assert "If-Match" in names, method
        assert "412" in item[method]["responses"], method
    for method in ("get", "put", "patch"):
        assert "ETag" in item[method]["responses"]["200"]["headers"], method


def test_string_patterns_state_a_slack_token_and_refuse_a_blank_where_the_api_does(schema):
    components = schema["components"]["schemas"]
    token = re.compile(components["SlackSetupRequest"]["properties"]["bot_token"]["pattern"])
    assert token.search("xoxb-1-2-abc") and token.search("")
    assert not token.search("abc")
    url = re.compile(components["WebhookSetupRequest"]["properties"]["url"]["pattern"])
    assert url.search("https://example.com/hook")
    assert not url.search("\n") and not url.search("  ")
    setup_id = components["WebhookSetupRequest"]["properties"]["id"]
    assert setup_id["minimum"] == 1
    assert components["TestRequestRequest"]["properties"]["setup"]["minimum"] == 1
    for component in ("WebhookSetupRequest", "NewRegistrationRequest"):
        given, blank = components[component]["properties"]["deployment_groups"]["oneOf"]
        assert blank["maxLength"] == 0
        groups = re.compile(given["pattern"])
        assert groups.search(" blue, green\n" + "g" * 100) and not groups.search("")
        assert not groups.search("g" * 101) and not groups.search("blue " + "g" * 101)


def test_a_page_is_one_whole_number_as_the_document_says():
    user = User.objects.create_user("automation", is_staff=True)
    api = APIClient()
    api.force_authenticate(user)
    assert api.get("/api/registrations/?page=1").status_code == 200
    for query in ("page=last", "page=1&page=1", "page=%C2%B9", "page=0"):
        response = api.get(f"/api/registrations/?{query}")
        assert response.status_code == 404, query
        assert "page" in response.json()["detail"].lower(), query

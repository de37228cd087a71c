"""New Relic change tracking through NerdGraph, beside the REST v2 markers."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from werkzeug import Request, Response

from channels import newrelic as channel
from channels.base import ChannelError
from channels.newrelic import NERDGRAPH, NewRelicSetup, change_tracking_request
from tests.support.newrelic import API_KEY

GUID = "MXxBUE18QVBQTElDQVRJT058MTIzNDU2"


@pytest.fixture
def nerdgraph(httpserver, settings):
    settings.NEW_RELIC_NERDGRAPH_URL = httpserver.url_for("/graphql")
    settings.NEW_RELIC_API_KEY = API_KEY
    received: list[dict] = []
    answers: list[Response] = []

    def handle(request: Request) -> Response:
        if request.headers.get("API-Key") != API_KEY:
            return Response(json.dumps({"errors": [{"message": "Invalid API key"}]}), status=401)
        body = request.get_json()
        received.append(body)
        if answers:
            return answers.pop(0)
        deployment = body["variables"]["deployment"]
        data = {"deploymentId": "a1b2c3", "entityGuid": deployment["entityGuid"]}
        return Response(
            json.dumps({"data": {"changeTrackingCreateDeployment": data}}),
            content_type="application/json",
        )

    httpserver.expect_request("/graphql", method="POST").respond_with_handler(handle)
    return received, answers


def setup() -> NewRelicSetup:
    return NewRelicSetup(api=NERDGRAPH, entity_guid=GUID)


def test_the_mutation_carries_version_commit_link_and_time(succeeded_event):
    request = change_tracking_request(succeeded_event, setup())
    assert "changeTrackingCreateDeployment(deployment: $deployment)" in request["query"]
    deployment = request["variables"]["deployment"]
    assert deployment["entityGuid"] == GUID
    assert deployment["version"] == deployment["commit"] == succeeded_event.revision.commit_id
    assert deployment["deepLink"] == succeeded_event.console_url
    assert deployment["description"] == (
        "CodeDeploy storefront/production deployment d-7QK2M4ZP1 Succeeded"
    )
    assert deployment["timestamp"] == int(succeeded_event.complete_time.timestamp() * 1000)
    assert deployment["user"] == "an AWS user (not known yet)"  # CloudTrail has not named them


def test_it_records_a_change_tracking_deployment(nerdgraph, succeeded_event):
    received, _ = nerdgraph
    delivery = channel.send(succeeded_event, setup())
    assert delivery.detail == f"change tracking deployment a1b2c3 on {GUID}"
    assert received[0]["variables"]["deployment"]["groupId"] == "d-7QK2M4ZP1"


def test_graphql_errors_are_permanent_unless_the_server_failed(nerdgraph, failed_event):
    _, answers = nerdgraph
    answers.append(Response(json.dumps({"errors": [{"message": "Entity not found"}]}), status=200))
    with pytest.raises(ChannelError, match="Entity not found") as caught:
        channel.send(failed_event, setup())
    assert not caught.value.retryable

    server_error = {"message": "try again", "extensions": {"errorClass": "SERVER_ERROR"}}
    answers.append(Response(json.dumps({"errors": [server_error]}), status=200))
    with pytest.raises(ChannelError) as caught:
        channel.send(failed_event, setup())
    assert caught.value.retryable


def test_a_rejected_key_says_so(nerdgraph, settings, failed_event):
    settings.NEW_RELIC_API_KEY = "wrong"
    with pytest.raises(ChannelError, match="rejected NEW_RELIC_API_KEY") as caught:
        channel.send(failed_event, setup())
    assert not caught.value.retryable


def test_rest_stays_the_default(newrelic, succeeded_event, registration):
    newrelic.add_application("web")
    saved = NewRelicSetup.objects.create(registration=registration, application_name="web")
    assert saved.api == "rest"
    channel.send(succeeded_event, saved)
    assert len(newrelic.markers) == 1


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"api": NERDGRAPH}, "entity_guid"),
        ({"api": NERDGRAPH, "entity_guid": "not a guid!"}, "entity_guid"),
        ({"api": "rest"}, "application_name"),
    ],
)
def test_each_api_needs_its_own_field(registration, fields, field):
    with pytest.raises(ValidationError) as caught:
        NewRelicSetup(registration=registration, events=["succeeded"], **fields).full_clean()
    assert field in caught.value.message_dict

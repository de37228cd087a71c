from __future__ import annotations

import pytest

from channels import teams
from channels.base import ChannelError
from channels.teams import TeamsSetup, card

HOOK_PATH = "/workflows/abc123/triggers/manual/paths/invoke"
QUERY = "api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sig=Zm9vYmFyYmF6cXV4"


def test_the_card_is_an_adaptive_card_with_the_failure(failed_event):
    message = card(failed_event, TeamsSetup(webhook_url="https://x"))
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
    title, text, facts, *_ = content["body"]
    assert "storefront/canary deployment d-3HX9WQ2LA failed" in title["text"]
    assert title["color"] == "Attention"
    assert "HOOK_EXECUTION_FAILURE" in text["text"] and "d-5RT8YB3NC" in text["text"]
    assert {"title": "Error", "value": "HOOK_EXECUTION_FAILURE"} in facts["facts"]
    assert content["actions"][0]["url"] == failed_event.console_url


def test_the_subject_template_becomes_the_title(succeeded_event):
    setup = TeamsSetup(webhook_url="https://x", subject_template="Shipped {{ event.application }}")
    assert card(succeeded_event, setup)["attachments"][0]["content"]["body"][0]["text"] == (
        "Shipped storefront"
    )


def test_it_posts_the_card_to_the_workflow(httpserver, allow_local, succeeded_event):
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("", status=202)
    delivery = teams.send(
        succeeded_event, TeamsSetup(webhook_url=httpserver.url_for(HOOK_PATH) + "?" + QUERY)
    )
    assert delivery.response_status == 202
    (request, _), *_ = httpserver.log
    assert request.args["sig"] == "Zm9vYmFyYmF6cXV4"
    assert request.get_json()["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_a_rejected_workflow_url_is_permanent_and_the_signature_stays_secret(
    httpserver, allow_local, failed_event
):
    httpserver.expect_request(HOOK_PATH).respond_with_data(
        f"The workflow with url {HOOK_PATH}?{QUERY} was not found", status=404
    )
    with pytest.raises(ChannelError) as caught:
        teams.send(
            failed_event, TeamsSetup(webhook_url=httpserver.url_for(HOOK_PATH) + "?" + QUERY)
        )
    assert not caught.value.retryable
    assert "Zm9vYmFyYmF6cXV4" not in caught.value.message


@pytest.mark.fault
def test_a_server_error_is_retryable(httpserver, allow_local, failed_event):
    httpserver.expect_request(HOOK_PATH).respond_with_data("oops", status=502)
    with pytest.raises(ChannelError) as caught:
        teams.send(failed_event, TeamsSetup(webhook_url=httpserver.url_for(HOOK_PATH)))
    assert caught.value.retryable

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from werkzeug import Response

from channels import pagerduty
from channels.base import ChannelError
from channels.pagerduty import PagerDutySetup, change_event

KEY = "R0123456789abcdef0123456789abcde"


@pytest.fixture
def events_api(httpserver, settings):
    settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("").rstrip("/")
    return httpserver


def test_the_change_event_carries_summary_details_and_links(failed_event):
    body = change_event(failed_event, PagerDutySetup(routing_key=KEY))
    assert body["routing_key"] == KEY
    payload = body["payload"]
    assert payload["summary"].startswith(
        "CodeDeploy storefront/canary deployment d-3HX9WQ2LA failed"
    )
    assert payload["source"] == "codedeploy:storefront/canary"
    assert payload["timestamp"] == failed_event.complete_time.isoformat()
    assert payload["custom_details"]["error"].startswith("HOOK_EXECUTION_FAILURE: The overall")
    assert payload["custom_details"]["rollback_deployment_id"] == "d-5RT8YB3NC"
    assert payload["custom_details"]["instances"] == "0 succeeded, 1 failed, 3 skipped of 4"
    assert body["links"][0]["href"] == failed_event.console_url


def test_it_enqueues_the_change_event(events_api, succeeded_event):
    events_api.expect_request("/v2/change/enqueue", method="POST").respond_with_json(
        {"status": "success", "message": "Change event processed"}, status=202
    )
    delivery = pagerduty.send(succeeded_event, PagerDutySetup(routing_key=KEY))
    assert delivery.response_status == 202
    (request, _), *_ = events_api.log
    assert request.get_json()["payload"]["custom_details"]["deployment_id"] == "d-7QK2M4ZP1"


def test_a_bad_routing_key_is_permanent_and_not_shown(events_api, failed_event):
    events_api.expect_request("/v2/change/enqueue").respond_with_json(
        {"status": "invalid event", "errors": [f"Invalid routing key {KEY}"]}, status=400
    )
    with pytest.raises(ChannelError) as caught:
        pagerduty.send(failed_event, PagerDutySetup(routing_key=KEY))
    assert not caught.value.retryable
    assert "Invalid routing key" in caught.value.message and KEY not in caught.value.message


@pytest.mark.fault
def test_429_is_retried_after_the_time_asked(events_api, failed_event):
    events_api.expect_request("/v2/change/enqueue").respond_with_response(
        Response("", status=429, headers={"Retry-After": "12"})
    )
    with pytest.raises(ChannelError) as caught:
        pagerduty.send(failed_event, PagerDutySetup(routing_key=KEY))
    assert caught.value.retryable and caught.value.retry_after == 12


def test_a_routing_key_must_look_like_one(registration):
    with pytest.raises(ValidationError) as caught:
        PagerDutySetup(
            registration=registration, routing_key="short", events=["failed"]
        ).full_clean()
    assert "32 letters and digits" in caught.value.message_dict["routing_key"][0]

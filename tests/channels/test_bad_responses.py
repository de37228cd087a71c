"""A success must look like one: a 2xx answer that is not what the provider's API returns (an
HTML page from a proxy, an empty body where an id is expected) is ErrorCode.BAD_RESPONSE,
retried, with an excerpt of the body (redacted) for people to read."""

from __future__ import annotations

import pytest
from django.utils import timezone

from channels import newrelic as newrelic_channel
from channels import pagerduty, slack, teams, webhook
from channels.base import ChannelError, ErrorCode
from channels.newrelic import NERDGRAPH, NewRelicSetup
from channels.pagerduty import PagerDutySetup
from channels.slack import SlackSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier.dispatch import delivery_send
from notifier.storage.base import PENDING, DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.support.newrelic import API_KEY

PROXY_PAGE = (
    "<!DOCTYPE html><html><head><title>Gateway</title></head>"
    "<body><h1>Welcome to the corporate proxy</h1></body></html>"
)


def proxy_page(httpserver, path, status=200):
    httpserver.expect_request(path).respond_with_data(
        PROXY_PAGE, status=status, content_type="text/html"
    )


def refused_as_bad_response(send) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        send()
    error = caught.value
    assert error.code == ErrorCode.BAD_RESPONSE
    assert error.retryable
    assert "Welcome to the corporate proxy" in error.message  # the excerpt
    return error


def test_it_retries_a_new_relic_marker_answered_with_an_html_page(newrelic, succeeded_event):
    app_id = newrelic.add_application("storefront-web")
    # An HTML page where New Relic's JSON should be (a proxy or captive portal answered).
    newrelic.server.clear()
    newrelic.server.expect_request("/v2/applications.json").respond_with_json(
        {"applications": [{"id": app_id, "name": "storefront-web"}]}
    )
    proxy_page(newrelic.server, f"/v2/applications/{app_id}/deployments.json")
    refused_as_bad_response(
        lambda: newrelic_channel.send(
            succeeded_event, NewRelicSetup(application_name="storefront-web")
        )
    )


def test_it_retries_a_new_relic_marker_answered_without_a_marker_id(
    httpserver, settings, succeeded_event
):
    settings.NEW_RELIC_API_URL = httpserver.url_for("").rstrip("/")
    settings.NEW_RELIC_API_KEY = API_KEY
    newrelic_channel._app_ids.clear()
    httpserver.expect_request("/v2/applications.json").respond_with_json(
        {"applications": [{"id": 77, "name": "storefront-web"}]}
    )
    httpserver.expect_request("/v2/applications/77/deployments.json").respond_with_json(
        {"deployment": {}}, status=201
    )
    with pytest.raises(ChannelError) as caught:
        newrelic_channel.send(succeeded_event, NewRelicSetup(application_name="storefront-web"))
    assert caught.value.code == ErrorCode.BAD_RESPONSE and caught.value.retryable
    assert "deployment.id" in caught.value.message


def test_it_retries_a_nerdgraph_marker_answered_with_an_html_page(
    httpserver, settings, succeeded_event
):
    settings.NEW_RELIC_NERDGRAPH_URL = httpserver.url_for("/graphql")
    settings.NEW_RELIC_API_KEY = API_KEY
    proxy_page(httpserver, "/graphql")
    setup = NewRelicSetup(api=NERDGRAPH, entity_guid="MXxBUE18QVBQTElDQVRJT058MTIz")
    refused_as_bad_response(lambda: newrelic_channel.send(succeeded_event, setup))


def test_it_retries_a_nerdgraph_answer_without_a_deployment_id(
    httpserver, settings, succeeded_event
):
    settings.NEW_RELIC_NERDGRAPH_URL = httpserver.url_for("/graphql")
    settings.NEW_RELIC_API_KEY = API_KEY
    httpserver.expect_request("/graphql").respond_with_json({"data": {}})
    setup = NewRelicSetup(api=NERDGRAPH, entity_guid="MXxBUE18QVBQTElDQVRJT058MTIz")
    with pytest.raises(ChannelError) as caught:
        newrelic_channel.send(succeeded_event, setup)
    assert caught.value.code == ErrorCode.BAD_RESPONSE and caught.value.retryable


def test_it_retries_a_slack_webhook_answered_with_an_html_page(
    httpserver, allow_local, succeeded_event
):
    proxy_page(httpserver, "/services/T0/B0/xyz")
    setup = SlackSetup(webhook_url=httpserver.url_for("/services/T0/B0/xyz"))
    refused_as_bad_response(lambda: slack.send(succeeded_event, setup))


def test_it_retries_a_slack_api_call_answered_with_an_html_page(
    httpserver, settings, succeeded_event
):
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    proxy_page(httpserver, "/api/chat.postMessage")
    setup = SlackSetup(bot_token="xoxb-1-2-abc", channel="C0DEPLOYS")
    refused_as_bad_response(lambda: slack.send(succeeded_event, setup))


def test_it_retries_a_slack_post_answered_ok_without_a_ts(httpserver, settings, succeeded_event):
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    httpserver.expect_request("/api/chat.postMessage").respond_with_json({"ok": True})
    setup = SlackSetup(bot_token="xoxb-1-2-abc", channel="C0DEPLOYS")
    with pytest.raises(ChannelError) as caught:
        slack.send(succeeded_event, setup)
    assert caught.value.code == ErrorCode.BAD_RESPONSE and caught.value.retryable


def test_it_retries_a_teams_webhook_answered_with_an_html_page(
    httpserver, allow_local, succeeded_event
):
    proxy_page(httpserver, "/workflows/abc/invoke")
    setup = TeamsSetup(webhook_url=httpserver.url_for("/workflows/abc/invoke"))
    refused_as_bad_response(lambda: teams.send(succeeded_event, setup))


def test_it_accepts_the_legacy_teams_connectors_one(httpserver, allow_local, succeeded_event):
    httpserver.expect_request("/webhookb2/abc").respond_with_data("1", status=200)
    delivery = teams.send(
        succeeded_event, TeamsSetup(webhook_url=httpserver.url_for("/webhookb2/abc"))
    )
    assert delivery.response_status == 200


def test_it_retries_a_pagerduty_change_event_answered_with_an_html_page(
    httpserver, settings, succeeded_event
):
    settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("").rstrip("/")
    proxy_page(httpserver, "/v2/change/enqueue", status=202)
    setup = PagerDutySetup(routing_key="R0123456789abcdef0123456789abcde")
    refused_as_bad_response(lambda: pagerduty.send(succeeded_event, setup))


def test_a_webhook_receiver_is_ours_to_define_so_any_2xx_is_accepted(
    httpserver, allow_local, succeeded_event
):
    proxy_page(httpserver, "/hook")
    delivery = webhook.send(succeeded_event, WebhookSetup(url=httpserver.url_for("/hook")))
    assert delivery.response_status == 200


@pytest.mark.django_db(transaction=True)
def test_the_ledger_keeps_a_bad_response_pending_with_its_excerpt(
    newrelic, succeeded_event, fast_retries
):
    app_id = newrelic.add_application("storefront-web")
    newrelic.server.clear()
    newrelic.server.expect_request("/v2/applications.json").respond_with_json(
        {"applications": [{"id": app_id, "name": "storefront-web"}]}
    )
    proxy_page(newrelic.server, f"/v2/applications/{app_id}/deployments.json")
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    setup = NewRelicSetup.objects.create(
        registration=registration, application_name="storefront-web", events=["succeeded"]
    )
    store = OrmStore()
    store.deployment_save(succeeded_event, seen_at=timezone.now())
    key = DeliveryKey(succeeded_event.deployment_id, "succeeded", setup.pk)
    store.delivery_create(key, kind="newrelic", event=succeeded_event)
    assert delivery_send(key, store=store, holder="a") == PENDING
    delivery = store.delivery_get(key)
    (attempt,) = delivery.history
    assert attempt.error_code == "bad_response"
    assert "Welcome to the corporate proxy" in attempt.error
    assert delivery.next_attempt_at is not None

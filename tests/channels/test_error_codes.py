"""Every ChannelError carries an ErrorCode, produced here by real failing exchanges: a local
HTTP server answering 4xx/5xx or hanging, a closed port, moto's SNS and SES, Slack's API."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from werkzeug import Request, Response

from channels import aws as aws_errors
from channels import newrelic, ses, slack, sns, teams
from channels.base import ChannelError, ErrorCode
from channels.newrelic import NewRelicSetup
from channels.ses import SesSetup
from channels.slack import SlackSetup
from channels.sns import SnsSetup
from channels.teams import TeamsSetup
from tests.support.aws import ACCOUNT, REGION
from tests.support.services import free_port

HOOK = "/workflows/hook"


def teams_error(url: str, event) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        teams.send(event, TeamsSetup(webhook_url=url))
    return caught.value


def test_the_codes_are_a_small_closed_set():
    assert {code.value for code in ErrorCode} == {
        "bad_request",
        "unauthorized",
        "forbidden",
        "not_found",
        "rate_limited",
        "timeout",
        "unreachable",
        "server_error",
        "bad_config",
        "undecryptable",
        "internal",
        "setup_disabled",
        "bad_response",
        "superseded",
    }


@pytest.mark.parametrize(
    "status, code, retryable",
    [
        (400, ErrorCode.BAD_REQUEST, False),
        (401, ErrorCode.UNAUTHORIZED, False),
        (403, ErrorCode.FORBIDDEN, False),
        (404, ErrorCode.NOT_FOUND, False),
        (429, ErrorCode.RATE_LIMITED, True),
        (500, ErrorCode.SERVER_ERROR, True),
        (503, ErrorCode.SERVER_ERROR, True),
    ],
)
def test_it_gives_each_http_answer_its_code(
    httpserver, allow_local, failed_event, status, code, retryable
):
    httpserver.expect_request(HOOK).respond_with_data("no", status=status)
    error = teams_error(httpserver.url_for(HOOK), failed_event)
    assert (error.code, error.retryable, error.response_status) == (code, retryable, status)


@pytest.mark.fault
def test_a_provider_that_hangs_is_a_timeout(httpserver, allow_local, settings, failed_event):
    settings.NOTIFIER_SEND_TIMEOUT = 0.3

    def hang(request: Request) -> Response:
        time.sleep(1)
        return Response("late", status=200)

    httpserver.expect_request(HOOK).respond_with_handler(hang)
    error = teams_error(httpserver.url_for(HOOK), failed_event)
    assert error.code == ErrorCode.TIMEOUT and error.retryable


@pytest.mark.fault
def test_a_refused_connection_is_unreachable(allow_local, failed_event):
    error = teams_error(f"http://127.0.0.1:{free_port()}/hook", failed_event)
    assert error.code == ErrorCode.UNREACHABLE and error.retryable
    assert "connection refused" in error.message


def test_a_url_it_may_not_call_is_bad_config(failed_event):
    error = teams_error("http://127.0.0.1:9/hook", failed_event)  # loopback, not allowed
    assert error.code == ErrorCode.BAD_CONFIG and not error.retryable


def test_a_new_relic_key_it_refuses_is_unauthorized(newrelic, settings, failed_event):
    settings.NEW_RELIC_API_KEY = "NRAK-WRONG"
    with pytest.raises(ChannelError) as caught:
        newrelic_send(failed_event, "web")
    assert caught.value.code == ErrorCode.UNAUTHORIZED
    assert caught.value.response_status == 401


def test_an_unknown_new_relic_application_is_not_found(newrelic, failed_event):
    with pytest.raises(ChannelError) as caught:
        newrelic_send(failed_event, "gone")
    assert caught.value.code == ErrorCode.NOT_FOUND


def test_no_new_relic_key_is_bad_config(settings, failed_event):
    settings.NEW_RELIC_API_KEY = ""
    with pytest.raises(ChannelError) as caught:
        newrelic_send(failed_event, "web")
    assert caught.value.code == ErrorCode.BAD_CONFIG


def newrelic_send(event, application_name: str):
    return newrelic.send(event, NewRelicSetup(application_name=application_name))


@pytest.mark.parametrize(
    "answer, code",
    [
        ("invalid_auth", ErrorCode.UNAUTHORIZED),
        ("channel_not_found", ErrorCode.NOT_FOUND),
        ("missing_scope", ErrorCode.FORBIDDEN),
        ("ratelimited", ErrorCode.RATE_LIMITED),
        ("something_new", ErrorCode.BAD_REQUEST),
    ],
)
def test_slack_errors_carry_slack_s_name_and_a_code(
    httpserver, settings, failed_event, answer, code
):
    settings.SLACK_API_URL = httpserver.url_for("/api").rstrip("/")
    httpserver.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": answer}
    )
    with pytest.raises(ChannelError) as caught:
        slack.send(failed_event, SlackSetup(bot_token="xoxb-1-2-abc", channel="#deploys"))
    assert (caught.value.code, caught.value.provider_code) == (code, answer)


# --- AWS ----------------------------------------------------------------------------------


@pytest.fixture
def aws_channels(aws, settings):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["@example.com"]
    aws_errors.reset_clients()
    yield aws
    aws_errors.reset_clients()


def test_a_missing_sns_topic_is_not_found(aws_channels, failed_event):
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    with pytest.raises(ChannelError) as caught:
        sns.send(failed_event, SnsSetup(topic=arn))
    assert (caught.value.code, caught.value.provider_code) == (ErrorCode.NOT_FOUND, "NotFound")


@pytest.mark.fault
def test_an_unreachable_aws_endpoint_is_unreachable(monkeypatch, aws_channels, failed_event):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", f"http://127.0.0.1:{free_port()}")
    aws_errors.reset_clients()
    with pytest.raises(ChannelError) as caught:
        sns.send(failed_event, SnsSetup(topic=f"arn:aws:sns:{REGION}:{ACCOUNT}:t"))
    assert caught.value.code == ErrorCode.UNREACHABLE and caught.value.retryable


def test_an_unverified_ses_sender_is_bad_config(aws_channels, failed_event):
    setup = SesSetup(from_address="nobody@example.com", recipients="ops@example.com")
    with pytest.raises(ChannelError) as caught:
        ses.send(failed_event, setup)
    assert caught.value.code == ErrorCode.BAD_CONFIG
    assert caught.value.provider_code == "MessageRejected"


@pytest.mark.parametrize(
    "aws_code, status, code",
    [
        ("ThrottlingException", 400, ErrorCode.RATE_LIMITED),
        ("InternalFailure", 500, ErrorCode.SERVER_ERROR),
        ("AccessDeniedException", 400, ErrorCode.FORBIDDEN),
        ("AuthorizationError", 403, ErrorCode.FORBIDDEN),
        ("InvalidClientTokenId", 403, ErrorCode.UNAUTHORIZED),
        ("ResourceNotFoundException", 400, ErrorCode.NOT_FOUND),
        ("InvalidParameter", 400, ErrorCode.BAD_REQUEST),
    ],
)
def test_botocore_error_codes_become_error_codes(aws_code, status, code):
    exc = ClientError(
        {
            "Error": {"Code": aws_code, "Message": "m"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Publish",
    )
    error = aws_errors.error_for(exc, what="Amazon SNS")
    assert (error.code, error.provider_code) == (code, aws_code)

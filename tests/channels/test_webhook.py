from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from werkzeug import Response

from channels import webhook
from channels.base import ChannelError
from channels.messages import sample_event
from channels.webhook import WebhookSetup, build_request, parse_headers
from notifier.events import DeploymentEvent


def setup_for(url: str, **fields) -> WebhookSetup:
    return WebhookSetup(url=url, **fields)


def test_the_body_is_the_deployment_event_and_the_signature_covers_it(failed_event):
    request = build_request(failed_event, setup_for("https://example.com/hook", secret="s3cret"))

    assert DeploymentEvent.from_dict(json.loads(request.body)) == failed_event
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature-256"] == f"sha256={expected}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-CodeDeploy-Event"] == "failed"


def test_without_a_secret_there_is_no_signature(succeeded_event):
    request = build_request(succeeded_event, setup_for("https://example.com/hook"))
    assert "X-Signature-256" not in request.headers


def test_extra_headers_are_sent_and_validated():
    assert parse_headers("Authorization: Bearer abc\n\nX-Team: web") == {
        "Authorization": "Bearer abc",
        "X-Team": "web",
    }
    with pytest.raises(ValueError, match="line 2 is not 'Name: value'"):
        parse_headers("X-Ok: 1\nnot a header")
    with pytest.raises(ValueError, match="sets X-Signature-256 itself"):
        parse_headers("X-Signature-256: forged")


def test_it_posts_the_signed_event(httpserver, allow_local, failed_event):
    httpserver.expect_request("/hooks/deploy", method="POST").respond_with_data("ok")
    setup = setup_for(
        httpserver.url_for("/hooks/deploy"), secret="s3cret", headers="X-Team: storefront"
    )

    delivery = webhook.send(failed_event, setup)

    assert delivery.response_status == 200
    (request, _), *_ = httpserver.log
    body = request.get_data()
    assert json.loads(body)["error_code"] == "HOOK_EXECUTION_FAILURE"
    assert request.headers["X-Team"] == "storefront"
    assert request.headers["X-Signature-256"] == (
        "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    )


@pytest.mark.fault
def test_it_marks_500_as_retryable_and_404_as_permanent(httpserver, allow_local, failed_event):
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("gone", status=404)
    setup = setup_for(httpserver.url_for("/hook"))

    with pytest.raises(ChannelError) as first:
        webhook.send(failed_event, setup)
    assert first.value.retryable and first.value.response_status == 500
    with pytest.raises(ChannelError) as second:
        webhook.send(failed_event, setup)
    assert not second.value.retryable and "404" in second.value.message


@pytest.mark.fault
def test_it_honours_retry_after_on_429(httpserver, allow_local, failed_event):
    httpserver.expect_request("/hook").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "7"})
    )
    with pytest.raises(ChannelError) as caught:
        webhook.send(failed_event, setup_for(httpserver.url_for("/hook")))
    assert caught.value.retryable and caught.value.retry_after == 7


def test_it_does_not_follow_redirects(httpserver, allow_local, failed_event):
    httpserver.expect_request("/hook").respond_with_response(
        Response("", status=307, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    )
    with pytest.raises(ChannelError, match="redirect") as caught:
        webhook.send(failed_event, setup_for(httpserver.url_for("/hook")))
    assert not caught.value.retryable
    assert len(httpserver.log) == 1


def test_it_refuses_a_loopback_url_at_send_time_unless_allowed(httpserver, settings, failed_event):
    settings.NOTIFIER_URL_ALLOWLIST = []
    with pytest.raises(ChannelError, match="loopback, link-local or private") as caught:
        webhook.send(failed_event, setup_for(httpserver.url_for("/hook")))
    assert not caught.value.retryable
    assert httpserver.log == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8000/admin/",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "ftp://example.com/hook",
    ],
)
def test_it_refuses_internal_urls_at_validation(registration, settings, url):
    settings.NOTIFIER_URL_ALLOWLIST = []
    setup = WebhookSetup(registration=registration, url=url, events=["failed"])
    with pytest.raises(ValidationError) as caught:
        setup.full_clean()
    assert "url" in caught.value.message_dict


def test_the_allow_list_admits_a_named_host(registration, settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["10.1.2.3"]
    WebhookSetup(
        registration=registration, url="http://10.1.2.3/hook", events=["failed"]
    ).full_clean()


def test_secrets_are_encrypted_at_rest(registration):
    url = "https://hooks.example.com/T0001/B0002/abcdefghijklmnop"
    setup = WebhookSetup.objects.create(
        registration=registration, url=url, secret="hmac-secret-value", headers="X-Key: k3y-value"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT url, secret, headers FROM notification_channels_webhooksetup "
            "WHERE notificationsetup_ptr_id = %s",
            [setup.pk],
        )
        raw = cursor.fetchone()
    assert all(value.startswith("fernet:") for value in raw)
    assert not any(secret in " ".join(raw) for secret in ("abcdefghijklmnop", "hmac-secret", "k3y"))
    assert WebhookSetup.objects.get(pk=setup.pk).url == url


def test_errors_never_carry_the_url_token(settings, failed_event):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    from tests.support.services import free_port

    url = f"http://127.0.0.1:{free_port()}/services/T0001/B0002/abcdefghijklmnop"
    with pytest.raises(ChannelError) as caught:
        webhook.send(failed_event, setup_for(url))
    assert caught.value.retryable  # connection refused
    assert "abcdefghijklmnop" not in caught.value.message


def test_a_value_encrypted_with_another_key_is_a_clear_permanent_error(
    registration, settings, failed_event
):
    setup = WebhookSetup.objects.create(registration=registration, url="https://example.com/h")
    settings.NOTIFIER_ENCRYPTION_KEY = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="
    stale = WebhookSetup.objects.get(pk=setup.pk)
    with pytest.raises(ChannelError, match="cannot be decrypted") as caught:
        webhook.send(sample_event("failed"), stale)
    assert not caught.value.retryable
    assert caught.value.code == "undecryptable"


def test_a_server_that_does_not_answer_in_time_is_retryable(
    httpserver, allow_local, settings, failed_event
):
    import threading

    settings.NOTIFIER_SEND_TIMEOUT = 0.3
    release = threading.Event()

    def hang(request):
        release.wait(5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(hang)
    try:
        with pytest.raises(ChannelError, match="did not answer within 0.3 seconds") as caught:
            webhook.send(failed_event, setup_for(httpserver.url_for("/slow")))
    finally:
        release.set()
    assert caught.value.retryable

"""The service's own account id: kept once STS answers, asked again after a failure."""

from __future__ import annotations

from notifier.codedeploy import account_id

DENIED = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
    "<Message>not now</Message></Error><RequestId>1</RequestId></ErrorResponse>"
)


def test_a_failed_sts_answer_is_not_kept_and_is_asked_again_a_minute_later(
    aws, httpserver, monkeypatch
):
    httpserver.expect_request("/", method="POST").respond_with_data(
        DENIED, status=403, content_type="text/xml"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", httpserver.url_for("/"))
    assert account_id() == ""
    assert account_id() == ""  # within the minute: not asked again
    assert len(httpserver.log) == 1

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws.endpoint)
    account_id.failed_at -= account_id.RETRY_SECONDS  # a minute later
    assert account_id() == "123456789012"
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", httpserver.url_for("/"))
    assert account_id() == "123456789012"  # kept: STS is not asked again
    assert len(httpserver.log) == 1

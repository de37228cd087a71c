"""Secrets are taken out of errors and history in every form a provider may echo them in:
as typed, percent-encoded (quote and quote_plus, upper- or lower-case hex), or decoded."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from werkzeug import Response

from channels.secrets import MASK, redact
from channels.webhook import WebhookSetup
from notifier import codedeploy as cd
from notifier.dispatch import delivery_send
from notifier.poller import deployment_poll
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.testing import registration_test_send

HEADER_SECRET = "tok|en with space"
SIGNING_SECRET = "sign|ing secret 42"


def every_form(secret: str) -> list[str]:
    forms = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}
    forms |= {f.replace("%7C", "%7c") for f in forms}
    return sorted(forms)


@pytest.mark.parametrize(
    "echoed",
    [
        HEADER_SECRET,
        quote(HEADER_SECRET),  # tok%7Cen%20with%20space
        quote_plus(HEADER_SECRET),  # tok%7Cen+with+space
        quote(HEADER_SECRET).lower(),  # tok%7cen%20with%20space
        quote_plus(HEADER_SECRET).replace("%7C", "%7c"),
    ],
)
def test_it_redacts_a_secret_in_every_form(echoed):
    text = redact(f"bad key {echoed}; try again", [HEADER_SECRET])
    assert text == f"bad key {MASK}; try again"


def test_it_redacts_the_decoded_form_of_a_secret_stored_encoded():
    url_token = "abc%7Cdef%20ghi"
    assert redact("token abc|def ghi is wrong", [url_token]) == f"token {MASK} is wrong"


def echo_encoded_secret(request):
    header = request.headers.get("X-Api-Key", "")
    return Response(
        f"invalid key {quote(header)} (also seen as {quote_plus(header)}, "
        f"{quote(header).lower()}, {header}) for url {request.url}",
        status=500 if request.path.endswith("/busy") else 401,
    )


def assert_no_form_of_the_secrets(text: str) -> None:
    for secret in (HEADER_SECRET, SIGNING_SECRET):
        for form in every_form(secret):
            assert form not in text, (form, text)
    assert "tok" not in text and "with+space" not in text and "with%20space" not in text


@pytest.mark.django_db
def test_the_test_send_result_shows_no_form_of_a_secret(httpserver, settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/hook").respond_with_handler(echo_encoded_secret)
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(
        registration=registration,
        url=httpserver.url_for("/hook"),
        secret=SIGNING_SECRET,
        headers=f"X-Api-Key: {HEADER_SECRET}",
        events=["failed"],
    )

    (result,) = registration_test_send(registration=registration)

    assert not result.delivered and "refused the request (401)" in result.error
    assert "invalid key" in result.error
    assert_no_form_of_the_secrets(result.error)
    assert_no_form_of_the_secrets(result.sentence())


@pytest.mark.django_db(transaction=True)
def test_the_error_stored_in_history_shows_no_form_of_a_secret(
    codedeploy, httpserver, settings, fast_retries
):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    httpserver.expect_request("/hook/busy").respond_with_handler(echo_encoded_secret)
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    hook = WebhookSetup.objects.create(
        registration=registration,
        url=httpserver.url_for("/hook/busy"),
        secret=SIGNING_SECRET,
        headers=f"X-Api-Key: {HEADER_SECRET}",
        events=["succeeded"],
    )
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")

    counter = cd.CallCounter()
    report = deployment_poll(store=store, client=cd.make_client(counter=counter), counter=counter)
    (key,) = [k for k in report.deliveries if k.setup_id == hook.pk]
    delivery_send(key, store=store, holder="test")

    stored = store.delivery_get(key)
    (attempt,) = stored.history
    assert "server error (500)" in attempt.error and "invalid key" in attempt.error
    assert_no_form_of_the_secrets(attempt.error)
    assert_no_form_of_the_secrets(stored.last_error)

"""The delivery id: the same on every attempt of one delivery, carried to the provider; a test
send gets a fresh one, marked as a test."""

from __future__ import annotations

import pytest
from django.utils import timezone

from channels.email import build_message
from channels.messages import sample_event
from channels.webhook import DELIVERY_HEADER, WebhookSetup
from notifier.dispatch import delivery_send, send_once
from notifier.storage.base import DELIVERED, PENDING, DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import Registration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hook(httpserver, settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    return WebhookSetup.objects.create(
        registration=registration, url=httpserver.url_for("/hook"), events=["succeeded"]
    )


def test_every_attempt_of_a_delivery_carries_the_same_id(httpserver, hook, fast_retries):
    httpserver.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=204)
    event = sample_event("succeeded")
    store = OrmStore()
    store.deployment_save(event, seen_at=timezone.now())
    key = DeliveryKey(event.deployment_id, "succeeded", hook.pk)
    store.delivery_create(key, kind="webhook", event=event)

    assert delivery_send(key, store=store, holder="a") == PENDING
    assert delivery_send(key, store=store, holder="b") == DELIVERED

    ids = [request.headers[DELIVERY_HEADER] for request, _ in httpserver.log]
    assert ids == [key.delivery_id, key.delivery_id]


def test_a_test_send_gets_a_fresh_id_marked_as_a_test(httpserver, hook):
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    event = sample_event("succeeded")
    assert send_once(event, hook).error is None
    assert send_once(event, hook).error is None
    first, second = (request.headers[DELIVERY_HEADER] for request, _ in httpserver.log)
    assert first.startswith("test-") and second.startswith("test-") and first != second


def test_an_email_carries_the_id_and_a_message_id_made_from_it():
    event = sample_event("failed")
    message = build_message(
        event, None, recipients=["ops@example.com"], from_email="n@x", delivery_id="abc-1"
    )
    assert message.extra_headers["X-Notifier-Delivery"] == "abc-1"
    assert message.extra_headers["Message-ID"] == "<abc-1@codedeploy-notifier>"

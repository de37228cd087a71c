"""An ErrorCode travels from a real failing exchange through dispatch to the ledger, and the
history pages choose their advice by it, not by the words of the message."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import Group

from channels.base import ErrorCode
from notifier.dispatch import deliveries_create, delivery_send
from notifier.history.advice import FAILURE_ADVICE, failure_advice
from notifier.storage.base import FAILED
from notifier.storage.orm import OrmStore
from tests.notifier.history.test_views import seed, text
from tests.support.history import deployment_event, failed, register, user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.fault
def test_a_401_is_stored_as_unauthorized_and_the_page_advises_on_credentials(
    client, newrelic, settings
):
    settings.NEW_RELIC_API_KEY = "NRAK-WRONG"
    team = Group.objects.create(name="storefront-team")
    client.force_login(user("alice", team=team))
    _, (setup,) = register("storefront", team=team, nr_apps=("web",))
    store = OrmStore()
    event = deployment_event("d-AUTH00001", "storefront", status="Failed")
    store.deployment_save(event, seen_at=event.create_time)
    (key,) = deliveries_create(event, [setup], store=store)

    assert delivery_send(key, store=store, holder="test") == FAILED

    delivery = store.delivery_get(key)
    assert delivery.last_error_code == ErrorCode.UNAUTHORIZED
    assert [a.error_code for a in delivery.history] == ["unauthorized"]
    assert [a.response_status for a in delivery.history] == [401]
    page = text(client.get("/applications/storefront/"))
    assert FAILURE_ADVICE[ErrorCode.UNAUTHORIZED] in page


def test_the_advice_follows_the_code_whatever_the_message_says(client):
    team = Group.objects.create(name="storefront-team")
    client.force_login(user("alice", team=team))
    _, (setup,) = register("storefront", team=team)
    # A message that mentions 404 and "rate limit", stored with the code the channel set.
    misleading = failed("the provider said 404 and rate limit (429) in its text", code="timeout")
    seed(OrmStore(), "d-CODE00001", "storefront", setup, status="Failed", outcome=misleading)
    page = html.unescape(text(client.get("/applications/storefront/")))
    assert FAILURE_ADVICE[ErrorCode.TIMEOUT] in page
    assert FAILURE_ADVICE[ErrorCode.NOT_FOUND] not in page


def test_every_code_has_advice_of_its_own_except_a_plain_refusal():
    generic = failure_advice(code="", kind="newrelic")
    assert failure_advice(code="bad_request", kind="newrelic") == generic
    for code in set(ErrorCode) - {ErrorCode.BAD_REQUEST}:
        assert failure_advice(code=code, kind="newrelic") != generic, code

from __future__ import annotations

import pytest

from notifier.demo import inbox
from notifier.demo.inbox import deployment_of, inbox_record
from notifier.demo.models import InboxMessage

pytestmark = pytest.mark.django_db


def test_it_stores_a_message_with_the_deployment_and_event_its_payload_carries():
    message = inbox_record(
        channel="webhook",
        title="storefront production failed",
        payload={"deployment_id": "d-ABCDEF123", "event": "failed", "status": "Failed"},
        headers={"X-Notifier-Delivery": "abc"},
    )

    stored = InboxMessage.objects.get(id=message.id)
    assert (stored.deployment_id, stored.event) == ("d-ABCDEF123", "failed")
    assert stored.headers == {"X-Notifier-Delivery": "abc"}
    assert stored.updated_count == 0


def test_it_finds_a_deployment_id_and_event_in_text_when_no_key_names_them():
    slack_text = "<https://console/deployments/d-XYZ987654?region=x|d-XYZ987654> *failed* after"
    assert deployment_of({"text": slack_text}) == ("d-XYZ987654", "failed")
    assert deployment_of({"description": "d-XYZ987654 InProgress"}) == ("d-XYZ987654", "started")
    assert deployment_of({"text": "storefront d-XYZ987654 is odd"}) == ("d-XYZ987654", "")
    assert deployment_of({"text": "nothing here"}) == ("", "")


def test_a_thread_key_already_stored_replaces_that_message_in_place():
    first = inbox_record(
        channel="slack", title="started", payload={"text": "a"}, target="#d", thread_key="1.1"
    )
    again = inbox_record(
        channel="slack", title="succeeded", payload={"text": "b"}, target="#d", thread_key="1.1"
    )

    assert again.id == first.id
    assert InboxMessage.objects.count() == 1
    stored = InboxMessage.objects.get()
    assert (stored.title, stored.payload, stored.updated_count) == ("succeeded", {"text": "b"}, 1)


def test_it_keeps_only_the_newest_messages(monkeypatch):
    monkeypatch.setattr(inbox, "MAX_MESSAGES", 3)
    made = [inbox_record(channel="sns", title=f"m{n}", payload={}) for n in range(5)]

    kept = list(InboxMessage.objects.order_by("id").values_list("id", flat=True))
    assert kept == [m.id for m in made[2:]]


def test_it_cuts_long_titles_and_huge_payloads_to_their_bounds():
    message = inbox_record(
        channel="webhook",
        title="t" * 5000,
        payload={"blob": "x" * (inbox.MAX_PAYLOAD_CHARS + 10)},
        headers={f"H{n}": "v" * 5000 for n in range(100)},
    )

    stored = InboxMessage.objects.get(id=message.id)
    assert len(stored.title) == inbox.MAX_TITLE
    assert stored.payload["truncated"] is True
    assert len(stored.payload["text"]) == inbox.MAX_PAYLOAD_CHARS
    assert len(stored.headers) == inbox.MAX_HEADERS
    assert all(len(v) == inbox.MAX_HEADER_VALUE for v in stored.headers.values())

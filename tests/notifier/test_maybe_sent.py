"""A delivery whose sender died mid-send shows as "maybe sent" until the next outcome, and
every delivery shows its stable id (the one providers and receivers see)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from notifier.storage.base import DeliveryKey
from notifier.storage.orm import OrmStore
from tests.support.history import (
    delivered,
    deployment_event,
    register,
    seed_delivery,
    seed_deployment,
    user,
)

pytestmark = pytest.mark.django_db


def page_of(client, deployment_id: str) -> str:
    return re.sub(r"\s+", " ", client.get(f"/deployments/{deployment_id}/").content.decode())


def test_it_shows_maybe_sent_for_an_attempt_whose_sender_died_until_the_next_outcome(client):
    team = Group.objects.create(name="storefront-team")
    client.force_login(user("alice", team=team))
    _, (setup,) = register("storefront", team=team)
    store = OrmStore()
    event = deployment_event("d-INFLIGHT1", "storefront", status="Succeeded")
    seed_deployment(store, event)
    key = seed_delivery(store, event, setup)
    started = timezone.now() - timedelta(minutes=5)
    assert store.delivery_claim(key, holder="node-a", lease_seconds=30, now=started)

    page = page_of(client, "d-INFLIGHT1")
    assert "maybe sent" in page
    assert "may have reached the provider before its sender stopped" in page
    assert key.delivery_id in page

    takeover = store.delivery_claim(key, holder="node-b", lease_seconds=30)
    assert takeover.in_flight_since == started
    assert "maybe sent" in page_of(client, "d-INFLIGHT1")  # still unresolved while it runs
    store.delivery_record(takeover, delivered())
    assert "maybe sent" not in page_of(client, "d-INFLIGHT1")


def test_the_delivery_id_is_the_same_for_the_same_key_and_differs_between_keys():
    key = DeliveryKey("d-1", "succeeded", 7)
    assert key.delivery_id == DeliveryKey("d-1", "succeeded", 7).delivery_id
    # Pinned: a changed derivation would give providers new ids for old deliveries.
    assert key.delivery_id == "f13eee03-2dc5-59a3-ab39-91ed278a4580"
    others = {DeliveryKey("d-1", "failed", 7), DeliveryKey("d-2", "succeeded", 7)}
    assert key.delivery_id not in {k.delivery_id for k in others}

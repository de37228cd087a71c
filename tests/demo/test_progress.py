from __future__ import annotations

import pytest

from notifier.demo.inbox import inbox_record
from notifier.demo.progress import demo_missing

pytestmark = pytest.mark.django_db

READY = "a blue/green deployment waiting for traffic"


def test_an_empty_demo_is_missing_every_path_in_words():
    missing = demo_missing()

    assert READY in missing
    assert "a failed deployment's message" in missing
    assert "a rollback" in missing and "deployments of both sources" in missing


def test_a_ready_message_counts_although_the_deployment_has_gone_on_to_succeed():
    inbox_record(
        channel="teams",
        title="checkout-api/ecs-production deployment d-LJMXRNCPO ready",
        payload={"text": "d-LJMXRNCPO is waiting for traffic"},
        deployment_id="d-LJMXRNCPO",
        event="ready",
    )

    assert READY not in demo_missing()

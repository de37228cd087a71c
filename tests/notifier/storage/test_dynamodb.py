"""What only the DynamoDB store has: its tables, TTL, error words and concurrent cycle writes
(moto's server)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from notifier.storage.base import DELIVERED, PENDING, DeliveryKey, StorageError
from notifier.storage.dynamodb import DynamoStore, from_item, to_item
from tests.notifier.storage.test_contract import deployment, outcome, queued
from tests.support.dynamodb import dynamo_store

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_tables_makes_what_is_missing_and_says_so(aws, settings, capsys):
    settings.NOTIFIER_DYNAMODB_TABLE_PREFIX = "team-a-"
    call_command("dynamodb_create_tables")
    first = capsys.readouterr().out
    assert "created table team-a-deliveries (on-demand capacity) with index(es) due" in first
    assert "turned on TTL on team-a-deliveries.expires_at" in first
    assert "(4 created)" in first

    call_command("dynamodb_create_tables")
    again = capsys.readouterr().out
    assert "table team-a-state exists already" in again
    assert "TTL on team-a-deployments.expires_at is on already" in again
    assert "(0 created)" in again

    store = DynamoStore(prefix="team-a-")
    described = store.client.describe_table(TableName="team-a-deployments")["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {
        "newest",
        "by-application",
    }


def test_without_tables_the_error_says_how_to_create_them(aws):
    store = DynamoStore(prefix="missing-")
    with pytest.raises(StorageError, match="python manage.py dynamodb_create_tables"):
        store.poll_state_get()


def _raw(store: DynamoStore, key: DeliveryKey) -> dict:
    item = store.client.get_item(TableName=store.deliveries_table, Key=store._key(key))["Item"]
    return from_item(item)


def test_a_finished_delivery_leaves_the_due_index_and_gets_an_expiry(aws, settings):
    store = dynamo_store()
    key = queued(store)
    raw = _raw(store, key)
    assert raw["due"] == "pending" and "expires_at" not in raw

    store.delivery_record(store.delivery_claim(key, holder="a", lease_seconds=30), outcome())
    raw = _raw(store, key)
    assert raw["state"] == DELIVERED and "due" not in raw and "lease_token" not in raw
    days = (raw["expires_at"] - timezone.now().timestamp()) / 86400
    assert settings.NOTIFIER_DYNAMODB_TTL_DAYS - 1 < days <= settings.NOTIFIER_DYNAMODB_TTL_DAYS

    assert store.delivery_requeue(key)
    raw = _raw(store, key)
    assert raw["state"] == PENDING and raw["due"] == "pending" and "expires_at" not in raw


def test_a_finished_deployment_gets_an_expiry(aws):
    store = dynamo_store()
    store.deployment_save(deployment(status="InProgress"), seen_at=timezone.now())
    key = to_item({"deployment_id": "d-1"})
    item = store.client.get_item(TableName=store.deployments_table, Key=key)["Item"]
    assert "expires_at" not in item
    store.deployment_save(deployment(), seen_at=timezone.now())
    item = store.client.get_item(TableName=store.deployments_table, Key=key)["Item"]
    assert "expires_at" in item


def test_the_poller_stores_a_cycle_on_dynamodb_concurrently_and_in_order(codedeploy, settings):
    from channels.newrelic import NewRelicSetup
    from notifier import codedeploy as cd
    from notifier.poller import deployment_poll
    from registrations.models import Registration

    store = dynamo_store()
    assert store.write_concurrency > 1
    setups = {}
    for n in range(5):
        registration = Registration.objects.create(codedeploy_application_name=f"app-{n}")
        setups[f"app-{n}"] = NewRelicSetup.objects.create(
            registration=registration, application_name="web", events=["started", "succeeded"]
        )
    deployments = [codedeploy.deploy(f"app-{n % 5}") for n in range(20)]
    for deployment_id in deployments:
        codedeploy.move(deployment_id, "InProgress")
    report = deployment_poll(store=store, client=cd.make_client())
    assert [e.deployment_id for e in report.events] == deployments  # CodeDeploy's order
    assert len(report.deliveries) == 20
    assert set(store.deliveries_due(limit=100)) == set(report.deliveries)
    assert store.poll_state_get().pending == dict.fromkeys(deployments, "InProgress")


def test_a_failed_write_in_a_concurrent_cycle_keeps_the_watermark(codedeploy):
    from channels.newrelic import NewRelicSetup
    from notifier import codedeploy as cd
    from notifier.poller import deployment_poll
    from registrations.models import Registration

    store = dynamo_store()
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    NewRelicSetup.objects.create(registration=registration, application_name="web")
    for _ in range(10):
        codedeploy.move(codedeploy.deploy("storefront"), "Succeeded")
    store.client.delete_table(TableName=store.deliveries_table)  # DynamoDB refuses
    with pytest.raises(StorageError, match="dynamodb_create_tables"):
        deployment_poll(store=store, client=cd.make_client())
    assert store.poll_state_get().watermark is None

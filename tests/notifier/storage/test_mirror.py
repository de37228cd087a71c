"""The audit mirror: DynamoDB (moto's server) first, then the notifier models on PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from channels.newrelic import NewRelicSetup
from notifier import models as m
from notifier.dispatch import delivery_send
from notifier.events import Event
from notifier.routers import AuditRouter
from notifier.storage import get_history_reader, get_store
from notifier.storage.base import DELIVERED, FAILED, DeliveryKey
from notifier.storage.dynamodb import DynamoStore
from notifier.storage.mirror import MirrorStore, mirror_backfill
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.notifier.storage.conftest import HAVE_POSTGRES, ON_POSTGRES
from tests.notifier.storage.test_contract import deployment, outcome
from tests.support.databases import POSTGRES_ALIAS
from tests.support.dynamodb import dynamo_store
from tests.support.services import POSTGRES_HOW, missing

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases=ON_POSTGRES)]


@pytest.fixture
def store(aws) -> MirrorStore:
    if not HAVE_POSTGRES:
        missing("PostgreSQL", POSTGRES_HOW)
    return MirrorStore(primary=dynamo_store(), mirror=OrmStore(using=POSTGRES_ALIAS))


def mirrored(deployment_id: str):
    return OrmStore(using=POSTGRES_ALIAS).deployment_get(deployment_id)


class MirrorTableAway:
    """Rename a mirror table for a while: every write to it fails, as in an outage."""

    def __init__(self, table: str) -> None:
        self.table = table

    def _rename(self, old: str, new: str) -> None:
        with connections[POSTGRES_ALIAS].cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')

    def __enter__(self):
        self._rename(self.table, f"{self.table}_away")

    def __exit__(self, *exc):
        self._rename(f"{self.table}_away", self.table)


def test_every_ledger_write_reaches_the_mirror(store):
    e = deployment("d-1")
    store.deployment_save(e, seen_at=timezone.now())
    key = DeliveryKey("d-1", "succeeded", 7)
    assert store.delivery_create(key, kind="newrelic", event=e)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    assert store.delivery_record(claim, outcome(DELIVERED))

    copy = mirrored("d-1")
    assert copy.event == e
    ((delivery),) = copy.deliveries
    assert (delivery.key, delivery.state, delivery.attempts) == (key, DELIVERED, 1)
    assert [(a.number, a.detail) for a in delivery.history] == [(1, "marker 7")]
    # History reads come from the mirror, and match DynamoDB's own record.
    assert store.deployment_get("d-1") == copy
    assert store.primary.deployment_get("d-1").deliveries[0].history == delivery.history

    assert store.delivery_requeue(key)
    assert mirrored("d-1").deliveries[0].state == "pending"


def test_a_released_claim_is_due_again_and_the_mirror_never_saw_the_attempt(store):
    e = deployment("d-1")
    store.deployment_save(e, seen_at=timezone.now())
    key = DeliveryKey("d-1", "succeeded", 7)
    assert store.delivery_create(key, kind="newrelic", event=e)
    claim = store.delivery_claim(key, holder="stopping-node", lease_seconds=30)

    assert store.delivery_release(claim)

    assert store.deliveries_due() == [key]
    assert store.primary.delivery_get(key).attempts == 0
    ((delivery),) = mirrored("d-1").deliveries
    assert (delivery.state, delivery.attempts) == ("pending", 0)


def test_an_error_code_reaches_the_mirror(store):
    e = deployment("d-2")
    store.deployment_save(e, seen_at=timezone.now())
    key = DeliveryKey("d-2", "succeeded", 7)
    assert store.delivery_create(key, kind="newrelic", event=e)
    claim = store.delivery_claim(key, holder="a", lease_seconds=30)
    failure = dataclasses.replace(outcome(FAILED, error="refused"), error_code="forbidden")
    assert store.delivery_record(claim, failure)
    (delivery,) = mirrored("d-2").deliveries
    assert delivery.last_error_code == "forbidden"
    assert [a.error_code for a in delivery.history] == ["forbidden"]


def test_history_pages_come_from_the_mirror(store):
    for n in range(3):
        store.deployment_save(
            deployment(f"d-{n}", created=deployment().create_time + timedelta(minutes=n)),
            seen_at=timezone.now(),
        )
    page = store.deployments_page()
    assert page.total == 3  # the mirror counts; DynamoDB alone cannot
    assert [r.event.deployment_id for r in page.items] == ["d-2", "d-1", "d-0"]


def test_a_mirror_failure_neither_blocks_nor_duplicates_a_notification(store, newrelic, caplog):
    newrelic.add_application("storefront-web")
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    setup = NewRelicSetup.objects.create(
        registration=registration, application_name="storefront-web", events=["succeeded"]
    )
    e = deployment("d-1")
    key = DeliveryKey("d-1", Event.SUCCEEDED.value, setup.pk)
    caplog.set_level(logging.WARNING, logger="notifier.storage.mirror")
    with MirrorTableAway("notifier_delivery"):
        store.deployment_save(e, seen_at=timezone.now())
        assert store.delivery_create(key, kind="newrelic", event=e)
        assert delivery_send(key, store=store, holder="a") == DELIVERED
        assert delivery_send(key, store=store, holder="b") is None  # not sent again
    assert len(newrelic.markers) == 1
    assert store.primary.delivery_get(key).state == DELIVERED
    assert "the audit mirror missed new delivery" in caplog.text
    assert "audit_backfill" in caplog.text
    assert mirrored("d-1").deliveries == ()  # what the mirror missed...

    report = mirror_backfill(records=store.primary.deployment_records(), using=POSTGRES_ALIAS)
    assert (report.checked, report.deployments_copied, report.deliveries_copied) == (1, 1, 1)
    ((delivery),) = mirrored("d-1").deliveries  # ...the backfill copies
    assert delivery.state == DELIVERED and len(delivery.history) == 1
    again = mirror_backfill(records=store.primary.deployment_records(), using=POSTGRES_ALIAS)
    assert again.deployments_copied == 0
    assert again.line() == "checked 1 deployment(s); the audit mirror missed nothing"


def test_the_backfill_copies_deployments_the_mirror_never_saw(store):
    with MirrorTableAway("notifier_deployment"):
        store.deployment_save(
            deployment("d-1", status="InProgress", event=Event.STARTED), seen_at=timezone.now()
        )
        store.deployment_save(deployment("d-1"), seen_at=timezone.now() + timedelta(seconds=3))
        key = DeliveryKey("d-1", "succeeded", 1)
        store.delivery_create(key, kind="newrelic", event=deployment("d-1"))
        claim = store.delivery_claim(key, holder="a", lease_seconds=30)
        store.delivery_record(claim, outcome(FAILED, error="unknown application", status=404))
    assert mirrored("d-1") is None

    report = mirror_backfill(records=store.primary.deployment_records(), using=POSTGRES_ALIAS)
    assert report.deployments_copied == 1
    copy = mirrored("d-1")
    assert copy == store.primary.deployment_get("d-1")
    assert [c.status for c in copy.timeline] == ["InProgress", "Succeeded"]


def test_the_dynamodb_factory_adds_the_mirror_only_with_an_audit_database(
    aws, settings, monkeypatch
):
    settings.NOTIFIER_STORAGE = "dynamodb"
    assert isinstance(get_store(), DynamoStore)
    assert get_history_reader().database is None
    monkeypatch.setitem(settings.DATABASES, "audit", settings.DATABASES[POSTGRES_ALIAS])
    store = get_store()
    assert isinstance(store, MirrorStore) and store.mirror.using == "audit"
    assert get_history_reader().database == "audit"
    settings.NOTIFIER_STORAGE = "orm"
    assert get_history_reader().database == "default"


def test_the_backfill_command_says_when_the_mirror_is_off(settings):
    settings.NOTIFIER_STORAGE = "orm"
    with pytest.raises(CommandError, match="the audit mirror is off: set NOTIFIER_STORAGE"):
        call_command("audit_backfill")


def test_the_mirror_database_holds_only_the_ledger_tables(store):
    tables = connections[POSTGRES_ALIAS].introspection.table_names()
    assert {"notifier_deployment", "notifier_delivery", "notifier_deliveryattempt"} <= set(tables)
    assert not [t for t in tables if t.startswith(("auth_", "django_q", "registrations_"))]
    router = AuditRouter()
    assert router.allow_migrate("audit", "notifier", "delivery") is True
    assert router.allow_migrate("audit", "registrations", "registration") is False
    assert router.allow_migrate("audit", "django_q", "schedule") is False
    assert router.allow_migrate("default", "registrations", "registration") is None
    assert router.db_for_write(m.Delivery) is None  # nothing goes to audit unless asked


def test_a_takeover_of_an_attempt_in_flight_shows_as_maybe_sent_in_the_mirror(store):
    e = deployment("d-1")
    store.deployment_save(e, seen_at=timezone.now())
    key = DeliveryKey("d-1", "succeeded", 1)
    store.delivery_create(key, kind="newrelic", event=e)
    started = timezone.now() - timedelta(seconds=60)
    store.delivery_claim(key, holder="a", lease_seconds=30, now=started)
    takeover = store.delivery_claim(key, holder="b", lease_seconds=30)
    assert takeover.in_flight_since is not None
    (mirrored_delivery,) = mirrored("d-1").deliveries
    assert mirrored_delivery.maybe_sent_since is not None
    assert store.delivery_record(takeover, outcome(DELIVERED))
    (resolved,) = mirrored("d-1").deliveries
    assert resolved.state == DELIVERED and resolved.maybe_sent_since is None

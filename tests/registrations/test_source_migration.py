"""The migration that brings sources: existing registrations move to the default source."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("registrations", "0002_setup_templates")]
AFTER = [("registrations", "0003_sources")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_registrations_move_to_the_default_source(monkeypatch):
    old = migrate(BEFORE)
    try:
        Registration = old.get_model("registrations", "Registration")
        Registration.objects.create(codedeploy_application_name="storefront")
        Registration.objects.create(codedeploy_application_name="checkout", enabled=False)
        monkeypatch.setenv("AWS_REGION", "eu-central-1")

        new = migrate(AFTER)

        Source = new.get_model("registrations", "Source")
        (default,) = Source.objects.all()
        assert (default.name, default.region, default.credentials, default.is_default) == (
            "default",
            "eu-central-1",
            "own",
            True,
        )
        rows = new.get_model("registrations", "Registration").objects.order_by("id")
        assert [(r.codedeploy_application_name, r.source_id) for r in rows] == [
            ("storefront", default.pk),
            ("checkout", default.pk),
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

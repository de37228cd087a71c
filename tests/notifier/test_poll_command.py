from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from channels.newrelic import NewRelicSetup
from notifier.poller import POLL_LEASE
from notifier.storage.orm import OrmStore
from registrations.models import Registration

pytestmark = pytest.mark.django_db(transaction=True)


def test_poll_once_prints_what_it_saw_and_did(codedeploy, newrelic):
    newrelic.add_application("storefront-web")
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    NewRelicSetup.objects.create(registration=registration, application_name="storefront-web")
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")

    out = io.StringIO()
    call_command("poll_codedeploy", "--once", stdout=out)
    text = out.getvalue()
    assert "listed 1 deployment(s)" in text
    assert f"{deployment} storefront/production Succeeded -> succeeded" in text
    assert "queued 1 notification(s)" in text
    assert f"{deployment}/succeeded/" in text and "-> delivered" in text
    assert len(newrelic.markers) == 1

    again = io.StringIO()
    call_command("poll_codedeploy", "--once", stdout=again)
    assert "queued 0 notification(s)" in again.getvalue()
    assert len(newrelic.markers) == 1


def test_poll_once_refuses_while_the_service_polls(aws):
    OrmStore().lease_acquire(POLL_LEASE, "the-service", seconds=60)
    with pytest.raises(CommandError, match="another poller holds the poll lease"):
        call_command("poll_codedeploy", "--once", stdout=io.StringIO())

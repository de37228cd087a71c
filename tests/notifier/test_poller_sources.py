"""The poller hears only the default source until each source is polled on its own: an
application of the same name in another source is another account's application."""

from __future__ import annotations

import pytest

from channels.newrelic import NewRelicSetup
from notifier.poller import registrations_for
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.notifier.test_poller import poll

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "arn:aws:iam::210987654321:role/codedeploy-notifier"


def register(application: str, source: Source) -> NewRelicSetup:
    registration = Registration.objects.create(
        codedeploy_application_name=application, source=source
    )
    return NewRelicSetup.objects.create(
        registration=registration, application_name="web", events=["succeeded"]
    )


@pytest.fixture
def prod() -> Source:
    return Source.objects.create(name="prod", credentials="role", role_arn=ROLE)


def test_a_deployment_notifies_only_the_default_sources_registration(codedeploy, prod):
    here = register("storefront", source_default())
    register("storefront", prod)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")

    report = poll(OrmStore())

    assert [(k.deployment_id, k.setup_id) for k in report.deliveries] == [(deployment, here.pk)]


def test_another_sources_registration_alone_hears_nothing(codedeploy, prod):
    register("storefront", prod)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    assert poll(OrmStore()).deliveries == []


def test_a_disabled_default_source_hears_nothing():
    register("storefront", source_default())
    Source.objects.filter(is_default=True).update(enabled=False)
    assert registrations_for({"storefront"}) == {}


def test_group_mode_lists_only_the_default_sources_applications(codedeploy, prod, settings):
    settings.NOTIFIER_POLL_MODE = "group"
    register("storefront", source_default())
    register("billing", prod)  # not in the default account: listing it would fail the cycle
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")

    report = poll(OrmStore())

    assert [e.deployment_id for e in report.events] == [deployment]
    assert report.aws_calls["ListDeploymentGroups"] == 1

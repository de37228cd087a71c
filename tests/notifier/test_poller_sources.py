"""Each source is polled on its own: its own poll state, and only its own registrations (an
application of the same name in another source is another account's or region's). Against
moto over HTTP: a role assumed through moto's STS acts in the role's account, and regions are
kept apart."""

from __future__ import annotations

import math

import pytest

from channels.newrelic import NewRelicSetup
from notifier import codedeploy as cd
from notifier.poller import deployment_poll, registrations_for
from notifier.sources import boto3_session_for
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.notifier.test_poller import poll
from tests.support.aws import ACCOUNT, REGION, FakeCodeDeploy

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"


@pytest.fixture(autouse=True)
def fresh_sessions():
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


def codedeploy_of(aws, source: Source, account: str) -> FakeCodeDeploy:
    """CodeDeploy in `source`'s account and region, reached as the service reaches it."""
    session = boto3_session_for(source.config())
    region = source.region or REGION
    return FakeCodeDeploy(aws.endpoint, session=session, account=account, region=region)


def poll_source(store, source: Source):
    counter = cd.CallCounter()
    client = cd.make_client(counter=counter, session=boto3_session_for(source.config()))
    return deployment_poll(store=store, client=client, source=source.config(), counter=counter)


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


def test_three_sources_in_two_accounts_and_two_regions_each_notify_their_own_setups(aws, prod):
    default = source_default()
    europe = Source.objects.create(name="europe", region="eu-west-1")
    setups = {s.name: register("storefront", s) for s in (default, europe, prod)}
    deployed = {}
    for source, account in ((default, ACCOUNT), (europe, ACCOUNT), (prod, OTHER_ACCOUNT)):
        fake = codedeploy_of(aws, source, account)
        deployed[source.name] = fake.deploy("storefront")
        fake.move(deployed[source.name], "Succeeded")
    store = OrmStore()

    reports = {s.name: poll_source(store, s) for s in (default, europe, prod)}

    for name, report in reports.items():
        assert [(k.deployment_id, k.setup_id) for k in report.deliveries] == [
            (deployed[name], setups[name].pk)
        ], name
    regions = {n: [(e.region, e.account) for e in r.events] for n, r in reports.items()}
    assert regions == {
        "default": [(REGION, ACCOUNT)],
        "europe": [("eu-west-1", ACCOUNT)],
        "prod": [(REGION, OTHER_ACCOUNT)],
    }
    for name in reports:
        assert store.poll_state_get(source=name).last_success is not None
    assert store.poll_state_get(source="prod").watermark != store.poll_state_get().watermark


def test_a_source_that_cannot_be_polled_keeps_its_error_to_itself(aws, prod, monkeypatch):
    from notifier.poller import record_poll_error

    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # nothing listens
    store = OrmStore()
    with pytest.raises(Exception) as caught:
        poll_source(store, prod)
    message = record_poll_error(store, caught.value, source="prod")

    assert message.startswith(f"source 'prod': could not assume {ROLE}")
    assert store.poll_state_get(source="prod").failing_since is not None
    assert store.poll_state_get().last_error == ""


def test_a_sources_aws_calls_per_cycle_stay_within_one_plus_a_batch_per_25(aws, prod):
    fake = codedeploy_of(aws, prod, OTHER_ACCOUNT)
    register("storefront", prod)
    deployments = [fake.deploy("storefront") for _ in range(30)]
    for deployment in deployments[:20]:
        fake.move(deployment, "InProgress")
    store = OrmStore()

    first = poll_source(store, prod)  # 30 new: 1 listing + 2 batches
    for deployment in deployments[:5]:
        fake.move(deployment, "Succeeded")
    second = poll_source(store, prod)  # 0 new, 30 not finished: 1 listing + 2 batches

    assert sum(first.aws_calls.values()) <= 1 + math.ceil(30 / 25)
    assert sum(second.aws_calls.values()) <= 1 + math.ceil(30 / 25)
    assert first.aws_calls["BatchGetDeployments"] == 2
    assert len(second.deliveries) == 5

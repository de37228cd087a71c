from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.newrelic import NewRelicSetup
from notifier import codedeploy as cd
from notifier.poller import deployment_poll
from notifier.storage.orm import OrmStore
from registrations.models import Registration

pytestmark = pytest.mark.django_db(transaction=True)


def register(application: str, *, events=("succeeded",), groups: str = "") -> NewRelicSetup:
    registration = Registration.objects.create(
        codedeploy_application_name=application, deployment_groups=groups
    )
    return NewRelicSetup.objects.create(
        registration=registration, application_name="web", events=list(events)
    )


def poll(store, **kwargs):
    counter = cd.CallCounter()
    return deployment_poll(
        store=store, client=cd.make_client(counter=counter), counter=counter, **kwargs
    )


def test_it_turns_status_changes_into_events(codedeploy):
    register("storefront", events=["started", "succeeded"])
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "InProgress")

    first = poll(store)
    assert [(e.deployment_id, e.event.value) for e in first.events] == [(deployment, "started")]
    assert len(first.deliveries) == 1

    assert poll(store).events == []  # nothing changed

    codedeploy.move(deployment, "Succeeded")
    third = poll(store)
    assert [e.event.value for e in third.events] == ["succeeded"]
    assert third.events[0].instances.succeeded == 2
    assert third.events[0].revision.commit_id.startswith("9f1c2d3e")
    assert third.events[0].console_url.endswith(f"{deployment}?region=us-east-1")


def test_it_ignores_unregistered_applications(codedeploy):
    register("storefront")
    store = OrmStore()
    other = codedeploy.deploy("someone-else")
    codedeploy.move(other, "Succeeded")

    report = poll(store)
    assert report.listed == 1
    assert report.events == []
    assert store.deployment_get(other) is None


def test_it_skips_finished_deployments_it_has_seen(codedeploy):
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    assert poll(store).fetched == 1

    again = poll(store)
    assert again.listed == 1
    assert again.skipped_known_terminal == 1
    assert again.fetched == 0
    assert again.aws_calls == {"ListDeployments": 1}


def test_it_keeps_calls_independent_of_the_number_of_registrations(codedeploy):
    for n in range(40):
        register(f"app-{n}")
    store = OrmStore()
    ids = [codedeploy.deploy(f"app-{n}") for n in range(30)]
    for deployment in ids:
        codedeploy.move(deployment, "InProgress")
    report = poll(store)
    # One listing plus ceil(30 / 25) batch-gets, whatever the number of registrations.
    assert report.aws_calls == {"ListDeployments": 1, "BatchGetDeployments": 2}
    # The running ones are tracked and fetched again, the listing adds nothing new.
    report = poll(store)
    assert report.aws_calls == {"ListDeployments": 1, "BatchGetDeployments": 2}


def test_a_first_seen_finished_deployment_sends_only_its_final_event(codedeploy):
    register("storefront", events=["started", "failed", "succeeded"])
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Failed")
    assert [e.event.value for e in poll(store).events] == ["failed"]


def test_blue_green_ready_is_an_event(codedeploy):
    register("storefront", events=["started", "ready", "succeeded"])
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "InProgress")
    poll(store)
    codedeploy.move(deployment, "Ready")
    report = poll(store)
    assert [e.event.value for e in report.events] == ["ready"]
    assert len(report.deliveries) == 1


def test_the_registration_group_filter_applies(codedeploy):
    register("storefront", groups="production")
    store = OrmStore()
    staging = codedeploy.deploy("storefront", "staging")
    production = codedeploy.deploy("storefront", "production")
    codedeploy.move(staging, "Succeeded")
    codedeploy.move(production, "Succeeded")
    assert [e.deployment_id for e in poll(store).events] == [production]


def test_the_watermark_does_not_move_when_storing_fails(codedeploy, monkeypatch):
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")

    def broken(*args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(store, "delivery_create", broken)
    with pytest.raises(RuntimeError):
        poll(store)
    assert store.poll_state_get().watermark is None
    monkeypatch.undo()

    report = poll(store)
    assert [e.deployment_id for e in report.events] == [deployment]
    assert len(report.deliveries) == 1


def test_a_deployment_older_than_the_lookback_is_not_listed(codedeploy, settings):
    register("storefront")
    store = OrmStore()
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    later = timezone.now() + timedelta(
        seconds=settings.NOTIFIER_POLL_LOOKBACK + settings.NOTIFIER_POLL_OVERLAP + 60
    )
    assert poll(store, now=later).listed == 0


def test_group_mode_lists_each_group(codedeploy, settings):
    settings.NOTIFIER_POLL_MODE = "group"
    register("storefront")
    store = OrmStore()
    codedeploy.group("storefront", "staging")
    deployment = codedeploy.deploy("storefront", "production")
    codedeploy.move(deployment, "Succeeded")
    report = poll(store)
    assert [e.deployment_id for e in report.events] == [deployment]
    assert report.aws_calls["ListDeploymentGroups"] == 1
    assert report.aws_calls["ListDeployments"] == 2


def test_a_missing_region_is_reported_in_words_and_the_loop_goes_on(monkeypatch, tmp_path):
    from notifier.loop import service_loop_run

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    store = OrmStore()
    assert service_loop_run(seconds=0.3, interval=0.1, store=store) == 0
    state = store.poll_state_get()
    assert state.last_error.startswith("no AWS region is configured: set AWS_REGION")
    assert state.watermark is None


def test_access_denied_names_the_permission_to_add():
    from botocore.exceptions import ClientError

    from notifier.poller import describe_aws_error

    error = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "ListDeployments"
    )
    assert describe_aws_error(error).startswith(
        "AWS denied codedeploy:ListDeployments. Add it to the IAM policy"
    )

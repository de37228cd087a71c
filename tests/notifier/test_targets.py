"""Where a failed deployment broke: parsed from CodeDeploy's deployment targets (every target
kind), found in a bounded number of calls to a local server speaking CodeDeploy's protocol,
carried through the poller and the ledger, and never in the way of the notification."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from django.utils import timezone

from channels.webhook import WebhookSetup
from notifier import codedeploy as cd
from notifier import targets
from notifier.dispatch import delivery_send
from notifier.events import DeploymentEvent, Event, FailurePoint
from notifier.poller import deployment_poll
from notifier.pollers import SourcePollers
from notifier.push_batch import PushBatch
from notifier.sources import boto3_session_for
from notifier.storage.base import DELIVERED
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import source_default
from tests.support.codedeploy_targets import fixture_target

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codedeploy"


def fixture(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())["deploymentTargets"]


def client_of(fake, *, counter=None, config: Config = targets.TARGETS_CONFIG):
    client = boto3.client("codedeploy", endpoint_url=fake.endpoint, config=config)
    if counter is not None:
        client.meta.events.register("before-call.codedeploy", counter)
    return client


def failed_instance(deployment_id: str, number: int, *, ended: float) -> dict:
    target = fixture_target(deployment_id, target_id=f"i-{number:017x}")
    steps = target["instanceTarget"]["lifecycleEvents"]
    steps[2]["endTime"] = ended
    steps[2]["diagnostics"]["message"] = f"instance {number} failed"
    return target


# --- parsing ------------------------------------------------------------------------------


def test_an_instance_target_says_which_hook_script_and_log_line_failed():
    failure = targets.failure_from_targets(
        fixture("deployment-target-failed-hook.json"), failed_targets=1
    )

    assert failure.target_id == "i-0a1b2c3d4e5f60718"
    assert failure.target_kind == "Instance"
    assert failure.lifecycle_event == "ApplicationStart"
    assert failure.status == "Failed"
    assert failure.error_code == "ScriptFailed"
    assert failure.script_name == "scripts/start_server.sh"
    assert "exit code 1" in failure.message
    assert failure.log_tail.endswith("Error: listen EADDRINUSE: address already in use :::8080")
    assert [(s.name, s.status) for s in failure.lifecycle_events] == [
        ("ApplicationStop", "Succeeded"),
        ("DownloadBundle", "Succeeded"),
        ("ApplicationStart", "Failed"),
        ("ValidateService", "Skipped"),
    ]
    assert failure.lifecycle_events[2].seconds == pytest.approx(64.5)
    assert failure.summary == (
        "Failed at ApplicationStart on i-0a1b2c3d4e5f60718 (script scripts/start_server.sh): "
        "Script at specified location: scripts/start_server.sh run as user root failed with "
        "exit code 1"
    )


@pytest.mark.parametrize(
    ("index", "kind", "target_id", "lifecycle_event"),
    [
        (
            0,
            "ECS",
            "checkout-cluster:checkout-service (task set ecs-svc/9876543210987654321)",
            "AfterAllowTestTraffic",
        ),
        (1, "Lambda", "resize-images:live (version 42)", "BeforeAllowTraffic"),
        (2, "CloudFormation", "ServiceStack-ECSService", "BeforeAllowTraffic"),
    ],
)
def test_ecs_lambda_and_cloudformation_targets_name_what_failed(
    index, kind, target_id, lifecycle_event
):
    raw = fixture("deployment-targets-failed-kinds.json")[index]
    failure = targets.failure_from_targets([raw], failed_targets=1)

    assert (failure.target_kind, failure.target_id) == (kind, target_id)
    assert failure.lifecycle_event == lifecycle_event
    assert failure.status == "Failed"
    assert failure.log_tail == ""
    assert "Failed" in [s.status for s in failure.lifecycle_events]


def test_the_target_that_failed_first_is_the_failure_point():
    later = failed_instance("d-1", 1, ended=1795795400.0)
    first = failed_instance("d-1", 2, ended=1795795300.0)
    failure = targets.failure_from_targets([later, first], failed_targets=2)
    assert failure.target_id == "i-00000000000000002"
    assert failure.message == "instance 2 failed"
    assert failure.failed_targets_text == "2"


def test_targets_that_did_not_fail_give_no_failure_point():
    succeeded = fixture_target("d-1")
    succeeded["instanceTarget"]["status"] = "Succeeded"
    for step in succeeded["instanceTarget"]["lifecycleEvents"]:
        step["status"] = "Succeeded"
    assert targets.failure_from_targets([succeeded], failed_targets=0) is None


def test_the_failure_point_goes_through_to_dict_and_json_unchanged():
    failure = targets.failure_from_targets(
        fixture("deployment-target-failed-hook.json"), failed_targets=3, more=True
    )
    event = DeploymentEvent("d-1", "storefront", "canary", "Failed", Event.FAILED)
    event = event.with_failure(failure)

    data = json.loads(json.dumps(event.to_dict()))
    assert data["failure"]["lifecycle_event"] == "ApplicationStart"
    assert data["failure"]["lifecycle_events"][2] == {
        "name": "ApplicationStart",
        "status": "Failed",
        "seconds": pytest.approx(64.5),
    }
    assert DeploymentEvent.from_dict(data) == event
    assert DeploymentEvent.from_dict({**data, "failure": None}).failure is None
    old = {k: v for k, v in data.items() if k != "failure"}  # stored before this field
    assert DeploymentEvent.from_dict(old).failure is None
    assert FailurePoint.from_dict(data["failure"]).failed_targets_text == "3+"


# --- the calls ----------------------------------------------------------------------------


def test_it_finds_the_failure_point_with_a_list_and_a_batch_get(deployment_targets):
    deployment_targets.add("d-3HX9WQ2LA", fixture_target("d-3HX9WQ2LA"))

    failure = targets.failure_point(client_of(deployment_targets), "d-3HX9WQ2LA")

    assert failure.lifecycle_event == "ApplicationStart"
    (listed, got) = deployment_targets.calls
    assert listed == (
        "ListDeploymentTargets",
        {"deploymentId": "d-3HX9WQ2LA", "targetFilters": {"TargetStatus": ["Failed"]}},
    )
    assert got == (
        "BatchGetDeploymentTargets",
        {"deploymentId": "d-3HX9WQ2LA", "targetIds": ["i-0a1b2c3d4e5f60718"]},
    )


@pytest.mark.parametrize("page_size", [100, 50, 1000])
def test_two_hundred_failed_targets_cost_at_most_three_calls(deployment_targets, page_size):
    deployment_targets.page_size = page_size
    for number in range(200):
        deployment_targets.add(
            "d-BIG", failed_instance("d-BIG", number, ended=1795795500.0 - number)
        )
    counter = cd.CallCounter()

    failure = targets.failure_point(client_of(deployment_targets, counter=counter), "d-BIG")

    assert counter.total <= targets.MAX_CALLS == 3
    assert counter.calls["BatchGetDeploymentTargets"] == 1
    (_, got) = deployment_targets.calls[-1]
    assert len(got["targetIds"]) == 25
    # of the 25 read, the one that failed first
    assert failure.target_id == "i-00000000000000018"
    counted = min(200, page_size * targets.LIST_PAGES)
    assert failure.failed_targets == counted
    assert failure.failed_targets_more == (counted < 200)


def test_a_deployment_with_no_failed_target_has_no_failure_point(deployment_targets):
    event = DeploymentEvent("d-STOP", "storefront", "canary", "Stopped", Event.STOPPED)
    assert targets.with_failure_point(client_of(deployment_targets), event) == event
    assert deployment_targets.operations() == ["ListDeploymentTargets"]


def test_a_succeeded_deployment_is_not_looked_up(deployment_targets):
    event = DeploymentEvent("d-OK", "storefront", "canary", "Succeeded", Event.SUCCEEDED)
    assert targets.with_failure_point(client_of(deployment_targets), event) is event
    assert deployment_targets.calls == []


def test_access_denied_leaves_the_failure_empty_and_says_what_to_allow(deployment_targets, caplog):
    deployment_targets.add("d-1", fixture_target("d-1"))
    deployment_targets.fail_with = (
        400,
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/notifier/x is not authorized to perform: "
        "codedeploy:ListDeploymentTargets",
    )
    event = DeploymentEvent("d-1", "storefront", "canary", "Failed", Event.FAILED)

    with caplog.at_level(logging.WARNING, logger="notifier.targets"):
        assert targets.with_failure_point(client_of(deployment_targets), event) == event

    (record,) = caplog.records
    assert "AccessDeniedException" in record.getMessage()
    assert "codedeploy:BatchGetDeploymentTargets" in record.getMessage()


def test_throttling_and_timeouts_leave_the_failure_empty(deployment_targets, caplog):
    deployment_targets.add("d-1", fixture_target("d-1"))
    event = DeploymentEvent("d-1", "storefront", "canary", "Failed", Event.FAILED)
    deployment_targets.fail_with = (400, "ThrottlingException", "Rate exceeded")
    assert targets.with_failure_point(client_of(deployment_targets), event).failure is None
    assert deployment_targets.operations() == ["ListDeploymentTargets"]  # not retried
    assert "IAM" not in caplog.text

    deployment_targets.fail_with, deployment_targets.hang_seconds = None, 2.0
    quick = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="notifier.targets"):
        assert targets.with_failure_point(client_of(deployment_targets, config=quick), event) == (
            event
        )
    assert "ReadTimeoutError" in caplog.records[-1].getMessage()


# --- through the poller -------------------------------------------------------------------


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def allow_local(settings):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1", "localhost"]


def register_webhooks(url: str, count: int) -> list[WebhookSetup]:
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    return [
        WebhookSetup.objects.create(registration=registration, url=url, events=["failed"])
        for _ in range(count)
    ]


def poll_and_send(store, fake):
    counter = cd.CallCounter()
    report = deployment_poll(
        store=store,
        client=cd.make_client(counter=counter),
        counter=counter,
        targets_client=client_of(fake, counter=counter),
    )
    return report, {key: delivery_send(key, store=store, holder="t") for key in report.deliveries}


@pytestmark_db
def test_the_poller_looks_up_a_failed_deployment_once_and_every_setup_gets_it(
    codedeploy, deployment_targets, httpserver, allow_local
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    register_webhooks(httpserver.url_for("/hook"), 2)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Failed")
    deployment_targets.add(deployment, fixture_target(deployment))
    store = OrmStore()

    report, states = poll_and_send(store, deployment_targets)

    assert list(states.values()) == [DELIVERED, DELIVERED]
    assert report.aws_calls["ListDeploymentTargets"] == 1  # once per deployment, not per setup
    assert report.aws_calls["BatchGetDeploymentTargets"] == 1
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert [b["failure"]["lifecycle_event"] for b in bodies] == ["ApplicationStart"] * 2
    assert bodies[0]["failure"]["target_id"] == "i-0a1b2c3d4e5f60718"
    assert store.deployment_get(deployment).event.failure.script_name == ("scripts/start_server.sh")


@pytestmark_db
def test_access_denied_still_sends_the_notification_without_the_failure_point(
    codedeploy, deployment_targets, httpserver, allow_local
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    register_webhooks(httpserver.url_for("/hook"), 1)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Failed")
    deployment_targets.add(deployment, fixture_target(deployment))
    deployment_targets.fail_with = (400, "AccessDeniedException", "not authorized")

    _, states = poll_and_send(OrmStore(), deployment_targets)

    assert list(states.values()) == [DELIVERED]
    ((request, _),) = httpserver.log
    body = json.loads(request.get_data())
    assert body["event"] == "failed" and body["failure"] is None


@pytestmark_db
def test_a_succeeded_deployment_costs_no_target_calls(
    codedeploy, deployment_targets, httpserver, allow_local
):
    register_webhooks(httpserver.url_for("/hook"), 1)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")

    report, _ = poll_and_send(OrmStore(), deployment_targets)

    assert [e.event for e in report.events] == [Event.SUCCEEDED]
    assert "ListDeploymentTargets" not in report.aws_calls
    assert deployment_targets.operations() == []


def test_the_documented_policies_allow_reading_deployment_targets():
    docs = Path(__file__).resolve().parents[2] / "docs"
    service = json.loads((docs / "iam-policy.json").read_text())["Statement"]
    role = json.loads((docs / "source-role.json").read_text())["Resources"]["SourceRole"]
    [policy] = [
        p for p in role["Properties"]["Policies"] if p.get("PolicyName") == "read-codedeploy"
    ]
    for statements in (service, policy["PolicyDocument"]["Statement"]):
        allowed = {action for s in statements for action in s["Action"]}
        assert {
            "codedeploy:ListDeploymentTargets",
            "codedeploy:BatchGetDeploymentTargets",
        } <= allowed


@pytestmark_db
def test_the_service_loop_looks_up_failures_with_the_sources_own_session(
    codedeploy, deployment_targets, monkeypatch
):
    """notifier.pollers makes the targets client from the source's session: here boto3's
    chain, whose CodeDeploy endpoint is the local targets server (forwarding the rest to
    moto)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", deployment_targets.endpoint)
    boto3_session_for.cache_clear()
    register_webhooks("https://hooks.example.com/deploys", 1)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Failed")
    deployment_targets.add(deployment, fixture_target(deployment))
    store = OrmStore()
    pollers = SourcePollers(store=store, holder="n", interval=0.05, idle_interval=600, threads=1)
    try:
        deadline = time.monotonic() + 30
        while not pollers.cycles and time.monotonic() < deadline:
            time.sleep(min(pollers.start_due(), 0.05))
    finally:
        pollers.close()
        boto3_session_for.cache_clear()

    assert store.deployment_get(deployment).event.failure.lifecycle_event == "ApplicationStart"
    assert deployment_targets.operations() == [
        "ListDeploymentTargets",
        "BatchGetDeploymentTargets",
    ]


@pytestmark_db
def test_a_pushed_failure_says_where_it_broke(
    codedeploy, deployment_targets, httpserver, allow_local, monkeypatch
):
    """The push consumer's batch (notifier.push_batch) looks it up as the poller does, with
    the source's own session; only for the failure, not for the start."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", deployment_targets.endpoint)
    boto3_session_for.cache_clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    (setup,) = register_webhooks(httpserver.url_for("/hook"), 1)
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Failed")
    deployment_targets.add(deployment, fixture_target(deployment))
    pushed = json.loads((FIXTURES / "eventbridge-deployment-success.json").read_text())
    pushed["detail"].update(deploymentId=deployment, state="FAILURE")
    store = OrmStore()
    batch = PushBatch(queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/q", store=store)
    try:
        outcome = batch.handle(
            [{"Body": json.dumps(pushed)}], sources=[source_default().config()], now=timezone.now()
        )
    finally:
        boto3_session_for.cache_clear()

    assert outcome.acted == 1, outcome
    assert store.deployment_get(deployment).event.failure.script_name == ("scripts/start_server.sh")
    assert deployment_targets.operations() == [
        "ListDeploymentTargets",
        "BatchGetDeploymentTargets",
    ]
    (key,) = store.deliveries_due()
    assert key.setup_id == setup.pk
    assert delivery_send(key, store=store, holder="t") == DELIVERED
    ((request, _),) = httpserver.log
    assert json.loads(request.get_data())["failure"]["lifecycle_event"] == "ApplicationStart"

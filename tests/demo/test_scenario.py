"""The scenario player over a real simulated AWS: each path ends where AWS would leave it,
the pushed source's EventBridge carries CodeDeploy's and CloudTrail's events as the product's
push rule selects them, the polled source's CloudTrail names who deployed, and the product's
own code reads every path fully."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import boto3
import pytest

from channels.webhook import WebhookSetup
from notifier import cloudtrail, codedeploy, targets
from notifier.demo.scenario import PATHS, Player
from notifier.demo.world import source
from notifier.dispatch import delivery_send
from notifier.events import Event
from notifier.log_tail import MASK
from notifier.poller import deployment_poll
from notifier.push import QueueConsumer
from notifier.push_messages import Ignored, PushedDeployment, PushedPrincipal, message_classify
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.push import EVENT_PATTERN, push_setup
from registrations.sources import source_default

DEFAULT = source("default")
EU = source("payments-eu")


class Queue:
    """An SQS queue fed by an EventBridge rule with the product's own push pattern."""

    def __init__(self, aws, where) -> None:
        self.sqs = aws.client("sqs", where.account, where.region)
        events = aws.client("events", where.account, where.region)
        self.url = self.sqs.create_queue(QueueName="demo-test-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        events.put_rule(Name="demo-test", EventPattern=json.dumps(EVENT_PATTERN))
        events.put_targets(
            Rule="demo-test", Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
        )

    def drain(self) -> list:
        found = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            if not answer.get("Messages"):
                return found
            for message in answer["Messages"]:
                found.append(message_classify(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def events_of(self, deployment_id: str) -> list[Event]:
        return [
            m.event
            for m in self.drain()
            if isinstance(m, PushedDeployment) and m.deployment_id == deployment_id
        ]


def _player(**options) -> Player:
    return Player(**{"seed": 7, "pace": 0.02, "log": lambda line: None, **options})


def _info(aws, deployment_id: str, where=DEFAULT) -> dict:
    client = aws.client("codedeploy", where.account, where.region)
    return codedeploy.batch_get(client, [deployment_id])[0]


@pytest.mark.parametrize(
    ("path", "status", "events"),
    [
        ("succeeded", "Succeeded", [Event.STARTED, Event.SUCCEEDED]),
        ("stopped", "Stopped", [Event.STARTED, Event.STOPPED]),
        ("blue_green_ready", "Succeeded", [Event.STARTED, Event.READY, Event.SUCCEEDED]),
        ("ecs", "Succeeded", [Event.STARTED, Event.SUCCEEDED]),
    ],
)
def test_each_path_of_the_pushed_source_ends_as_aws_would_with_its_events(
    aws, path, status, events
):
    queue = Queue(aws, DEFAULT)
    deployment_id = _player(aws=aws).play(path)
    assert deployment_id.startswith("d-") and len(deployment_id) == 11
    info = _info(aws, deployment_id)
    assert info["status"] == status
    assert info["completeTime"] and info["startTime"]
    assert queue.events_of(deployment_id) == events


def test_a_pushed_deployment_made_by_a_person_comes_with_its_cloudtrail_event(aws):
    queue = Queue(aws, DEFAULT)
    deployment_id = _player(aws=aws).play("succeeded")
    messages = queue.drain()
    principals = [m for m in messages if isinstance(m, PushedPrincipal)]
    assert [cloudtrail.cloudtrail_principal(p.detail)[0] for p in principals] == [deployment_id]
    assert principals[0].account == DEFAULT.account
    assert not [m for m in messages if isinstance(m, Ignored)]


def test_a_failed_deployment_fails_with_its_error_and_rolls_back(aws):
    queue = Queue(aws, DEFAULT)
    player = _player(aws=aws)
    deployment_id = player.play("failed_rollback")
    event = codedeploy.normalise(_info(aws, deployment_id), event=Event.FAILED, region="us-east-1")
    assert event.status == "Failed"
    assert (
        event.error_code in ("HEALTH_CONSTRAINTS", "HOOK_EXECUTION_FAILURE") and event.error_message
    )
    rollback_id = event.rollback.rollback_deployment_id
    rollback = _info(aws, rollback_id)
    assert rollback["status"] == "Succeeded"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    assert ("rollback", rollback_id) in player.played
    pushed = [m for m in queue.drain() if isinstance(m, PushedDeployment)]
    assert [(m.deployment_id, m.event) for m in pushed] == [
        (deployment_id, Event.STARTED),
        (deployment_id, Event.FAILED),
        (rollback_id, Event.STARTED),
        (rollback_id, Event.SUCCEEDED),
    ]


def test_the_product_finds_where_a_failed_deployment_broke_with_secrets_masked(aws):
    deployment_id = _player(aws=aws).play("failed_rollback", on=("payments", "canary"))
    client = aws.client("codedeploy", EU.account, EU.region)
    failure = targets.failure_point(client, deployment_id)
    assert failure.lifecycle_event in ("ApplicationStart", "ValidateService")
    assert failure.script_name.startswith("scripts/")
    assert MASK in failure.log_tail
    assert "s3cr3t" not in failure.log_tail and "tok_4f9a" not in failure.log_tail


def test_the_polled_source_gets_no_events_and_its_cloudtrail_names_the_deployer(aws):
    eu_queue = Queue(aws, EU)
    deployment_id = _player(aws=aws).play("succeeded", on=("payments", "production"))
    assert _info(aws, deployment_id, EU)["status"] == "Succeeded"
    assert eu_queue.drain() == []
    created = _info(aws, deployment_id, EU)["createTime"]
    found, _ = cloudtrail.lookup_principals(
        aws.client("cloudtrail", EU.account, EU.region),
        start=created - timedelta(minutes=1),
        end=created + timedelta(minutes=1),
        bucket=cloudtrail.TokenBucket(),
    )
    assert found[deployment_id].type in ("IAMUser", "AssumedRole")
    assert found[deployment_id].arn.split(":")[4] == EU.account


def test_an_auto_scaling_deployment_has_no_person_in_cloudtrail(aws):
    deployment_id = _player(aws=aws).play("autoscaling")
    info = _info(aws, deployment_id, EU)
    assert (info["status"], info["creator"]) == ("Succeeded", "autoscaling")
    assert info["applicationName"] == "ledger-worker"
    lookups = aws.client("cloudtrail", EU.account, EU.region).lookup_events()
    assert lookups["Events"] == []


def test_the_player_in_its_thread_plays_every_path_and_stops_promptly(aws):
    player = _player(aws=aws, every=1.0)
    player.start()
    done = threading.Event()
    for _ in range(200):
        played = {path for path, _ in player.played}
        if set(PATHS) <= played and len(player.played) > len(PATHS) + 2:
            done.set()
            break
        done.wait(0.1)
    player.stop()
    assert player._thread is not None and not player._thread.is_alive()
    assert set(PATHS) <= {path for path, _ in player.played}
    statuses = {
        _info(aws, d, where)["status"]
        for where in (DEFAULT, EU)
        for d in aws.client("codedeploy", where.account, where.region).list_deployments()[
            "deployments"
        ]
    }
    assert {"Succeeded", "Failed", "Stopped"} <= statuses


def test_an_unknown_path_is_refused_by_name(aws):
    with pytest.raises(ValueError, match="path: 'deleted'"):
        _player(aws=aws).play("deleted")
    assert boto3.client("codedeploy").list_deployments()["deployments"] == []


@pytest.mark.django_db(transaction=True)
def test_the_products_poller_sends_a_failed_deployment_with_error_rollback_and_failure_point(
    aws, httpserver, settings
):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1", "localhost"]
    httpserver.expect_request("/hook").respond_with_data("ok")
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(
        registration=registration, url=httpserver.url_for("/hook"), events=["failed"]
    )
    player = _player(aws=aws)
    deployment_id = player.play("failed_rollback")
    store = OrmStore()
    report = deployment_poll(
        store=store,
        client=codedeploy.make_client(),
        targets_client=codedeploy.make_client(config=targets.TARGETS_CONFIG),
    )
    for key in report.deliveries:
        delivery_send(key, store=store, holder="t")
    [body] = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert (body["deployment_id"], body["event"]) == (deployment_id, "failed")
    assert body["error_code"] in ("HEALTH_CONSTRAINTS", "HOOK_EXECUTION_FAILURE")
    assert body["rollback"]["rollback_deployment_id"] in dict(map(reversed, player.played))
    assert body["failure"]["lifecycle_event"] in ("ApplicationStart", "ValidateService")
    assert MASK in body["failure"]["log_tail"]
    assert body["revision"]["url"].startswith("https://github.com/acme/storefront/commit/")


@pytest.mark.django_db(transaction=True)
def test_the_products_push_setup_and_consumer_take_a_played_deployment_and_its_deployer(
    aws, httpserver, settings
):
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1", "localhost"]
    settings.NOTIFIER_PUSH_WAIT_SECONDS = 0
    httpserver.expect_request("/hook").respond_with_data("ok")
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    WebhookSetup.objects.create(
        registration=registration, url=httpserver.url_for("/hook"), events=["succeeded"]
    )
    default = source_default()
    push_setup(source=default)
    default.refresh_from_db()
    store = OrmStore()
    consumer = QueueConsumer(default.config(), store=store)
    deployment_id = _player(aws=aws).play("succeeded")
    for _ in range(3):
        consumer.receive_once()
    for key in store.deliveries_due():
        delivery_send(key, store=store, holder="t")
    [body] = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert (body["deployment_id"], body["event"]) == (deployment_id, "succeeded")
    assert body["deployer"]["kind"] == "principal"
    assert body["deployer"]["principal_arn"].split(":")[4] == DEFAULT.account
    assert body["instances"]["succeeded"] == 4

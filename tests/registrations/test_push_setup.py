"""push_setup against moto's server over HTTP: what it creates, that EventBridge then puts
CodeDeploy's events on the queue, that a second run changes nothing, a role source's own
account, the CloudFormation template, and AWS refusals in words."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import boto3
import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from werkzeug import Request, Response

from notifier.sources import boto3_session_for
from registrations.push import EVENT_PATTERN
from registrations.sources import Source, source_default
from tests.support.aws import ACCOUNT, REGION

pytestmark = pytest.mark.django_db

FIXTURE = (
    Path(__file__).parents[1] / "fixtures" / "codedeploy" / "eventbridge-deployment-success.json"
)
OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"
CREATE_DEPLOYMENT_CALL = {
    "eventVersion": "1.08",
    "eventSource": "codedeploy.amazonaws.com",
    "eventName": "CreateDeployment",
    "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ci/x"},
    "responseElements": {"deploymentId": "d-7QK2M4ZP1"},
}


@pytest.fixture(autouse=True)
def fresh_sessions(aws):
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("push_setup", *args, stdout=out)
    return out.getvalue()


def put_event(events, detail_type: str, detail: dict, source: str = "aws.codedeploy") -> None:
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    answer = events.put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0


def received(sqs, url: str) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_push_setup_creates_the_queue_rule_and_policy_and_codedeploy_events_land_in_it(aws):
    default = source_default()
    text = run("--source", "default")
    name = "codedeploy-notifier-default"
    for step in (
        f"created dead-letter queue {name}-dlq",
        f"created queue {name}",
        f"created rule {name} on the default bus",
        "set the queue policy",
        f"rule {name} now targets the queue",
        "source default now reads",
    ):
        assert step in text, text
    assert text.strip().splitlines()[-1].startswith("push for source default is set up: ")

    default.refresh_from_db()
    sqs, events = boto3.client("sqs"), boto3.client("events")
    assert default.queue_url == sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=default.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "60"
    assert attributes["MessageRetentionPeriod"] == str(4 * 24 * 3600)
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}-dlq"
    assert int(redrive["maxReceiveCount"]) == 5
    dlq_url = sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["MessageRetentionPeriod"])
    assert dlq["Attributes"]["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    )

    shape = json.loads(FIXTURE.read_text())
    put_event(events, shape["detail-type"], shape["detail"])
    put_event(events, "AWS API Call via CloudTrail", CREATE_DEPLOYMENT_CALL)
    put_event(events, "AWS API Call via CloudTrail", {**CREATE_DEPLOYMENT_CALL, "eventName": "x"})
    put_event(events, "EC2 Instance State-change Notification", {"state": "running"}, "aws.ec2")
    bodies = received(sqs, default.queue_url) + received(sqs, default.queue_url)
    kinds = sorted((b["detail-type"], b["detail"].get("eventName", "")) for b in bodies)
    assert kinds == [
        ("AWS API Call via CloudTrail", "CreateDeployment"),
        ("CodeDeploy Deployment State-change Notification", ""),
    ]
    state_change = next(b for b in bodies if b["detail-type"] == shape["detail-type"])
    assert state_change["source"] == "aws.codedeploy"
    assert state_change["detail"] == shape["detail"]


def test_a_second_run_changes_nothing_and_says_so(aws):
    source_default()
    run("--source", "default")
    again = run("--source", "default")
    *steps, last = again.strip().splitlines()
    assert all(step.endswith(", kept") for step in steps), again
    assert "queue codedeploy-notifier-default exists, kept" in again
    assert "rule codedeploy-notifier-default exists, kept" in again
    assert "already targets the queue, kept" in again
    assert "is already set up, nothing changed" in last
    events = boto3.client("events")
    assert len(events.list_rules()["Rules"]) == 1
    assert len(events.list_targets_by_rule(Rule="codedeploy-notifier-default")["Targets"]) == 1
    assert len(boto3.client("sqs").list_queues()["QueueUrls"]) == 2


def test_a_changed_setting_is_put_back_and_reported(aws):
    source_default()
    run("--source", "default", "--queue-name", "deploys")
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.get_queue_url(QueueName="deploys")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    events.disable_rule(Name="deploys")
    again = run("--source", "default", "--queue-name", "deploys")
    assert "queue deploys exists, set VisibilityTimeout" in again
    assert "rule deploys exists, set its event pattern and enabled it" in again
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "60"
    assert events.describe_rule(Name="deploys")["State"] == "ENABLED"


def test_a_role_source_gets_its_queue_and_rule_in_the_roles_account_and_region(aws):
    prod = Source.objects.create(name="prod", region="eu-west-1", credentials="role", role_arn=ROLE)
    run("--source", "prod")
    prod.refresh_from_db()
    assert f"/{OTHER_ACCOUNT}/codedeploy-notifier-prod" in prod.queue_url
    session = boto3_session_for(prod.config())
    rule = session.client("events").describe_rule(Name="codedeploy-notifier-prod")
    assert rule["Arn"] == f"arn:aws:events:eu-west-1:{OTHER_ACCOUNT}:rule/codedeploy-notifier-prod"
    assert "QueueUrls" not in boto3.client("sqs").list_queues()  # nothing in the service's own

    put_event(session.client("events"), "CodeDeploy Deployment State-change Notification", {})
    assert len(received(session.client("sqs"), prod.queue_url)) == 1


def test_print_gives_a_cloudformation_template_and_makes_no_aws_call(aws):
    source_default()
    template = json.loads(run("--source", "default", "--print", "--queue-name", "deploys"))
    resources = template["Resources"]
    assert {r["Type"] for r in resources.values()} == {
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
        "AWS::SQS::QueuePolicy",
    }
    assert resources["Queue"]["Properties"]["QueueName"] == "deploys"
    assert resources["Queue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert resources["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 1209600
    rule = resources["Rule"]["Properties"]
    assert rule["EventPattern"] == EVENT_PATTERN
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    statement = resources["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["Rule", "Arn"]}
    assert template["Outputs"]["QueueUrl"]["Value"] == {"Ref": "Queue"}
    assert "QueueUrls" not in boto3.client("sqs").list_queues()
    assert source_default().queue_url == ""


# moto's CloudFormation skips AWS::SQS::QueuePolicy (it warns), and its SQS does not check
# queue policies: this proves the resources wire up; the policy's shape is tested above.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS..SQS..QueuePolicy")
def test_the_printed_template_deployed_by_cloudformation_delivers_codedeploy_events(aws):
    source_default()
    body = run("--source", "default", "--print")
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="codedeploy-notifier", TemplateBody=body)
    [stack] = cloudformation.describe_stacks(StackName="codedeploy-notifier")["Stacks"]
    [output] = stack["Outputs"]
    put_event(boto3.client("events"), "CodeDeploy Deployment State-change Notification", {})
    assert len(received(boto3.client("sqs"), output["OutputValue"])) == 1


def test_an_unknown_source_or_a_bad_queue_name_is_refused_in_words(aws):
    source_default()
    with pytest.raises(CommandError, match="--source: no source is named 'nope'.*default"):
        run("--source", "nope")
    with pytest.raises(CommandError, match="--queue-name"):
        run("--source", "default", "--queue-name", "bad name!")


class Relay:
    """A relay in front of moto's SQS and EventBridge (both JSON protocols) that records each
    action called and refuses those in `denied` with AccessDenied, as AWS does when the
    caller's IAM policy lacks them."""

    def __init__(self, httpserver, moto_endpoint: str) -> None:
        self.moto_endpoint = moto_endpoint
        self.denied: set[str] = set()
        self.actions: list[str] = []
        httpserver.expect_request("/", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/")

    def handle(self, request: Request) -> Response:
        prefix, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
        action = f"{'sqs' if prefix == 'AmazonSQS' else 'events'}:{operation}"
        self.actions.append(action)
        if action in self.denied:
            error = {
                "__type": "com.amazon.coral.service#AccessDeniedException",
                "message": f"User is not authorized to perform: {action.lower()}",
            }
            return Response(
                json.dumps(error),
                status=400,
                content_type="application/x-amz-json-1.0",
                headers={"x-amzn-query-error": "AccessDenied;Sender"},
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        answer = requests.post(
            self.moto_endpoint + "/", data=request.get_data(), headers=headers, timeout=10
        )
        return Response(answer.content, status=answer.status_code, headers=dict(answer.headers))


@pytest.fixture
def relay(aws, httpserver, monkeypatch) -> Relay:
    relay = Relay(httpserver, aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", relay.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", relay.url)
    return relay


@pytest.mark.parametrize("action", ["sqs:CreateQueue", "events:DescribeRule", "events:PutTargets"])
def test_access_denied_names_the_iam_action_to_allow(relay, action):
    relay.denied.add(action)
    source_default()
    with pytest.raises(CommandError) as refused:
        run("--source", "default")
    message = str(refused.value)
    assert f"AWS refused {action} (AccessDenied)" in message
    assert f"Allow the service's own IAM principal the action {action}" in message
    assert "docs/push.md" in message
    assert source_default().queue_url == ""


def test_access_denied_through_a_role_names_the_role(relay):
    relay.denied.add("sqs:SetQueueAttributes")
    Source.objects.create(name="prod", region="eu-west-1", credentials="role", role_arn=ROLE)
    with pytest.raises(
        CommandError, match=f"Allow the role {ROLE} the action sqs:SetQueueAttributes"
    ):
        run("--source", "prod")


def test_the_documented_policies_allow_every_action_push_setup_calls(relay):
    source_default()
    run("--source", "default")
    called = set(relay.actions)
    assert {"sqs:CreateQueue", "events:PutRule", "events:PutTargets"} <= called
    docs = Path(__file__).parents[2] / "docs"
    service = json.loads((docs / "iam-policy.json").read_text())["Statement"]
    allowed = {
        action
        for statement in service
        if statement["Sid"] in ("PushSetupQueues", "PushSetupRules")
        for action in statement["Action"]
    }
    assert called <= allowed, called - allowed
    role = json.loads((docs / "source-role.json").read_text())["Resources"]["SourceRole"]
    [conditional] = [p for p in role["Properties"]["Policies"] if "Fn::If" in p]
    setup = conditional["Fn::If"][1]["PolicyDocument"]["Statement"]
    assert called <= {action for statement in setup for action in statement["Action"]}
    push = (docs / "push.md").read_text()
    assert all(f"`{action}`" in push for action in called)


@pytest.mark.django_db(transaction=True)
def test_after_push_setup_the_consumer_reads_the_queue_and_the_pages_show_it(
    aws, client, settings, tmp_path
):
    from django.contrib.auth.models import User

    from notifier.push import QueueConsumer, enabled_sources
    from notifier.storage.orm import OrmStore
    from tests.support.aws import FakeCodeDeploy

    settings.NOTIFIER_PUSH_WAIT_SECONDS = 1
    default = source_default()
    run("--source", "default")
    deployment = FakeCodeDeploy(aws.endpoint).deploy("storefront")
    shape = json.loads(FIXTURE.read_text())
    put_event(
        boto3.client("events"),
        shape["detail-type"],
        {**shape["detail"], "deploymentId": deployment},
    )
    put_event(boto3.client("events"), "AWS API Call via CloudTrail", CREATE_DEPLOYMENT_CALL)
    (reader,) = [c for c in enabled_sources() if c.queue_url]
    consumer = QueueConsumer(reader, store=OrmStore())
    consumer.receive_once()
    consumer.receive_once()

    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    status = client.get("/status/").content.decode()
    default.refresh_from_db()
    assert f'data-queue="{default.queue_url}"' in status
    row = status[status.index(f'data-queue="{default.queue_url}"') :].split("</tr>")[0]
    assert re.search(r">receiving \(last receive \d s ago\)<", row), row
    assert "<td>2</td>" in row  # received: the state change and the CreateDeployment call
    assert "<td>1</td>" in row  # acted on: the call, which names who deployed
    assert "1 unregistered_application" in row  # the state change: storefront is not registered
    sources = client.get("/admin/registrations/source/").content.decode()
    assert re.search(r"receiving \(last receive \d s ago\)", sources)


def test_a_role_that_cannot_be_assumed_is_refused_in_words(aws, httpserver, monkeypatch):
    from tests.support.sts import DenyingSts

    relay = DenyingSts(httpserver, aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", relay.url)
    relay.denied.add(ROLE)
    Source.objects.create(name="prod", region="eu-west-1", credentials="role", role_arn=ROLE)
    with pytest.raises(CommandError, match="trust policy"):
        run("--source", "prod")
    assert Source.objects.get(name="prod").queue_url == ""

"""The demo's world: its AWS accounts and regions, CodeDeploy applications, people.

Plain frozen dataclasses, no Django. `world_create(aws)` makes it in the simulated AWS (a
`notifier.demo.aws.SimulatedAws`): every application and deployment group in its account and
region, an SES verified sender (DEMO_SENDER) and an SNS topic `deployments` per source
(`topic_arn(source_name)`). Push queues are not made here: the launcher runs the product's own
`manage.py push_setup`.

Sources: "default" (the service's own credentials, 123456789012 us-east-1, push on) and
"payments-eu" (a role in 210987654321, eu-west-1, polled only). "search-indexer" exists in
CodeDeploy but is not registered (`UNREGISTERED`): a person registers it in the demo.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from notifier.demo.aws import DEFAULT_ACCOUNT, role_arn

DEMO_SENDER = "notifier@demo.example.com"
TOPIC_NAME = "deployments"
SERVICE_ROLE = "CodeDeployServiceRole"


@dataclass(frozen=True)
class Source:
    name: str
    account: str
    region: str
    role_arn: str = ""  # empty: the service's own credentials
    push: bool = False


@dataclass(frozen=True)
class Group:
    name: str
    blue_green: bool = False
    auto_scaling_group: str = ""  # deployments made by Auto Scaling when set
    instances: int = 3


@dataclass(frozen=True)
class Application:
    name: str
    source: str  # a Source's name
    compute_platform: str  # Server | ECS
    groups: tuple[Group, ...]
    repository: str  # the GitHub repository of its revisions
    registered: bool = True


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    slack_id: str
    iam_user: str = ""  # an IAM user's name, or:
    session_name: str = ""  # an assumed-role session's name (of role PEOPLE_ROLE)


SOURCES = (
    Source("default", DEFAULT_ACCOUNT, "us-east-1", push=True),
    Source("payments-eu", "210987654321", "eu-west-1", role_arn=role_arn("210987654321")),
)
APPLICATIONS = (
    Application(
        "storefront",
        "default",
        "Server",
        (Group("production", instances=4), Group("staging", instances=2)),
        "acme/storefront",
    ),
    Application(
        "checkout-api",
        "default",
        "ECS",
        (Group("ecs-production", blue_green=True, instances=1),),
        "acme/checkout-api",
    ),
    Application(
        "payments",
        "payments-eu",
        "Server",
        (Group("production", instances=3), Group("canary", instances=1)),
        "acme/payments",
    ),
    Application(
        "ledger-worker",
        "payments-eu",
        "Server",
        (Group("workers", auto_scaling_group="ledger-worker-asg", instances=2),),
        "acme/ledger-worker",
    ),
    Application(
        "search-indexer",
        "default",
        "Server",
        (Group("production", instances=2),),
        "acme/search-indexer",
        registered=False,
    ),
)
UNREGISTERED = tuple(a for a in APPLICATIONS if not a.registered)
PEOPLE_ROLE = "developers"  # the role Sam Lee's sessions come from
DEPLOY_BOT_ROLE = "deploy-bot"  # a role with no person behind it
PEOPLE = (
    Person("Maria Garcia", "maria.garcia@example.com", "U0DEMO0001", iam_user="maria.garcia"),
    Person("Sam Lee", "sam.lee@example.com", "U0DEMO0002", session_name="sam.lee@example.com"),
)

# The (application, group)s each scenario path plays on; its opening plays the first.
PATH_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "succeeded": (
        ("storefront", "production"),
        ("payments", "production"),
        ("storefront", "staging"),
        ("payments", "canary"),
    ),
    "failed_rollback": (("storefront", "production"), ("payments", "canary")),
    "stopped": (("storefront", "staging"), ("payments", "production")),
    "blue_green_ready": (("checkout-api", "ecs-production"),),
    "ecs": (("checkout-api", "ecs-production"),),
    "autoscaling": (("ledger-worker", "workers"),),
}


def source(name: str) -> Source:
    return next(s for s in SOURCES if s.name == name)


def application(name: str) -> Application:
    return next(a for a in APPLICATIONS if a.name == name)


def topic_arn(source_name: str) -> str:
    """The ARN of the SNS topic `deployments` of a source's account and region."""
    where = source(source_name)
    return f"arn:aws:sns:{where.region}:{where.account}:{TOPIC_NAME}"


def _group_fields(app: Application, group: Group, account: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "serviceRoleArn": f"arn:aws:iam::{account}:role/{SERVICE_ROLE}",
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    }
    if app.compute_platform == "ECS":
        fields["deploymentConfigName"] = "CodeDeployDefault.ECSAllAtOnce"
        fields["deploymentStyle"] = {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        }
        fields["blueGreenDeploymentConfiguration"] = {
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": 30,
            },
        }
        fields["ecsServices"] = [{"serviceName": app.name, "clusterName": "acme-production"}]
        fields["loadBalancerInfo"] = {
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": f"{app.name}-blue"}, {"name": f"{app.name}-green"}],
                    "prodTrafficRoute": {
                        "listenerArns": [
                            f"arn:aws:elasticloadbalancing:us-east-1:{account}:listener/app/"
                            f"{app.name}/50dc6c495c0c9188/f2f7dc8efc522ab2"
                        ]
                    },
                }
            ]
        }
        return fields
    fields["deploymentConfigName"] = "CodeDeployDefault.OneAtATime"
    fields["deploymentStyle"] = {
        "deploymentType": "IN_PLACE",
        "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
    }
    if group.auto_scaling_group:
        fields["autoScalingGroups"] = [group.auto_scaling_group]
    else:
        fields["ec2TagFilters"] = [
            {"Key": "app", "Value": f"{app.name}-{group.name}", "Type": "KEY_AND_VALUE"}
        ]
    return fields


def world_create(aws: Any) -> None:
    """Make the world in `aws` (a started SimulatedAws). Idempotent enough to run twice."""
    for app in APPLICATIONS:
        where = source(app.source)
        codedeploy = aws.client("codedeploy", where.account, where.region)
        with contextlib.suppress(codedeploy.exceptions.ApplicationAlreadyExistsException):
            codedeploy.create_application(
                applicationName=app.name, computePlatform=app.compute_platform
            )
        for group in app.groups:
            with contextlib.suppress(codedeploy.exceptions.DeploymentGroupAlreadyExistsException):
                codedeploy.create_deployment_group(
                    applicationName=app.name,
                    deploymentGroupName=group.name,
                    **_group_fields(app, group, where.account),
                )
    for where in SOURCES:
        aws.client("ses", where.account, where.region).verify_email_identity(
            EmailAddress=DEMO_SENDER
        )
        aws.client("sns", where.account, where.region).create_topic(Name=TOPIC_NAME)


# What happens in this world: why deployments fail, their release notes.
# A failing hook's script, message and log tail; one line looks like a secret, so the
# product's masking (notifier.log_tail) shows in every channel.
FAILURES = (
    (
        "ApplicationStart",
        "scripts/start_server.sh",
        "[stdout]Starting {app} (release {release})...\n"
        "[stdout]Loading configuration from /etc/{app}/env\n"
        "[stdout]DB_PASSWORD=s3cr3t-Pa55w0rd-{release}\n"
        "[stderr]Error: listen EADDRINUSE: address already in use :::8080\n"
        "[stderr]    at Server.setupListenHandle [as _listen2] (node:net:1817:16)\n",
    ),
    (
        "ValidateService",
        "scripts/validate_service.sh",
        "[stdout]Waiting for http://localhost:8080/healthz ...\n"
        "[stdout]export API_TOKEN=tok_4f9a8c7e2b1d6f3a0e5c9b8d7a6f\n"
        "[stdout]curl: (7) Failed to connect to localhost port 8080: Connection refused\n"
        "[stderr]{app} did not become healthy within 60 seconds\n",
    ),
)

ERRORS = (
    (
        "HEALTH_CONSTRAINTS",
        "The overall deployment failed because too many individual instances failed "
        "deployment, too few healthy instances are available for deployment, or some "
        "instances in your deployment group are experiencing problems.",
    ),
    (
        "HOOK_EXECUTION_FAILURE",
        "The deployment failed because the {hook} lifecycle event hook failed: the script "
        "{script} exited with code 1.",
    ),
)
MANUAL_STOP = "The deployment was stopped by a user."
DESCRIPTIONS = (
    "Release {release}: faster cart totals",
    "Release {release}: fix rounding of refunds",
    "Release {release}: upgrade to Node 22",
    "Hotfix {release}: retry timeouts to the tax service",
    "Release {release}: new onboarding emails",
)

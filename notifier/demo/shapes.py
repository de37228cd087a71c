"""AWS-shaped records the scenario player makes: CloudTrail records and identities,
CodeDeploy deployment targets with lifecycle events, revisions. Pure: no AWS, no Django.

Shapes follow AWS's documentation (and tests/fixtures/codedeploy/):
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentTarget.html
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from notifier.demo.world import DEPLOY_BOT_ROLE, PEOPLE_ROLE, Application, Person, Source

# What goes wrong lives in notifier.demo.world; importable from here too (re-exported).
from notifier.demo.world import ERRORS as ERRORS
from notifier.demo.world import FAILURES as FAILURES

SERVER_HOOKS = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)
ECS_HOOKS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
STATE_DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
STATES = {"InProgress": "START", "Ready": "READY", "Succeeded": "SUCCESS", "Failed": "FAILURE"}
STATES["Stopped"] = "STOP"


def state_detail(run: Any, group_id: str, status: str) -> dict[str, str]:
    """The detail of CodeDeploy's "Deployment State-change Notification" of deployment
    `run` (the player's) reaching `status`."""
    return {
        "instanceGroupId": group_id,
        "region": run.source.region,
        "application": run.app.name,
        "deploymentId": run.deployment_id,
        "state": STATES[status],
        "deploymentGroup": run.group.name,
    }


def overview(status: str, count: int, done: int = 0) -> dict[str, int]:
    """deploymentOverview's instance counts of a deployment of `count` instances in `status`
    (`done` of them finished while InProgress)."""
    counts = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
    if status == "InProgress":
        counts.update(Succeeded=done, InProgress=count - done)
    elif status in ("Ready", "Succeeded"):
        counts[status] = count
    elif status == "Failed":
        counts.update(Failed=1, Skipped=count - 1)
    elif status == "Stopped":
        counts.update(Succeeded=count // 2, Skipped=count - count // 2)
    return counts


def now_text(moment: float | None = None) -> str:
    return datetime.fromtimestamp(moment or time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity(who: Person | None, account: str, rng: random.Random) -> dict[str, Any]:
    """CloudTrail's userIdentity: an IAM user, a person's assumed-role session, or (None)
    the deploy-bot role's session."""
    if who is not None and who.iam_user:
        return {
            "type": "IAMUser",
            "principalId": "AIDA" + _upper(rng, 17),
            "arn": f"arn:aws:iam::{account}:user/{who.iam_user}",
            "accountId": account,
            "accessKeyId": "AKIA" + _upper(rng, 16),
            "userName": who.iam_user,
        }
    role = PEOPLE_ROLE if who is not None else DEPLOY_BOT_ROLE
    session = who.session_name if who is not None else f"github-actions-{rng.randint(1000, 9999)}"
    role_id = "AROA" + _upper(rng, 17)
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIA" + _upper(rng, 16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {
                "creationDate": now_text(),
                "mfaAuthenticated": str(who is not None).lower(),
            },
        },
    }


def create_deployment_record(
    *, deployment_id: str, source: Source, application: str, group: str, who: dict[str, Any]
) -> dict[str, Any]:
    """The CloudTrail record of a successful codedeploy:CreateDeployment."""
    bot = who.get("type") == "AssumedRole" and f"/{DEPLOY_BOT_ROLE}/" in who.get("arn", "")
    return {
        "eventVersion": "1.09",
        "userIdentity": who,
        "eventTime": now_text(),
        "eventSource": "codedeploy.amazonaws.com",
        "eventName": "CreateDeployment",
        "awsRegion": source.region,
        "sourceIPAddress": "192.0.2.44" if bot else "203.0.113.10",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64"
        if not bot
        else "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.12.3",
        "requestParameters": {"applicationName": application, "deploymentGroupName": group},
        "responseElements": {"deploymentId": deployment_id},
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": source.account,
        "eventCategory": "Management",
    }


def revision(app: Application, release: str, rng: random.Random, account: str) -> dict[str, Any]:
    """A realistic revision: an ECS AppSpec, an S3 bundle (payments) or a GitHub commit."""
    if app.compute_platform == "ECS":
        spec = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": f"arn:aws:ecs:us-east-1:{account}:task-definition/"
                            f"{app.name}:{rng.randint(40, 99)}",
                            "LoadBalancerInfo": {"ContainerName": app.name, "ContainerPort": 8080},
                        },
                    }
                }
            ],
        }
        content = json.dumps(spec)
        sha = hashlib.sha256(content.encode()).hexdigest()
        return {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": content, "sha256": sha},
        }
    if app.name == "payments":
        return {
            "revisionType": "S3",
            "s3Location": {
                "bucket": "acme-releases-eu",
                "key": f"payments/{release}.zip",
                "bundleType": "zip",
                "version": _upper(rng, 32),
                "eTag": f'"{rng.getrandbits(128):032x}"',
            },
        }
    return {
        "revisionType": "GitHub",
        "gitHubLocation": {
            "repository": app.repository,
            "commitId": f"{rng.getrandbits(160):040x}",
        },
    }


def _upper(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ234567") for _ in range(length))


def deployment_id(rng: random.Random) -> str:
    """An id in CodeDeploy's shape: d- and nine characters."""
    return "d-" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(9))


def _hooks(names: tuple[str, ...], done: int, failing: int | None, start: float) -> list[dict]:
    events = []
    for index, name in enumerate(names):
        begun, ended = start + index * 1.5, start + index * 1.5 + 1.2
        if failing is not None and index > failing:
            events.append({"lifecycleEventName": name, "status": "Skipped"})
        elif index < done and index != failing:
            events.append(
                {
                    "lifecycleEventName": name,
                    "startTime": begun,
                    "endTime": ended,
                    "status": "Succeeded",
                    "diagnostics": {
                        "errorCode": "Success",
                        "scriptName": "",
                        "message": "Succeeded",
                        "logTail": "",
                    },
                }
            )
        elif index == failing:
            events.append({"lifecycleEventName": name, "startTime": begun, "endTime": ended})
        else:
            events.append({"lifecycleEventName": name, "status": "Pending"})
    return events


def targets(
    *,
    app: Application,
    source: Source,
    deployment: str,
    count: int,
    status: str,
    started: float,
    failure: tuple[str, str, str] | None = None,
    release: str = "",
) -> list[dict[str, Any]]:
    """The deployment's targets in `status` (Pending, InProgress, Succeeded, Ready, Failed,
    Skipped); with `failure` (hook, script, log tail) the first target Failed at that hook and
    the rest Skipped."""
    names = ECS_HOOKS if app.compute_platform == "ECS" else SERVER_HOOKS
    done = {"Pending": 0, "InProgress": len(names) // 2, "Ready": len(names) - 2}.get(
        status, len(names)
    )
    built = []
    for index in range(count):
        failing = names.index(failure[0]) if failure and index == 0 else None
        mine = "Failed" if failing is not None else ("Skipped" if failure else status)
        hooks = _hooks(names, 0 if mine == "Skipped" else done, failing, started)
        if failing is not None and failure is not None:
            hook, script, tail = failure
            hooks[failing].update(
                status="Failed",
                diagnostics={
                    "errorCode": "ScriptFailed",
                    "scriptName": script,
                    "message": f"Script at specified location: {script} run as user root "
                    "failed with exit code 1",
                    "logTail": tail.format(app=app.name, release=release),
                },
            )
        if mine == "Skipped":
            hooks = [{"lifecycleEventName": n, "status": "Skipped"} for n in names]
        built.append(_target(app, source, deployment, index, mine, hooks))
    return built


def _target(
    app: Application, source: Source, deployment: str, index: int, status: str, hooks: list
) -> dict[str, Any]:
    updated = time.time()
    if app.compute_platform == "ECS":
        target_id = f"acme-production:{app.name}"
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": deployment,
                "targetId": target_id,
                "targetArn": f"arn:aws:ecs:{source.region}:{source.account}:service/"
                f"acme-production/{app.name}",
                "lastUpdatedAt": updated,
                "lifecycleEvents": hooks,
                "status": status,
                "taskSetsInfo": [
                    _task_set("Blue", "PRIMARY", 100.0 if status != "Succeeded" else 0.0, app),
                    _task_set("Green", "ACTIVE", 100.0 if status == "Succeeded" else 0.0, app),
                ],
            },
        }
    instance = "i-0" + hashlib.sha1(f"{app.name}{index}".encode()).hexdigest()[:16]
    return {
        "deploymentTargetType": "InstanceTarget",
        "instanceTarget": {
            "deploymentId": deployment,
            "targetId": instance,
            "targetArn": f"arn:aws:ec2:{source.region}:{source.account}:instance/{instance}",
            "status": status,
            "lastUpdatedAt": updated,
            "lifecycleEvents": hooks,
        },
    }


def _task_set(label: str, status: str, weight: float, app: Application) -> dict[str, Any]:
    digits = "".join(str(ord(c) % 10) for c in (app.name + label) * 3)[:19]
    return {
        "identifer": f"ecs-svc/{digits}",  # sic: AWS spells it so
        "desiredCount": 2,
        "pendingCount": 0,
        "runningCount": 2,
        "status": status,
        "trafficWeight": weight,
        "targetGroup": {"name": f"{app.name}-{label.lower()}"},
        "taskSetLabel": label,
    }

"""Where a failed or stopped deployment broke: its first failing lifecycle event.

For a deployment that ended Failed or Stopped, and only then, CodeDeploy is asked for its
failed targets: ListDeploymentTargets filtered on TargetStatus Failed (at most LIST_PAGES
pages), then BatchGetDeploymentTargets of at most TARGETS_PER_GET of them. That is at most
MAX_CALLS (3) calls per deployment, whatever its number of targets, made once per deployment
(not once per setup) with the source's own session.

Of the targets read, the one whose failed lifecycle event ended first is the failure point.
Its hook's log tail and message are redacted and cut short (notifier.log_tail).

Finding it never blocks nor fails a notification: AccessDenied (the IAM policy lacks
codedeploy:ListDeploymentTargets or codedeploy:BatchGetDeploymentTargets), throttling, a
timeout or any other error leaves `failure` empty, with a line in the log. The poller's client
for these calls does not retry and times out after a few seconds (TARGETS_CONFIG).

https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeploymentTargets.html
https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_BatchGetDeploymentTargets.html
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from notifier import codedeploy, log_tail
from notifier.events import DeploymentEvent, FailurePoint, LifecycleStep

log = logging.getLogger(__name__)

FAILURE_STATUSES = frozenset({"Failed", "Stopped"})
MAX_CALLS = 3  # per failed deployment: LIST_PAGES listings and one batch-get
LIST_PAGES = 2
TARGETS_PER_GET = 25  # BatchGetDeploymentTargets takes at most 25 target ids
TIME_BUDGET_SECONDS = 8.0  # no further call is started after this
MESSAGE_MAX = 1000
# One attempt, a short timeout: where it broke is a nicety, the notification is not.
TARGETS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=5
)
_KINDS = {
    "instanceTarget": "Instance",
    "ecsTarget": "ECS",
    "lambdaTarget": "Lambda",
    "cloudFormationTarget": "CloudFormation",
}
_DENIED_ADVICE = (
    " Allow codedeploy:ListDeploymentTargets and codedeploy:BatchGetDeploymentTargets in the"
    " IAM policy of the service or the source's role (docs/iam-policy.json)."
)
_NEVER = datetime.max.replace(tzinfo=UTC)


def failure_point(client: Any, deployment_id: str) -> FailurePoint | None:
    """Where deployment `deployment_id` broke, in at most MAX_CALLS CodeDeploy calls; None
    when no target failed. Raises botocore's errors: `with_failure_point` catches them."""
    began = time.monotonic()
    ids: list[str] = []
    token = None
    for _ in range(LIST_PAGES):
        params: dict[str, Any] = {
            "deploymentId": deployment_id,
            "targetFilters": {"TargetStatus": ["Failed"]},
        }
        if token:
            params["nextToken"] = token
        answer = client.list_deployment_targets(**params)
        ids.extend(i for i in answer.get("targetIds", []) if i not in ids)
        token = answer.get("nextToken")
        if not token or time.monotonic() - began > TIME_BUDGET_SECONDS:
            break
    if not ids:
        return None
    answer = client.batch_get_deployment_targets(
        deploymentId=deployment_id, targetIds=ids[:TARGETS_PER_GET]
    )
    return failure_from_targets(
        answer.get("deploymentTargets", []), failed_targets=len(ids), more=bool(token)
    )


def with_failure_point(client: Any, event: DeploymentEvent) -> DeploymentEvent:
    """`event` with its failure point when it failed or was stopped and AWS can say where;
    `event` unchanged otherwise, whatever goes wrong (logged, never raised)."""
    if event.status not in FAILURE_STATUSES:
        return event
    try:
        return event.with_failure(failure_point(client, event.deployment_id))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        log.warning(
            "could not find where deployment %s broke: codedeploy:%s answered %s (%s); the "
            "notification goes without it.%s",
            event.deployment_id,
            exc.operation_name,
            code,
            error.get("Message", ""),
            _DENIED_ADVICE if "AccessDenied" in code or "Unauthorized" in code else "",
        )
    except Exception as exc:  # a timeout, an unreachable endpoint: never fail the cycle
        log.warning(
            "could not find where deployment %s broke (%s: %s); the notification goes without it",
            event.deployment_id,
            type(exc).__name__,
            exc,
        )
    return event


def _kind_and_target(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for key, kind in _KINDS.items():
        if raw.get(key):
            return kind, raw[key]
    return "", {}


def target_name(kind: str, target: dict[str, Any]) -> str:
    """What a person calls the target: the instance id, the ECS service with its replacement
    task set, the Lambda function with its alias, the CloudFormation resource."""
    target_id = target.get("targetId", "")
    if kind == "ECS":
        task_sets = target.get("taskSetsInfo") or []
        green = [t for t in task_sets if t.get("taskSetLabel") == "Green"] or task_sets
        if green and green[0].get("identifer"):  # sic: AWS spells it so
            return f"{target_id} (task set {green[0]['identifer']})"
    if kind == "Lambda":
        info = target.get("lambdaFunctionInfo") or {}
        name, alias = info.get("functionName", ""), info.get("functionAlias", "")
        if name:
            version = info.get("targetVersion", "")
            return f"{name}:{alias}" + (f" (version {version})" if version else "")
    return target_id


def _step(raw: dict[str, Any]) -> LifecycleStep:
    start, end = codedeploy._time(raw.get("startTime")), codedeploy._time(raw.get("endTime"))
    seconds = max(0.0, (end - start).total_seconds()) if start and end else None
    return LifecycleStep(raw.get("lifecycleEventName", ""), raw.get("status", ""), seconds)


def failure_from_targets(
    targets: list[dict[str, Any]], *, failed_targets: int, more: bool = False
) -> FailurePoint | None:
    """The failure point among BatchGetDeploymentTargets' `deploymentTargets`: the failed
    target whose first failed lifecycle event ended first."""
    found = []
    for index, raw in enumerate(targets):
        kind, target = _kind_and_target(raw)
        steps = target.get("lifecycleEvents") or []
        failing = next((s for s in steps if s.get("status") == "Failed"), None)
        if failing is None and target.get("status") != "Failed":
            continue
        when = codedeploy._time((failing or {}).get("endTime") or (failing or {}).get("startTime"))
        found.append((when or _NEVER, index, kind, target, failing or {}, steps))
    if not found:
        return None
    _, _, kind, target, failing, steps = min(found, key=lambda item: item[:2])
    diagnostics = failing.get("diagnostics") or {}
    return FailurePoint(
        target_id=target_name(kind, target),
        target_kind=kind,
        lifecycle_event=failing.get("lifecycleEventName", ""),
        status=failing.get("status") or target.get("status", ""),
        error_code=diagnostics.get("errorCode", ""),
        script_name=diagnostics.get("scriptName", ""),
        message=log_tail.redact(diagnostics.get("message") or "")[:MESSAGE_MAX],
        log_tail=log_tail.fit(diagnostics.get("logTail") or ""),
        failed_targets=max(failed_targets, 1),
        failed_targets_more=more,
        lifecycle_events=tuple(_step(step) for step in steps),
    )

"""The CodeDeploy client: list, batch-get (25 per call), normalise to DeploymentEvent.

AWS access uses boto3's own configuration chain (AWS_REGION, credentials,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CODEDEPLOY); the project adds no AWS settings.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config

from notifier.events import DeploymentEvent, Event, InstanceCounts, Revision, Rollback

log = logging.getLogger(__name__)

BATCH_SIZE = 25  # BatchGetDeployments takes at most 25 ids per call.
# Adaptive mode adds client-side rate limiting on top of exponential backoff, so a throttled
# account slows down instead of failing the cycle.
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
AWS_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=20
)


class CallCounter:
    """Counts the CodeDeploy API calls a client makes (for the poll report and benchmarks)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.calls[operation] = self.calls.get(operation, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


def make_client(
    *, counter: CallCounter | None = None, session: Any = None, config: Config = AWS_CONFIG
) -> Any:
    """A CodeDeploy client of `session` (a boto3 Session: a source's, from
    notifier.sources.boto3_session_for; default: boto3's own), counting calls on `counter`."""
    client = (session or boto3).client("codedeploy", config=config)
    if counter is not None:
        client.meta.events.register("before-call.codedeploy", counter)
    return client


class _AccountId:
    """The service's own AWS account (STS), for console links and for matching pushed
    events to the default source: kept once known; after a failure, empty and asked again
    at most once a minute (an STS outage must not leave it empty for good)."""

    RETRY_SECONDS = 60.0

    def __init__(self) -> None:
        self.known = ""
        self.failed_at: float | None = None

    def __call__(self) -> str:
        if self.known:
            return self.known
        if self.failed_at is not None and time.monotonic() - self.failed_at < self.RETRY_SECONDS:
            return ""
        try:
            self.known = boto3.client("sts", config=AWS_CONFIG).get_caller_identity()["Account"]
        except Exception as exc:  # a link is a nicety: never fail a cycle for it
            log.info("could not read the AWS account id: %s", exc)
            self.failed_at = time.monotonic()
        return self.known

    def cache_clear(self) -> None:
        self.known, self.failed_at = "", None


account_id = _AccountId()


def list_deployment_ids(
    client: Any,
    *,
    created_after: datetime,
    created_before: datetime,
    application: str | None = None,
    deployment_group: str | None = None,
) -> list[str]:
    """Ids of deployments created in the window, account-wide unless a group is named."""
    params: dict[str, Any] = {"createTimeRange": {"start": created_after, "end": created_before}}
    if application:
        params["applicationName"] = application
        params["deploymentGroupName"] = deployment_group
    ids: list[str] = []
    for page in client.get_paginator("list_deployments").paginate(**params):
        ids.extend(page.get("deployments", []))
    return ids


def list_deployment_groups(client: Any, application: str) -> list[str]:
    groups: list[str] = []
    for page in client.get_paginator("list_deployment_groups").paginate(
        applicationName=application
    ):
        groups.extend(page.get("deploymentGroups", []))
    return groups


def chunks(items: list[str], size: int = BATCH_SIZE) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_get(client: Any, deployment_ids: Iterable[str]) -> list[dict[str, Any]]:
    infos: list[dict[str, Any]] = []
    for chunk in chunks(list(deployment_ids)):
        infos.extend(client.batch_get_deployments(deploymentIds=chunk).get("deploymentsInfo", []))
    return infos


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


def revision_from(raw: dict[str, Any] | None, *, region: str) -> Revision:
    raw = raw or {}
    kind = raw.get("revisionType", "")
    if kind == "GitHub":
        github = raw.get("gitHubLocation") or {}
        repository = github.get("repository", "")
        commit = github.get("commitId", "")
        url = f"https://github.com/{repository}/commit/{commit}" if repository and commit else ""
        return Revision(type=kind, summary=commit, url=url, repository=repository, commit_id=commit)
    if kind == "S3":
        s3 = raw.get("s3Location") or {}
        bucket, key = s3.get("bucket", ""), s3.get("key", "")
        version, etag = s3.get("version", ""), (s3.get("eTag") or "").strip('"')
        summary = f"{bucket}/{key}"
        if version:
            summary += f" (version {version})"
        elif etag:
            summary += f" (ETag {etag})"
        url = ""
        if bucket and key:
            url = (
                f"https://s3.console.aws.amazon.com/s3/object/{quote(bucket)}"
                f"?region={region}&prefix={quote(key)}"
            )
        return Revision(
            type=kind,
            summary=summary,
            url=url,
            bucket=bucket,
            key=key,
            version=version,
            etag=etag,
            bundle_type=s3.get("bundleType", ""),
        )
    if kind == "AppSpecContent":
        content = raw.get("appSpecContent") or {}
        return Revision(
            type=kind,
            summary=_appspec_summary(content.get("content", "")),
            etag=content.get("sha256", ""),
        )
    if kind == "String":
        content = raw.get("string") or {}
        return Revision(
            type=kind,
            summary=f"inline AppSpec (sha256 {content.get('sha256', '')})",
            etag=content.get("sha256", ""),
        )
    return Revision(type=kind)


def _appspec_summary(content: str) -> str:
    """For ECS and Lambda AppSpecs, the task definition or function version being deployed."""
    try:
        spec = json.loads(content)
        for resource in spec.get("Resources", []):
            for target in resource.values():
                props = target.get("Properties", {})
                if "TaskDefinition" in props:
                    return props["TaskDefinition"].rsplit("/", 1)[-1]
                if "TargetVersion" in props:
                    return f"{props.get('Name', '')}:{props['TargetVersion']}"
    except (ValueError, AttributeError, TypeError):
        pass
    return "AppSpec content"


def console_url(deployment_id: str, region: str) -> str:
    if not region:
        return ""
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/"
        f"{deployment_id}?region={region}"
    )


def normalise(
    info: dict[str, Any], *, event: Event, region: str, account: str = ""
) -> DeploymentEvent:
    """Turn one BatchGetDeployments `deploymentsInfo` item into a DeploymentEvent."""
    overview = info.get("deploymentOverview") or {}
    error = info.get("errorInformation") or {}
    rollback = info.get("rollbackInfo") or {}
    return DeploymentEvent(
        deployment_id=info["deploymentId"],
        application=info.get("applicationName", ""),
        deployment_group=info.get("deploymentGroupName", ""),
        status=info.get("status", ""),
        event=event,
        creator=info.get("creator", ""),
        description=info.get("description") or "",
        revision=revision_from(info.get("revision"), region=region),
        create_time=_time(info.get("createTime")),
        start_time=_time(info.get("startTime")),
        complete_time=_time(info.get("completeTime")),
        instances=InstanceCounts(
            pending=int(overview.get("Pending", 0)),
            in_progress=int(overview.get("InProgress", 0)),
            succeeded=int(overview.get("Succeeded", 0)),
            failed=int(overview.get("Failed", 0)),
            skipped=int(overview.get("Skipped", 0)),
            ready=int(overview.get("Ready", 0)),
        ),
        error_code=error.get("code", ""),
        error_message=error.get("message", ""),
        rollback=Rollback(
            rollback_deployment_id=rollback.get("rollbackDeploymentId", ""),
            rollback_triggering_deployment_id=rollback.get("rollbackTriggeringDeploymentId", ""),
            message=rollback.get("rollbackMessage", ""),
        ),
        deployment_config=info.get("deploymentConfigName", ""),
        compute_platform=info.get("computePlatform", ""),
        region=region,
        account=account,
        console_url=console_url(info["deploymentId"], region),
    )

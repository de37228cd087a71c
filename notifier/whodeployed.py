"""Who deployed: the poll cycle's and the push consumer's side of it.

A poll cycle gives each changed deployment its Deployer from what is known now
(`deployers_enrich`) and notes which deployments' principals are wanted; after the cycle,
`principals_lookup` asks CloudTrail once for the window covering every deployment of the
source still unknown (CloudTrail lags minutes behind CodeDeploy), records what it finds and
stores those deployments again with their Deployer. A push consumer that receives the
CloudTrail record itself ("AWS API Call via CloudTrail") calls `cloudtrail_event_record`.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.utils import timezone

from notifier.cloudtrail import CLIENT_CONFIG, bucket_for, cloudtrail_principal, lookup_principals
from notifier.events import DeploymentEvent
from notifier.sources import CLIENT_LOCK, SourceConfig, boto3_session_for
from notifier.storage.base import Store
from registrations.deployers import (
    deployer_resolve,
    principal_record,
    principal_wanted,
    principals_looked_up,
    principals_missing,
)

log = logging.getLogger(__name__)

# CloudTrail's eventTime of CreateDeployment is a moment before CodeDeploy's createTime.
WINDOW_MARGIN = timedelta(minutes=2)
MAX_PAGES = 10  # 500 CreateDeployment events per lookup at most


def deployer_enrich(event: DeploymentEvent, *, source: str) -> DeploymentEvent:
    """`event` with its Deployer as known now; if CloudTrail may tell who created it, its
    principal is noted as wanted (looked up by `principals_lookup`)."""
    principal_wanted(event, source=source)
    return dataclasses.replace(event, deployer=deployer_resolve(event))


def deployers_enrich(changes: list, *, source: str) -> list:
    """The poll cycle's (event, registration, transitions) changes, each event enriched."""
    return [(deployer_enrich(e, source=source), r, t) for e, r, t in changes]


def _deployment_restore(store: Store, deployment_id: str) -> None:
    """Store the deployment again with its Deployer as known now (history shows it)."""
    record = store.deployment_get(deployment_id)
    if record is None:
        return
    event = dataclasses.replace(record.event, deployer=deployer_resolve(record.event))
    if event != record.event:
        store.deployment_save(event, seen_at=record.updated_at)


def _cloudtrail_client(config: SourceConfig) -> Any:
    with CLIENT_LOCK:  # a source's session may be shared with its push consumer
        return boto3_session_for(config).client("cloudtrail", config=CLIENT_CONFIG)


def principals_lookup(
    store: Store, config: SourceConfig, *, client: Any = None, now: datetime | None = None
) -> int:
    """One LookupEvents window (paginated, bounded, within CloudTrail's rate) for every
    deployment of `config`'s source whose principal is wanted; the number found."""
    now = now or timezone.now()
    rows = principals_missing(source=config.name, now=now)
    if not rows:
        return 0
    client = client or _cloudtrail_client(config)
    account = config.account_id or (config.role_arn.split(":")[4] if config.role_arn else "")
    bucket = bucket_for(f"{account or config.name}:{client.meta.region_name}")
    start = min(row.create_time for row in rows) - WINDOW_MARGIN
    try:
        found, _calls = lookup_principals(
            client, start=start, end=now, bucket=bucket, max_pages=MAX_PAGES
        )
    except (ClientError, BotoCoreError) as exc:
        log.warning(
            "source %r: could not look up who deployed (cloudtrail:LookupEvents): %s. Allow "
            "cloudtrail:LookupEvents in the source's IAM policy",
            config.name,
            exc,
        )
        principals_looked_up(rows, now=now)
        return 0
    principals_looked_up(rows, now=now)
    recorded = 0
    for row in rows:
        principal = found.get(row.deployment_id)
        if principal is not None and principal_record(
            row.deployment_id, principal, source=config.name
        ):
            recorded += 1
            _deployment_restore(store, row.deployment_id)
    return recorded


def cloudtrail_event_record(event_detail: dict, *, store: Store, source: str) -> str | None:
    """Record the principal of an EventBridge "AWS API Call via CloudTrail" event's detail
    (codedeploy CreateDeployment); the deployment id, or None when the detail is not one."""
    parsed = cloudtrail_principal(event_detail)
    if parsed is None:
        return None
    deployment_id, principal = parsed
    if principal_record(deployment_id, principal, source=source):
        _deployment_restore(store, deployment_id)
    return deployment_id

"""What moto does not implement, answered in AWS's own JSON protocol in front of moto's server.

`ExtrasMiddleware` is a WSGI middleware around moto's `DomainDispatcherApplication`. It answers
three things itself and forwards everything else, unchanged, to moto:

- CloudTrail `LookupEvents` (JSON 1.1, `X-Amz-Target: ...CloudTrail_20131101.LookupEvents`):
  the records the scenario player added, kept per region (the region is read from the SigV4
  Authorization header's credential scope), newest first, filtered by StartTime/EndTime and an
  EventName lookup attribute, paged by NextToken. Like AWS it allows 2 requests a second per
  region; a third within a second is answered `ThrottlingException`.
  https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
- CodeDeploy `ListDeploymentTargets` (TargetStatus filter, pages of TARGET_PAGE ids) and
  `BatchGetDeploymentTargets` (at most 25 ids), from the targets the player registered.
- CodeDeploy `BatchGetDeployments` / `GetDeployment`: moto's answer, AUGMENTED with the fields
  moto leaves empty (errorInformation, rollbackInfo, deploymentStyle, targetInstances, ...) as
  the player set them for that deployment id.

`Extras` is the registry the player writes. `/moto-api/reset` clears it as well as moto.
"""

from __future__ import annotations

import copy
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

LOOKUP_EVENTS = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
CODEDEPLOY = "CodeDeploy_20141006."
TARGET_KEYS = ("instanceTarget", "ecsTarget", "lambdaTarget", "cloudFormationTarget")
TARGET_PAGE = 100
TARGETS_PER_GET = 25
LOOKUP_RATE = 2  # requests per second per region, CloudTrail's documented limit
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/")
JSON_TYPE = "application/x-amz-json-1.1"


class AwsError(Exception):
    """An AWS error answer: HTTP status, `__type` and message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _inner(target: dict[str, Any]) -> dict[str, Any]:
    return next((target[key] for key in TARGET_KEYS if key in target), {})


def _record_time(record: dict[str, Any]) -> float:
    return (
        datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )


def _epoch(value: Any, default: float) -> float:
    if value in (None, ""):
        return default
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class Extras:
    """The registry of what moto does not keep: CloudTrail records per region, deployment
    targets and extra deployment fields per deployment id. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cloudtrail: dict[str, list[dict[str, Any]]] = {}
        self.targets: dict[str, dict[str, dict[str, Any]]] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.throttled = 0
        self._arrivals: dict[str, list[float]] = {}

    def add_cloudtrail_record(self, region: str, record: dict[str, Any]) -> None:
        """Keep one CloudTrail record (AWS's shape) for LookupEvents in `region`."""
        with self._lock:
            self.cloudtrail.setdefault(region, []).append(copy.deepcopy(record))

    def add_targets(self, deployment_id: str, targets: Iterable[dict[str, Any]]) -> None:
        """Add or replace (by targetId) targets of a deployment, each in the shape of
        BatchGetDeploymentTargets (`{"deploymentTargetType": ..., "instanceTarget": ...}`)."""
        with self._lock:
            known = self.targets.setdefault(deployment_id, {})
            for target in targets:
                known[_inner(target)["targetId"]] = copy.deepcopy(target)

    def set_details(self, deployment_id: str, **fields: Any) -> None:
        """Fields (AWS's camelCase names, e.g. errorInformation={...}, rollbackInfo={...})
        merged into moto's deploymentInfo for this deployment; None removes one."""
        with self._lock:
            details = self.details.setdefault(deployment_id, {})
            for name, value in fields.items():
                if value is None:
                    details.pop(name, None)
                else:
                    details[name] = copy.deepcopy(value)

    def reset(self) -> None:
        with self._lock:
            self.cloudtrail.clear()
            self.targets.clear()
            self.details.clear()
            self._arrivals.clear()
            self.throttled = 0

    # --- answers ----------------------------------------------------------------------

    def over_rate(self, region: str) -> bool:
        """True (and counted) when `region` already had LOOKUP_RATE lookups this second."""
        now = time.monotonic()
        with self._lock:
            # 0.95 s, not 1: a little slack for the request's own travel time
            recent = [t for t in self._arrivals.get(region, []) if now - t < 0.95]
            self._arrivals[region] = [*recent, now]
            if len(recent) >= LOOKUP_RATE:
                self.throttled += 1
                return True
            return False

    def lookup_events(self, region: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.over_rate(region):
            raise AwsError(400, "ThrottlingException", "Rate exceeded")
        names = [
            a.get("AttributeValue")
            for a in body.get("LookupAttributes") or []
            if a.get("AttributeKey") == "EventName"
        ]
        start = _epoch(body.get("StartTime"), 0.0)
        end = _epoch(body.get("EndTime"), time.time())
        with self._lock:
            records = list(self.cloudtrail.get(region, []))
        matching = [
            (record, moment)
            for record in records
            if (not names or record.get("eventName") in names)
            and start <= (moment := _record_time(record)) <= end
        ]
        matching.sort(key=lambda item: item[1], reverse=True)
        offset = int(body.get("NextToken") or 0)
        size = min(int(body.get("MaxResults") or 50), 50)
        answer: dict[str, Any] = {
            "Events": [_lookup_event(record, moment) for record, moment in matching[offset:][:size]]
        }
        if offset + size < len(matching):
            answer["NextToken"] = str(offset + size)
        return answer

    def _targets_of(self, deployment_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(t) for t in self.targets.get(deployment_id, {}).values()]

    def list_deployment_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        statuses = (body.get("targetFilters") or {}).get("TargetStatus") or []
        ids = [
            _inner(t)["targetId"]
            for t in self._targets_of(body.get("deploymentId", ""))
            if not statuses or _inner(t).get("status") in statuses
        ]
        start = int(body.get("nextToken") or 0)
        answer: dict[str, Any] = {"targetIds": ids[start : start + TARGET_PAGE]}
        if start + TARGET_PAGE < len(ids):
            answer["nextToken"] = str(start + TARGET_PAGE)
        return answer

    def batch_get_deployment_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = body.get("targetIds") or []
        if len(wanted) > TARGETS_PER_GET:
            raise AwsError(
                400,
                "DeploymentTargetListSizeExceededException",
                f"targetIds: at most {TARGETS_PER_GET} ids per call, {len(wanted)} given",
            )
        targets = {_inner(t)["targetId"]: t for t in self._targets_of(body["deploymentId"])}
        return {"deploymentTargets": [targets[i] for i in wanted if i in targets]}

    def augment(self, info: dict[str, Any]) -> dict[str, Any]:
        """One deploymentInfo with the fields set for its deployment id."""
        with self._lock:
            extra = copy.deepcopy(self.details.get(info.get("deploymentId", ""), {}))
        info.update(extra)
        return info


def _lookup_event(record: dict[str, Any], moment: float) -> dict[str, Any]:
    identity = record.get("userIdentity") or {}
    return {
        "EventId": record.get("eventID", ""),
        "EventName": record.get("eventName", ""),
        "ReadOnly": "false",
        "AccessKeyId": identity.get("accessKeyId", ""),
        "EventTime": moment,
        "EventSource": record.get("eventSource", ""),
        "Username": identity.get("userName", "") or identity.get("arn", "").rsplit("/", 1)[-1],
        "Resources": [],
        "CloudTrailEvent": json.dumps(record),
    }


StartResponse = Callable[..., Any]


class ExtrasMiddleware:
    """WSGI: answers what `extras` holds, forwards the rest to `app` (moto's dispatcher)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], extras: Extras) -> None:
        self.app, self.extras = app, extras

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api/reset"):
            self.extras.reset()
            return self.app(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        own = {
            LOOKUP_EVENTS: lambda body: self.extras.lookup_events(_region(environ), body),
            CODEDEPLOY + "ListDeploymentTargets": self.extras.list_deployment_targets,
            CODEDEPLOY + "BatchGetDeploymentTargets": self.extras.batch_get_deployment_targets,
        }.get(target)
        if own is not None:
            return self._answer_own(environ, start_response, own)
        if target in (CODEDEPLOY + "BatchGetDeployments", CODEDEPLOY + "GetDeployment"):
            return self._augmented(environ, start_response)
        return self.app(environ, start_response)

    def _answer_own(
        self, environ: dict[str, Any], start_response: StartResponse, answer: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            body = json.loads(_read_body(environ) or b"{}")
            return _respond(start_response, 200, answer(body))
        except AwsError as exc:
            return _respond(
                start_response, exc.status, {"__type": exc.kind, "message": exc.message}
            )
        except (ValueError, KeyError, TypeError) as exc:
            message = f"the request body is not valid: {type(exc).__name__}: {exc}"
            return _respond(
                start_response, 400, {"__type": "ValidationException", "message": message}
            )

    def _augmented(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        caught: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            caught["status"], caught["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            raw = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        status = caught["status"]
        if status.startswith("200"):
            document = json.loads(raw or b"{}")
            for info in document.get("deploymentsInfo") or []:
                self.extras.augment(info)
            if isinstance(document.get("deploymentInfo"), dict):
                self.extras.augment(document["deploymentInfo"])
            raw = json.dumps(document).encode()
        headers = [(k, v) for k, v in caught["headers"] if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(raw)))])
        return [raw]


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw


def _region(environ: dict[str, Any]) -> str:
    found = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else "us-east-1"


def _respond(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request"}.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [("Content-Type", JSON_TYPE), ("Content-Length", str(len(payload)))],
    )
    return [payload]

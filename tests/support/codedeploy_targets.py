"""CodeDeploy's deployment-target API, which moto does not implement, on a local HTTP server.

It speaks the real protocol (JSON 1.1: POST /, `X-Amz-Target: CodeDeploy_20141006.<Operation>`,
errors as `{"__type": ..., "message": ...}`), so a boto3 CodeDeploy client whose endpoint URL is
this server calls it as it would call AWS. It answers ListDeploymentTargets (TargetStatus
filter, pages of `page_size` ids with a nextToken) and BatchGetDeploymentTargets (at most 25
ids) from the targets a test gives it, and forwards every other operation to `forward_to`
(moto's server), so one endpoint can serve a whole poll cycle. `fail_with` makes both target
operations answer an AWS error; `hang_seconds` makes them slow. `calls` records what arrived.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

PREFIX = "CodeDeploy_20141006."
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codedeploy"
TARGET_KEYS = ("instanceTarget", "ecsTarget", "lambdaTarget", "cloudFormationTarget")


def fixture_target(deployment_id: str = "d-3HX9WQ2LA", target_id: str = "") -> dict[str, Any]:
    """The failed instance of tests/fixtures/codedeploy/deployment-target-failed-hook.json,
    for `deployment_id` (and `target_id`, when given)."""
    data = json.loads((FIXTURES / "deployment-target-failed-hook.json").read_text())
    target = copy.deepcopy(data["deploymentTargets"][0])
    target["instanceTarget"]["deploymentId"] = deployment_id
    if target_id:
        target["instanceTarget"]["targetId"] = target_id
    return target


def _inner(target: dict[str, Any]) -> dict[str, Any]:
    return next(target[key] for key in TARGET_KEYS if key in target)


class FakeDeploymentTargets:
    def __init__(self, *, forward_to: str = "", page_size: int = 100) -> None:
        self.forward_to = forward_to
        self.page_size = page_size
        self.targets: dict[str, list[dict[str, Any]]] = {}
        self.fail_with: tuple[int, str, str] | None = None  # (HTTP status, __type, message)
        self.hang_seconds = 0.0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, deployment_id: str, *targets: dict[str, Any]) -> None:
        self.targets.setdefault(deployment_id, []).extend(targets)

    def reset(self) -> None:
        with self._lock:
            self.targets.clear()
            self.calls.clear()
        self.fail_with, self.hang_seconds = None, 0.0

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls if operation.endswith("Targets")]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the two operations ---------------------------------------------------------------

    def list_deployment_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        statuses = (body.get("targetFilters") or {}).get("TargetStatus") or []
        targets = self.targets.get(body["deploymentId"], [])
        ids = [
            _inner(t)["targetId"]
            for t in targets
            if not statuses or _inner(t)["status"] in statuses
        ]
        start = int(body.get("nextToken") or 0)
        answer: dict[str, Any] = {"targetIds": ids[start : start + self.page_size]}
        if start + self.page_size < len(ids):
            answer["nextToken"] = str(start + self.page_size)
        return answer

    def batch_get_deployment_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = body.get("targetIds") or []
        if len(wanted) > 25:
            raise _AwsError(400, "InstanceIdRequiredException", "at most 25 target ids")
        targets = {_inner(t)["targetId"]: t for t in self.targets.get(body["deploymentId"], [])}
        return {"deploymentTargets": [targets[i] for i in wanted if i in targets]}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow answer (hang_seconds) closed its connection


class _AwsError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class _Handler(BaseHTTPRequestHandler):
    fake: FakeDeploymentTargets

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").removeprefix(PREFIX)
        body = json.loads(raw or b"{}")
        with self.fake._lock:
            self.fake.calls.append((operation, body))
        method = {
            "ListDeploymentTargets": self.fake.list_deployment_targets,
            "BatchGetDeploymentTargets": self.fake.batch_get_deployment_targets,
        }.get(operation)
        if method is None:
            return self._forward(raw)
        if self.fake.hang_seconds:
            time.sleep(self.fake.hang_seconds)
        try:
            if self.fake.fail_with:
                raise _AwsError(*self.fake.fail_with)
            self._answer(200, method(body))
        except _AwsError as exc:
            self._answer(exc.status, {"__type": exc.kind, "message": exc.message})

    def _answer(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, raw: bytes) -> None:
        if not self.fake.forward_to:
            return self._answer(400, {"__type": "UnknownOperationException", "message": ""})
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        answer = requests.post(self.fake.forward_to + "/", data=raw, headers=headers, timeout=30)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

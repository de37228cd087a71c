"""A local HTTP server playing New Relic's REST API v2 (pytest-httpserver)."""

from __future__ import annotations

import json
import re
import threading
import time

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

API_KEY = "NRAK-TESTKEY"


class FakeNewRelic:
    """Knows applications by name; records every marker it receives, with its arrival time."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.applications: dict[str, int] = {}
        self.markers: list[dict] = []
        self.lookups = 0
        # Statuses to answer the next marker POSTs with: a status, or (status, headers).
        self.fail_next: list[int | tuple[int, dict[str, str]]] = []
        self.hang_lookups: set[str] = set()  # application names whose lookup hangs
        self.release = threading.Event()  # set to let hanging lookups answer
        self.hold = 0.0  # seconds a marker POST waits, after recording, before answering
        self.listings = 0  # GETs of an application's deployments
        self._lock = threading.Lock()
        server.expect_request("/v2/applications.json", method="GET").respond_with_handler(
            self._lookup
        )
        markers = re.compile(r"^/v2/applications/\d+/deployments\.json$")
        server.expect_request(markers, method="POST").respond_with_handler(self._marker)
        server.expect_request(markers, method="GET").respond_with_handler(self._list)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def add_application(self, name: str, app_id: int | None = None) -> int:
        app_id = app_id or 1000 + len(self.applications)
        self.applications[name] = app_id
        return app_id

    def _auth(self, request: Request) -> Response | None:
        if request.headers.get("X-Api-Key") != API_KEY:
            return Response(
                json.dumps({"error": {"title": "Invalid API key"}}),
                status=401,
                content_type="application/json",
            )
        return None

    def _lookup(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        self.lookups += 1
        wanted = request.args.get("filter[name]", "")
        if wanted in self.hang_lookups:
            self.release.wait(10)
        apps = [{"id": i, "name": n} for n, i in self.applications.items() if wanted in n]
        return Response(json.dumps({"applications": apps}), content_type="application/json")

    def _marker(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        with self._lock:
            if self.fail_next:
                status, headers = _status_and_headers(self.fail_next.pop(0))
                return Response("try later", status=status, headers=headers)
            app_id = int(request.path.split("/")[3])
            body = request.get_json()
            marker = {
                "app_id": app_id,
                "body": body,
                "received": time.time(),
                "id": len(self.markers) + 1,
            }
            self.markers.append(marker)
        if self.hold:
            time.sleep(self.hold)
        return Response(
            json.dumps({"deployment": {"id": marker["id"], **body["deployment"]}}),
            status=201,
            content_type="application/json",
        )

    def _list(self, request: Request) -> Response:
        """GET /v2/applications/{id}/deployments.json: the latest markers, newest first."""
        if (denied := self._auth(request)) is not None:
            return denied
        app_id = int(request.path.split("/")[3])
        with self._lock:
            self.listings += 1
            found = [
                {"id": m["id"], **m["body"]["deployment"]}
                for m in reversed(self.markers)
                if m["app_id"] == app_id
            ]
        return Response(json.dumps({"deployments": found}), content_type="application/json")

    def markers_for(self, deployment_id: str) -> list[dict]:
        return [m for m in self.markers if deployment_id in m["body"]["deployment"]["description"]]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.markers) < count:
            time.sleep(0.05)
        return self.markers


def _status_and_headers(answer: int | tuple[int, dict[str, str]]) -> tuple[int, dict[str, str]]:
    return answer if isinstance(answer, tuple) else (answer, {})

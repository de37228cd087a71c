"""A local HTTP server playing Slack's Web API (pytest-httpserver): chat.postMessage,
chat.update and conversations.history, keeping each message's metadata as Slack does."""

from __future__ import annotations

import itertools
import json
import threading
import time

from werkzeug import Request, Response

TOKEN = "xoxb-1234-5678-abcdefghijkl"


class FakeSlack:
    """Slack's Web API, keeping messages by ts. `hold` seconds: how long chat.postMessage
    waits after storing a message before answering (a sender may die in between), for every
    message or those `hold_when(body)` picks."""

    def __init__(self, server, *, hold: float = 0.0, hold_when=None) -> None:
        self.hold_when = hold_when or (lambda body: True)
        self.messages: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.answer_next: list[dict] = []
        self.hold = hold
        self._lock = threading.Lock()
        self._ts = (f"{int(time.time())}.{n:06d}" for n in itertools.count(1))
        for method in ("chat.postMessage", "chat.update", "conversations.history"):
            server.expect_request(f"/api/{method}", method="POST").respond_with_handler(
                self._handle
            )

    def _handle(self, request: Request) -> Response:
        method = request.path.rsplit("/", 1)[-1]
        body = request.get_json()
        with self._lock:
            self.calls.append((method, body))
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._json({"ok": False, "error": "invalid_auth"})
            if self.answer_next:
                return self._json(self.answer_next.pop(0))
            if method == "conversations.history":
                return self._json(self._history(body))
            if method == "chat.postMessage":
                ts = next(self._ts)
                self.messages[ts] = body
            elif body["ts"] not in self.messages:
                return self._json({"ok": False, "error": "message_not_found"})
            else:
                ts = body["ts"]
                self.messages[ts] = body
        if method == "chat.postMessage" and self.hold and self.hold_when(body):
            time.sleep(self.hold)
        return self._json({"ok": True, "channel": "C0DEPLOYS", "ts": ts})

    def _history(self, query: dict) -> dict:
        oldest = float(query.get("oldest") or 0)
        found = [
            {"type": "message", "ts": ts, "text": body["text"], "metadata": body.get("metadata")}
            for ts, body in sorted(self.messages.items(), reverse=True)
            if float(ts) >= oldest
        ][: int(query.get("limit") or 100)]
        if not query.get("include_all_metadata"):
            for message in found:
                message.pop("metadata")
        return {"ok": True, "messages": found, "has_more": False}

    def posts(self) -> list[dict]:
        return [body for method, body in self.calls if method == "chat.postMessage"]

    @staticmethod
    def _json(data: dict) -> Response:
        return Response(json.dumps(data), content_type="application/json")

"""The demo's Slack Web API methods: chat.postMessage stores a message under a new ts,
chat.update replaces the message a channel and ts name (in place, marked edited), and
conversations.history lists them with their metadata (the sender's in-flight check).

Answers are Slack's: {"ok": true, "channel": ..., "ts": ...} or {"ok": false, "error": ...}.
Docs: https://api.slack.com/methods/chat.postMessage, https://api.slack.com/methods/chat.update
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from notifier.demo.inbox import inbox_find, inbox_messages, inbox_record

MARKUP = re.compile(r"<([^|>]+)\|([^>]+)>|<([^>]+)>|[*_~`]")


def slack_ts() -> str:
    """A message timestamp as Slack writes it: seconds.microseconds."""
    now = time.time_ns() // 1000
    return f"{now // 1_000_000}.{now % 1_000_000:06d}"


def plain(text: str) -> str:
    """Slack mrkdwn as plain text: links by their label, no emphasis marks."""
    return MARKUP.sub(lambda m: m.group(2) or m.group(3) or "", text)


def first_line(body: dict[str, Any]) -> str:
    """A message's title: the first non-empty line of its text (or of its first block)."""
    text = str(body.get("text") or "")
    if not text:
        for block in body.get("blocks") or []:
            text = str(((block or {}).get("text") or {}).get("text") or "")
            if text:
                break
    lines = [line for line in plain(text).splitlines() if line.strip()]
    return lines[0] if lines else "Slack message"


def post_message(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    channel = str(body.get("channel") or "").strip()
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    ts = slack_ts()
    while inbox_find(channel="slack", target=channel, thread_key=ts) is not None:
        ts = slack_ts()
    inbox_record(
        channel="slack",
        title=first_line(body),
        payload=body,
        headers=headers,
        target=channel,
        thread_key=ts,
    )
    return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text", "")}}


def update(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    channel, ts = str(body.get("channel") or ""), str(body.get("ts") or "")
    if inbox_find(channel="slack", target=channel, thread_key=ts) is None:
        return {"ok": False, "error": "message_not_found"}
    inbox_record(
        channel="slack",
        title=first_line(body),
        payload=body,
        headers=headers,
        target=channel,
        thread_key=ts,
    )
    return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text", "")}


def history(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    channel = str(body.get("channel") or "")
    try:
        oldest = float(body.get("oldest") or 0)
        limit = max(1, min(int(body.get("limit") or 100), 200))
    except (TypeError, ValueError):
        return {"ok": False, "error": "invalid_arguments"}
    found = []
    for message in inbox_messages(channel="slack", limit=500):
        if message.target != channel or not message.thread_key:
            continue
        if float(message.thread_key) < oldest:
            continue
        entry = {"type": "message", "ts": message.thread_key, "text": message.payload.get("text")}
        if body.get("include_all_metadata") and message.payload.get("metadata"):
            entry["metadata"] = message.payload["metadata"]
        found.append(entry)
    return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}


METHODS: dict[str, Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "conversations.history": history,
}

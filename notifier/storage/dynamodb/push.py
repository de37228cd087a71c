"""The DynamoDB store's push-queue stats: one item per queue in the state table, counted
with UpdateItem's ADD (atomic, so consumers on every node count at once and none is lost)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from notifier.storage.dynamodb.client import guarded, scan
from notifier.storage.dynamodb.items import from_us, to_item, to_us
from notifier.storage.history_rows import PushQueueStats

PREFIX = "push#"
_IGNORED = "ign_"


def _reason(reason: str) -> str:
    """An ignore reason as an attribute name part: lowercase letters, digits, underscores."""
    return re.sub(r"[^a-z0-9_]", "_", reason.lower())[:64] or "other"


class PushQueueItems:
    """The push-queue half of DynamoStore, over its `client` and `state_table`."""

    client: Any
    state_table: str

    @guarded
    def push_stats_add(
        self,
        queue_url: str,
        *,
        at: datetime,
        received: int = 0,
        acted: int = 0,
        ignored: dict[str, int] | None = None,
        oldest_age_seconds: float | None = None,
        error: str = "",
    ) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":received": received, ":acted": acted, ":at": to_us(at)}
        adds = ["received :received", "acted :acted"]
        for n, (reason, count) in enumerate(sorted((ignored or {}).items())):
            names[f"#i{n}"] = f"{_IGNORED}{_reason(reason)}"
            values[f":i{n}"] = count
            adds.append(f"#i{n} :i{n}")
        sets = ["last_receive_us = :at"]
        if received:
            sets.append("last_message_us = :at")
            if oldest_age_seconds is not None:
                values[":oldest"] = oldest_age_seconds
                sets.append("oldest_age = :oldest")
        values[":error"] = error
        sets.append("last_error = :error")
        if error:
            sets.append("last_error_us = :at")
        params: dict[str, Any] = {
            "TableName": self.state_table,
            "Key": to_item({"name": f"{PREFIX}{queue_url}"}),
            "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
            "ExpressionAttributeValues": to_item(values),
        }
        if names:
            params["ExpressionAttributeNames"] = names
        self.client.update_item(**params)

    @guarded
    def push_stats_list(self) -> list[PushQueueStats]:
        found = []
        for item in scan(self.client, self.state_table):
            if not item["name"].startswith(PREFIX):
                continue
            found.append(
                PushQueueStats(
                    queue_url=item["name"][len(PREFIX) :],
                    received=int(item.get("received", 0)),
                    acted=int(item.get("acted", 0)),
                    ignored={
                        k[len(_IGNORED) :]: int(v)
                        for k, v in item.items()
                        if k.startswith(_IGNORED) and int(v)
                    },
                    last_receive=from_us(item.get("last_receive_us")),
                    last_message_at=from_us(item.get("last_message_us")),
                    oldest_age_seconds=(
                        float(item["oldest_age"]) if item.get("oldest_age") is not None else None
                    ),
                    last_error=item.get("last_error", ""),
                    last_error_at=from_us(item.get("last_error_us"))
                    if item.get("last_error")
                    else None,
                )
            )
        return sorted(found, key=lambda stats: stats.queue_url)

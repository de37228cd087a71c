"""The poll state as plain JSON values, the one format both backends store it in.

No Django models here: the DynamoDB backend uses it without pulling in the ORM backend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from notifier.storage.base import PollState


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def poll_state_to_dict(state: PollState) -> dict[str, Any]:
    return {
        "watermark": _iso(state.watermark),
        "pending": state.pending,
        "recent_terminal": state.recent_terminal,
        "last_success": _iso(state.last_success),
        "last_error": state.last_error,
        "last_error_at": _iso(state.last_error_at),
        "failing_since": _iso(state.failing_since),
        "last_created": _iso(state.last_created),
    }


def poll_state_from_dict(data: dict[str, Any]) -> PollState:
    return PollState(
        watermark=_from_iso(data.get("watermark")),
        pending=dict(data.get("pending") or {}),
        recent_terminal={k: float(v) for k, v in (data.get("recent_terminal") or {}).items()},
        last_success=_from_iso(data.get("last_success")),
        last_error=data.get("last_error") or "",
        last_error_at=_from_iso(data.get("last_error_at")),
        failing_since=_from_iso(data.get("failing_since")),
        last_created=_from_iso(data.get("last_created")),
    )

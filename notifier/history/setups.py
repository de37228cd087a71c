"""Notification setups as the history pages show them: their names, the secrets to take out
of their errors, and how each is doing (its most recent delivery)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from channels import secrets as channel_secrets
from channels.registry import label_for
from notifier import storage
from notifier.history.advice import failure_advice
from notifier.storage.base import DEAD, FAILED, PENDING, HistoryReader
from registrations.models import NotificationSetup

SHORTEST_SECRET = 6  # shorter values are too likely to be ordinary words to mask


def setup_name(setup: NotificationSetup) -> str:
    """What the setup does, in words: "New Relic marker on web" (one query)."""
    try:
        return str(setup.typed())
    except (LookupError, NotificationSetup.DoesNotExist):
        return str(setup)


def setup_secrets(setups: list[NotificationSetup]) -> list[str]:
    """Values channels.secrets.redact must mask in these setups' errors: the service's own
    secrets and the setups' secret fields, longest first."""
    values = channel_secrets.service_secret_values()
    for setup in setups:
        try:
            values.extend(channel_secrets.secret_values(setup.typed()))
        except (LookupError, NotificationSetup.DoesNotExist):
            continue
    return sorted({v for v in values if len(v) >= SHORTEST_SECRET}, key=len, reverse=True)


@dataclass(frozen=True)
class SetupHealth:
    setup: NotificationSetup
    label: str
    last_state: str | None  # None: never notified (or not known without the audit mirror)
    last_at: datetime | None
    last_deployment_id: str
    last_error: str
    failing: bool
    advice: str

    @property
    def name(self) -> str:
        return setup_name(self.setup)


def setup_health(
    *, setups: list[NotificationSetup], reader: HistoryReader | None = None
) -> list[SetupHealth]:
    """Each setup's most recent delivery (one indexed lookup per setup), its error redacted,
    and advice when it is failing."""
    reader = reader or storage.get_history_reader()
    secrets = setup_secrets(setups)
    out = []
    for setup in setups:
        last = reader.last_delivery(setup_id=setup.pk)
        error = channel_secrets.redact(last.last_error, secrets) if last else ""
        failing = last is not None and (
            last.state in (FAILED, DEAD) or bool(last.state == PENDING and last.attempts and error)
        )
        out.append(
            SetupHealth(
                setup=setup,
                label=label_for(setup.kind),
                last_state=last.state if last else None,
                last_at=last.updated_at if last else None,
                last_deployment_id=last.deployment_id if last else "",
                last_error=error,
                failing=failing,
                advice=failure_advice(code=last.last_error_code, kind=setup.kind)
                if failing
                else "",
            )
        )
    return out

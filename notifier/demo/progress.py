"""The launcher's threads besides the player: how full the demo is, and the SES collector.

`Progress` measures, once, how long after the start the first notification reached the inbox
and when every path had been delivered (`demo_missing` empty), prints both and keeps them in
<dir>/timings.json. `SesCollector` copies what the service sent through SES (moto keeps it)
into the inbox every second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from notifier.demo.inbox import CHANNELS, inbox_counts
from notifier.demo.models import InboxMessage
from notifier.models import Deployment

# What "every path" is: the outcomes the scenario plays, each one seen in the history.
STATUSES = ("Succeeded", "Failed", "Stopped")
STILL_MISSING_AFTER = 120.0


def demo_missing() -> list[str]:
    """What the demo has not shown yet, in words; empty once every path was delivered: a
    message of every channel kind in the inbox, a Slack message updated in place, a failed
    deployment's message carrying its error, deployments of every outcome and a rollback in
    the history, from both sources."""
    counts = inbox_counts()
    missing = [f"a {label} message" for kind, label in CHANNELS.items() if not counts.get(kind)]
    if not InboxMessage.objects.filter(channel="slack", updated_count__gt=0).exists():
        missing.append("a Slack message updated in place")
    if not InboxMessage.objects.filter(event="failed").exists():
        missing.append("a failed deployment's message")
    # Ready passes (a blue/green deployment goes on to Succeeded): its message stays.
    if not InboxMessage.objects.filter(event="ready").exists():
        missing.append("a blue/green deployment waiting for traffic")
    seen = set(Deployment.objects.values_list("status", flat=True).distinct())
    missing += [f"a {status.lower()} deployment" for status in STATUSES if status not in seen]
    if not Deployment.objects.filter(creator="codeDeployRollback").exists():
        missing.append("a rollback")
    if Deployment.objects.values("account").distinct().count() < 2:
        missing.append("deployments of both sources")
    return missing


class _Loop:
    """A daemon thread calling `step()` every `interval` seconds until stop()."""

    interval = 1.0
    name = "demo"

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        from django.db import close_old_connections

        while not self._stopping.wait(self.interval):
            try:
                if self.step():
                    return
            except Exception as exc:  # a bad moment (e.g. the database busy): try again
                print(f"demo: {self.name}: {exc}", flush=True)
            finally:
                close_old_connections()

    def step(self) -> bool:  # pragma: no cover - each subclass has its own
        raise NotImplementedError


class Progress(_Loop):
    """Prints once when the first notification arrives and once when the demo is full."""

    name = "demo-progress"

    def __init__(self, *, started: float, directory: Path, web_up: float) -> None:
        super().__init__()
        self.started = started
        self.path = directory / "timings.json"
        self.timings: dict[str, Any] = {"web_up_seconds": round(web_up, 1)}
        self._warned = False

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.timings, indent=2) + "\n")

    def step(self) -> bool:
        now = time.monotonic() - self.started
        if "first_notification_seconds" not in self.timings:
            first = InboxMessage.objects.order_by("id").first()
            if first is None:
                return False
            self.timings["first_notification_seconds"] = round(now, 1)
            self._save()
            print(
                f"demo: first notification in the inbox after {now:.0f} s "
                f"({CHANNELS.get(first.channel, first.channel)}: {first.title})",
                flush=True,
            )
        missing = demo_missing()
        if not missing:
            self.timings["every_path_seconds"] = round(now, 1)
            self._save()
            print(f"demo: demo is full: every path delivered after {now:.0f} s", flush=True)
            return True
        if now > STILL_MISSING_AFTER and not self._warned:
            self._warned = True
            print(f"demo: after {now:.0f} s still missing: {', '.join(missing)}", flush=True)
        return False


class SesCollector(_Loop):
    """Every second, `collect(account, region, seen)` copies the new SES messages of each
    (account, region) in `places` from moto into the inbox."""

    name = "demo-ses"

    def __init__(
        self, *, collect: Callable[[str, str, set], Any], places: list[tuple[str, str]]
    ) -> None:
        super().__init__()
        self.collect, self.places = collect, places
        self.seen: set = set()

    def step(self) -> bool:
        for account, region in self.places:
            self.collect(account, region, self.seen)
        return False

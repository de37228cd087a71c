"""The scenario player: deployments played through every path, the way AWS would show them.

`Player(aws)` moves deployments through moto's CodeDeploy backend (in this process) and
records what real AWS would:

- who made it: for a person's or deploy-bot's deployment a CloudTrail CreateDeployment record
  (LookupEvents finds it, per region) and, for the pushed source, the same record as an
  EventBridge "AWS API Call via CloudTrail" event; Auto Scaling's and rollbacks have none;
- every state change of the pushed source's deployments as CodeDeploy's EventBridge event
  ("CodeDeploy Deployment State-change Notification": START, READY, SUCCESS, FAILURE, STOP);
  the polled source gets none;
- what moto leaves empty (errorInformation, rollbackInfo) and the targets, in `aws.extras`.

PATHS (the names are the contract): succeeded, failed_rollback, stopped, blue_green_ready,
ecs, autoscaling. `play(path)` runs one to its end and returns its deployment id (for
failed_rollback, the failed one). `start()` plays in a daemon thread: an opening that starts
each path once, OPENING_GAP seconds apart, then one new deployment every `every` seconds,
cycling the paths in a shuffled order, at most MAX_RUNNING at once and one per group.
`pace` scales every wait (tests play at a fraction of a second).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notifier.demo import shapes, world
from notifier.demo.world import PATH_GROUPS, PEOPLE, Application, Group, Source, application, source

PATHS = ("succeeded", "failed_rollback", "stopped", "blue_green_ready", "ecs", "autoscaling")
# The opening: the ECS group's two paths first and last; the failure early, on storefront;
# blue/green last, so its ~10 s of Ready come once every other path has finished.
OPENING = ("ecs", "failed_rollback", "succeeded", "stopped", "autoscaling", "blue_green_ready")
OPENING_GAP = 4.0
MAX_RUNNING = 4


class _Stopped(Exception):
    """The player was stopped in the middle of a path."""


@dataclass
class _Run:
    """One deployment being played."""

    app: Application
    group: Group
    source: Source
    deployment_id: str
    release: str
    started: float = field(default_factory=time.time)


class Player:
    """Plays deployments in a SimulatedAws (see the module's docstring)."""

    def __init__(
        self,
        aws: Any,
        *,
        every: float = 5.0,
        seed: int | None = None,
        log: Callable[[str], None] = print,
        pace: float = 1.0,
    ) -> None:
        self.aws, self.every, self.log, self.pace = aws, every, log, pace
        self.rng = random.Random(seed)
        self.played: list[tuple[str, str]] = []  # (path, deployment id), in order of start
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._busy: set[tuple[str, str]] = set()
        self._thread: threading.Thread | None = None
        self._release = 0

    # --- running ------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._schedule, name="demo-player", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop playing: returns within about a second; paths in the middle stay where they are."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def play(self, path: str, *, on: tuple[str, str] | None = None) -> str:
        """Run `path` to its end, here, on its first (application, group) or `on`; the
        deployment id it made. Raises what goes wrong."""
        if path not in PATHS:
            raise ValueError(f"path: {path!r} is not one of {', '.join(PATHS)}")
        if on is not None and on not in PATH_GROUPS[path]:
            raise ValueError(f"on: {on!r} is not a group the {path} path plays on")
        app, group = self._pick(path, first=True, wait=True, on=on)
        return self._run(path, app, group, quiet=False)

    def _schedule(self) -> None:
        for path in OPENING:
            if self._stop.is_set():
                return
            if not self._launch(path, first=True):
                self.log(f"demo: the opening could not start the {path} path")
            if self._wait(OPENING_GAP):
                return
        order: list[str] = []
        while not self._wait(self.every):
            if not order:
                order = list(PATHS)
                self.rng.shuffle(order)
            with self._lock:
                full = len(self._busy) >= MAX_RUNNING
            # the next path in the order whose groups are not all busy
            started = None if full else next((p for p in order if self._launch(p)), None)
            if started is not None:
                order.remove(started)

    def _launch(self, path: str, *, first: bool = False) -> bool:
        picked = self._pick(path, first=first, wait=False)
        if picked is None:
            return False
        thread = threading.Thread(
            target=self._run, args=(path, *picked), name=f"demo-{path}", daemon=True
        )
        thread.start()
        return True

    def _pick(
        self, path: str, *, first: bool, wait: bool, on: tuple[str, str] | None = None
    ) -> Any:
        """A free (application, group) for `path`, marked busy; None when all are busy
        (or, with `wait`, the first one once it is free)."""
        candidates = [on] if on else list(PATH_GROUPS[path])
        if not first:
            self.rng.shuffle(candidates)
        while True:
            with self._lock:
                for app_name, group_name in candidates:
                    if (app_name, group_name) not in self._busy:
                        self._busy.add((app_name, group_name))
                        app = application(app_name)
                        return app, next(g for g in app.groups if g.name == group_name)
            if not wait:
                return None
            time.sleep(0.05)

    def _run(self, path: str, app: Application, group: Group, *, quiet: bool = True) -> str:
        try:
            return getattr(self, f"_path_{path}")(app, group)
        except _Stopped:
            return ""
        except Exception as exc:  # one broken path must never stop the demo
            if not quiet:
                raise
            self.log(f"demo: the {path} deployment of {app.name} broke: {exc!r}")
            return ""
        finally:
            with self._lock:
                self._busy.discard((app.name, group.name))

    def _wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds * self.pace)

    def _sleep(self, seconds: float) -> None:
        if self._wait(seconds):
            raise _Stopped

    # --- the paths ----------------------------------------------------------------------

    def _path_succeeded(
        self, app: Application, group: Group, path: str = "succeeded", creator: str = "user"
    ) -> str:
        run = self._create(app, group, path=path, creator=creator)
        self._progress(run, ok_after=self.rng.uniform(5, 8))
        self._finish(run, "Succeeded")
        return run.deployment_id

    def _path_ecs(self, app: Application, group: Group) -> str:
        return self._path_succeeded(app, group, path="ecs")

    def _path_autoscaling(self, app: Application, group: Group) -> str:
        return self._path_succeeded(app, group, path="autoscaling", creator="autoscaling")

    def _path_stopped(self, app: Application, group: Group) -> str:
        run = self._create(app, group, path="stopped")
        self._progress(run, ok_after=self.rng.uniform(3, 5))
        self.aws.extras.set_details(
            run.deployment_id,
            errorInformation={"code": "MANUAL_STOP", "message": world.MANUAL_STOP},
        )
        self._finish(run, "Stopped")
        return run.deployment_id

    def _path_blue_green_ready(self, app: Application, group: Group) -> str:
        run = self._create(app, group, path="blue_green_ready")
        self._progress(run, ok_after=self.rng.uniform(3, 5))
        self._move(run, "Ready")
        self._sleep(10)
        self._finish(run, "Succeeded")
        return run.deployment_id

    def _path_failed_rollback(self, app: Application, group: Group) -> str:
        run = self._create(app, group, path="failed_rollback")
        self._progress(run, ok_after=self.rng.uniform(5, 7))
        hook, script, tail = self.rng.choice(world.FAILURES)
        code, message = self.rng.choice(world.ERRORS)
        rollback = shapes.deployment_id(self.rng)
        self.aws.extras.set_details(
            run.deployment_id,
            errorInformation={"code": code, "message": message.format(hook=hook, script=script)},
            rollbackInfo={
                "rollbackDeploymentId": rollback,
                "rollbackMessage": "Automatic rollback triggered by deployment failure. "
                f"Rollback deployment {rollback} created.",
            },
        )
        self._set_targets(run, "Failed", failure=(hook, script, tail))
        self._finish(run, "Failed", targets=False)
        self._sleep(1)
        back = self._create(
            app, group, path="rollback", creator="codeDeployRollback", deployment_id=rollback
        )
        self.aws.extras.set_details(
            rollback,
            rollbackInfo={
                "rollbackTriggeringDeploymentId": run.deployment_id,
                "rollbackMessage": f"Rollback of deployment {run.deployment_id}.",
            },
        )
        self._progress(back, ok_after=self.rng.uniform(4, 6))
        self._finish(back, "Succeeded")
        return run.deployment_id

    # --- steps ----------------------------------------------------------------------------

    def _create(
        self,
        app: Application,
        group: Group,
        *,
        path: str,
        creator: str = "user",
        deployment_id: str = "",
    ) -> _Run:
        """Make the deployment in moto (status Created) and record who made it."""
        where = source(app.source)
        with self._lock:
            self._release += 1
            release = f"{datetime.now(UTC):%Y.%m.%d}-{self._release}"
        description = "" if creator == "autoscaling" else self.rng.choice(world.DESCRIPTIONS)
        deployment = self.aws.deployment_add(
            where.account,
            where.region,
            application=app.name,
            group=group.name,
            deployment_id=deployment_id or shapes.deployment_id(self.rng),
            revision=shapes.revision(app, release, self.rng, where.account),
            description=description.format(release=release),
            creator=creator,
        )
        run = _Run(app, group, where, deployment.deployment_id, release)
        with self._lock:
            self.played.append((path, run.deployment_id))
        if creator == "user":
            self._record_creator(run)
        self._set_targets(run, "Pending")
        self.log(f"demo: {path} {app.name}/{group.name} {run.deployment_id} created")
        return run

    def _record_creator(self, run: _Run) -> None:
        who = self.rng.choice((*PEOPLE, None))
        record = shapes.create_deployment_record(
            deployment_id=run.deployment_id,
            source=run.source,
            application=run.app.name,
            group=run.group.name,
            who=shapes.identity(who, run.source.account, self.rng),
        )
        self.aws.extras.add_cloudtrail_record(run.source.region, record)
        if run.source.push:
            self._put_event(run, shapes.CLOUDTRAIL_DETAIL_TYPE, record)

    def _progress(self, run: _Run, *, ok_after: float) -> None:
        """Created -> InProgress, half the instances done midway, then wait."""
        self._sleep(1.5)
        self._move(run, "InProgress")
        self._sleep(ok_after / 2)
        self._move(run, "InProgress", done=run.group.instances // 2)
        self._sleep(ok_after / 2)

    def _finish(self, run: _Run, status: str, *, targets: bool = True) -> None:
        if targets:
            self._set_targets(run, "Skipped" if status == "Stopped" else status)
        self._move(run, status)

    def _move(self, run: _Run, status: str, *, done: int = 0) -> None:
        """Move the deployment in moto as AWS would (status, times, instance counts), and
        push CodeDeploy's event when its source is pushed."""
        deployment = self.aws.codedeploy_backend(run.source.account, run.source.region).deployments[
            run.deployment_id
        ]
        now = datetime.now(UTC)
        deployment.deployment_overview = shapes.overview(status, run.group.instances, done)
        if deployment.start_time is None:
            deployment.start_time = now
        if status in ("Succeeded", "Failed", "Stopped"):
            deployment.complete_time = now
        changed = deployment.status != status
        deployment.status = status
        if status not in ("Succeeded", "Failed", "Stopped"):
            self._set_targets(run, status)
        if changed and run.source.push:
            group_id = deployment.deployment_group.deployment_group_id
            detail = shapes.state_detail(run, group_id, status)
            self._put_event(run, shapes.STATE_DETAIL_TYPE, detail)
        if changed and status != "InProgress":
            self.log(f"demo: {run.app.name}/{run.group.name} {run.deployment_id} {status}")

    def _set_targets(self, run: _Run, status: str, *, failure: Any = None) -> None:
        self.aws.extras.add_targets(
            run.deployment_id,
            shapes.targets(
                app=run.app,
                source=run.source,
                deployment=run.deployment_id,
                count=1 if run.app.compute_platform == "ECS" else run.group.instances,
                status=status,
                started=run.started,
                failure=failure,
                release=run.release,
            ),
        )

    def _put_event(self, run: _Run, detail_type: str, detail: dict[str, Any]) -> None:
        prefix = f"arn:aws:codedeploy:{run.source.region}:{run.source.account}"
        self.aws.put_event(
            run.source.account,
            run.source.region,
            detail_type=detail_type,
            detail=detail,
            resources=[
                f"{prefix}:application:{run.app.name}",
                f"{prefix}:deploymentgroup:{run.app.name}/{run.group.name}",
            ],
        )

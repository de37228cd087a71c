"""What one poll cycle costs, per Store backend: CodeDeploy calls, seconds, ledger claims/s.

The account: 1,000 registered applications with 3 deployment groups each and 5,000 older
deployments (created a day ago), on moto's server over HTTP. Each measured cycle first
finishes the previous cycle's 30 deployments and creates 30 new ones (running), so a cycle
sees 30 new + 30 running. Target: CodeDeploy calls per cycle <= 1 + ceil((new + running) /
25), whatever the number of applications and groups; cycle time <= 0.5 s on the ORM store,
<= 1.0 s on DynamoDB against moto.

Many sources (`--sources 100`): the service's own loop (notifier.loop.service_loop_run, ORM
store) polls N sources, 2 regions per account (account n // 2), each a role assumed through
moto's STS, each with 10 registered applications (one New Relic setup each, hearing
succeeded). Source 0 is busy: one deployment after another is started and moved to Succeeded
at a random moment, and a local New Relic records each marker's arrival; the others are idle.
Every AWS call (STS included) is counted per source with botocore's `before-call` event.
Reports AWS calls per minute per idle source (target <= 4), the busy source's marker latency
p50/p99 (compare with the same run with `--sources 1`: target within 10%) and cycle times.

Backends: orm (SQLite file), orm-postgres (the PostgreSQL on 127.0.0.1:5432, when it
answers) and dynamodb (moto's server in a process of its own). Claims per second: 8
threads claim 2,000 pending deliveries.

    .venv/bin/python bench/poll_cost.py [--cycles 10] [--applications 1000]
    .venv/bin/python bench/poll_cost.py --sources 100 [--seconds 180] [--markers 40]
    .venv/bin/python bench/poll_cost.py --push [--seconds 300]

Push (`--push`): AWS calls an hour of one idle source (the default source, 10 registered
applications, no deployments), the service's own loop run for `--seconds` twice: polling
alone, then with a push queue made by push_setup on moto's server (the loop then long-polls
the queue and polls only to reconcile, every NOTIFIER_RECONCILE_INTERVAL). Every AWS call of
the process is counted by service and operation (botocore's BaseClient._make_api_call);
after a warm-up, the calls in the window are scaled to an hour, and the pace of CodeDeploy
calls is read from the first to the last call. Target with push: <= 60 CodeDeploy calls an
hour.
"""

from __future__ import annotations

import argparse
import atexit
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench-poll-cost-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "notifier.settings",
        "NOTIFIER_VAR_DIR": str(WORK),
        "NOTIFIER_LOG_LEVEL": "WARNING",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)
os.environ.pop("DATABASE_URL", None)
os.environ.pop("AUDIT_DATABASE_URL", None)

import logging  # noqa: E402

from moto.server import ThreadedMotoServer  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)

# CodeDeploy: moto in this process, so the benchmark can move deployments through states
# in moto's backend. DynamoDB: moto in a process of its own, as DynamoDB is a server of its
# own, so the store's client does not share this process's interpreter lock with it.
SERVER = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
SERVER.start()
_host, _port = SERVER.get_host_and_port()
os.environ["AWS_ENDPOINT_URL"] = f"http://{_host}:{_port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_dynamodb_port = _free_port()
DYNAMODB_SERVER = subprocess.Popen(
    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(_dynamodb_port)],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
# Ended however this process ends (--help, a failed setup): never left running on its own.
atexit.register(DYNAMODB_SERVER.terminate)
os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{_dynamodb_port}"
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", _dynamodb_port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.1)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from channels.newrelic import NewRelicSetup  # noqa: E402
from notifier import codedeploy  # noqa: E402
from notifier.events import DeploymentEvent, Event  # noqa: E402
from notifier.poller import deployment_poll  # noqa: E402
from notifier.storage.base import DeliveryKey  # noqa: E402
from notifier.storage.dynamodb import DynamoStore  # noqa: E402
from notifier.storage.orm import OrmStore  # noqa: E402
from registrations.models import Registration  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"
PG_ALIAS = "bench_postgres"
PG_NAME = f"bench_poll_cost_{os.getpid()}"
GROUPS = ("production", "staging", "canary")
REVISION = {
    "revisionType": "GitHub",
    "gitHubLocation": {"repository": "acme/app", "commitId": "9f1c2d3e4b5a6978"},
}


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC times


def backend():
    from moto.codedeploy.models import codedeploy_backends

    return codedeploy_backends[ACCOUNT][REGION]


def account_create(applications: int, older: int) -> list[tuple[str, str]]:
    """Applications, groups and older deployments, straight into moto's backend (setup is
    not what is measured); the service reaches them over HTTP."""
    cd = backend()
    pairs = []
    for n in range(applications):
        name = f"app-{n:04d}"
        cd.create_application(name, "Server", [])
        for group in GROUPS:
            cd.create_deployment_group(
                name, group, None, None, None, None, f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy"
            )
            pairs.append((name, group))
    day_ago = _utcnow() - timedelta(days=1)
    for n in range(older):
        application, group = pairs[(n * 7) % len(pairs)]
        deployment = cd.deployments[cd.create_deployment(application, group, REVISION)]
        deployment.create_time = day_ago
        deployment.status = "Succeeded"
    return pairs


def move(deployment_id: str, status: str) -> None:
    deployment = backend().deployments[deployment_id]
    deployment.status = status
    now = _utcnow()
    deployment.start_time = deployment.start_time or now
    if status == "Succeeded":
        deployment.complete_time = now


def age_everything() -> None:
    """Make every deployment so far 'older', so each backend starts on the same account."""
    day_ago = _utcnow() - timedelta(days=1)
    for deployment in backend().deployments.values():
        deployment.create_time = day_ago
        deployment.status = "Succeeded"


def registrations_create(applications: int) -> None:
    with transaction.atomic():
        for n in range(applications):
            registration = Registration.objects.create(codedeploy_application_name=f"app-{n:04d}")
            NewRelicSetup.objects.create(
                registration=registration,
                application_name=f"web-{n}",
                events=["started", "succeeded", "failed"],
            )


def cycles_measure(store, pairs, *, cycles: int, new: int) -> list[tuple[int, int, float]]:
    """(calls, new + running, seconds) for each measured cycle, after one warm-up cycle."""
    counter = codedeploy.CallCounter()
    client = codedeploy.make_client(counter=counter)
    deployment_poll(store=store, client=client)  # warm-up: sets the watermark
    cd = backend()
    running: list[str] = []
    results = []
    for cycle in range(cycles):
        for deployment_id in running:
            move(deployment_id, "Succeeded")
        created = []
        for n in range(new):
            application, group = pairs[(cycle * new + n) * 13 % len(pairs)]
            deployment_id = cd.create_deployment(application, group, REVISION)
            move(deployment_id, "InProgress")
            created.append(deployment_id)
        seen = len(created) + len(running)
        counter.reset()
        began = time.perf_counter()
        report = deployment_poll(store=store, client=client, counter=counter)
        seconds = time.perf_counter() - began
        results.append((counter.total, seen, seconds))
        assert len(report.events) == seen, (len(report.events), seen)
        running = created
    return results


def claims_measure(store, *, deliveries: int = 2000, threads: int = 8) -> float:
    """Claims per second with `threads` claimers sharing `deliveries` pending deliveries."""
    keys = []
    now = timezone.now()
    for n in range(deliveries // 10):
        event = DeploymentEvent(
            deployment_id=f"d-claim-{n}-{uuid.uuid4().hex[:6]}",
            application="app-0000",
            deployment_group="production",
            status="Succeeded",
            event=Event.SUCCEEDED,
            create_time=now,
        )
        store.deployment_save(event, seen_at=now)
        for setup_id in range(10):
            key = DeliveryKey(event.deployment_id, "succeeded", setup_id)
            store.delivery_create(key, kind="newrelic", event=event)
            keys.append(key)
    queue = list(reversed(keys))
    lock = threading.Lock()
    won = []

    def claimer(n: int) -> None:
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    key = queue.pop()
                claim = store.delivery_claim(key, holder=f"bench-{n}", lease_seconds=60)
                if claim is not None:
                    won.append(key)
        finally:
            close_old_connections()

    workers = [threading.Thread(target=claimer, args=(n,)) for n in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began
    assert len(won) == len(keys) == len(set(won)), "every delivery claimed exactly once"
    return len(won) / seconds


def postgres_store() -> OrmStore | None:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{PG_NAME}"')
    except Exception as exc:
        print(f"(orm-postgres skipped: PostgreSQL on 127.0.0.1:5432 did not answer: {exc})")
        return None
    config = dict(settings.DATABASES["default"])
    config.update(
        ENGINE="django.db.backends.postgresql",
        NAME=PG_NAME,
        USER="postgres",
        PASSWORD="",
        HOST="127.0.0.1",
        PORT=5432,
        OPTIONS={},
        CONN_MAX_AGE=60,
    )
    settings.DATABASES[PG_ALIAS] = config
    connections.settings[PG_ALIAS] = connections.configure_settings(
        {"default": settings.DATABASES["default"], PG_ALIAS: config}
    )[PG_ALIAS]
    call_command("migrate", database=PG_ALIAS, verbosity=0)
    return OrmStore(using=PG_ALIAS)


def postgres_drop() -> None:
    if PG_ALIAS not in settings.DATABASES:
        return
    connections[PG_ALIAS].close()
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}"')


SOURCE_APPLICATIONS = 10
SOURCE_REGIONS = ("us-east-1", "us-west-2")


def source_place(n: int) -> tuple[str, str]:
    """Source n's (account, region): two regions per account."""
    return f"{200000000000 + n // len(SOURCE_REGIONS)}", SOURCE_REGIONS[n % len(SOURCE_REGIONS)]


class AwsCalls:
    """Every AWS call of every source, with its time: botocore's `before-call` event on the
    sessions the service makes (CodeDeploy through the source's session, STS through the
    session its role is assumed with)."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, str]] = []  # (monotonic, source, service.Operation)
        self._hooked: dict[int, object] = {}  # the sessions kept, so no id is reused
        self._lock = threading.Lock()

    def hook(self, session, source: str, *, only: str = "") -> None:
        if id(session) in self._hooked:
            return
        self._hooked[id(session)] = session

        def before_call(event_name: str, **_kwargs) -> None:
            operation = event_name.split(".", 1)[1]
            if not only or operation.startswith(only + "."):
                with self._lock:
                    self.calls.append((time.monotonic(), source, operation))

        session.events.register("before-call", before_call)


def sources_create(count: int, newrelic) -> None:
    """N role sources with 10 registered applications each (a group each), the default
    source disabled, so exactly N sources are polled."""
    from moto.codedeploy.models import codedeploy_backends

    from registrations.sources import Source, source_default

    Source.objects.filter(pk=source_default().pk).update(enabled=False)
    with transaction.atomic():
        for n in range(count):
            account, region = source_place(n)
            source = Source.objects.create(
                name=f"src-{n:03d}",
                region=region,
                credentials=Source.ROLE,
                role_arn=f"arn:aws:iam::{account}:role/x",
                account_id=account,
            )
            cd = codedeploy_backends[account][region]
            for a in range(SOURCE_APPLICATIONS):
                name = f"app-{a:02d}"
                cd.create_application(name, "Server", [])
                cd.create_deployment_group(
                    name, "production", None, None, None, None, f"arn:aws:iam::{account}:role/cd"
                )
                registration = Registration.objects.create(
                    codedeploy_application_name=name, source=source
                )
                NewRelicSetup.objects.create(
                    registration=registration,
                    application_name=f"web-{n}-{a}",
                    events=["succeeded"],
                )
                if n == 0:
                    newrelic.add_application(f"web-{n}-{a}")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def sources_measure(count: int, *, seconds: float, markers: int) -> int:
    """Run the service loop over `count` sources for `seconds`; print calls, latency, cycles."""
    import random

    from moto.codedeploy.models import codedeploy_backends
    from pytest_httpserver import HTTPServer

    from notifier import pollers, sources
    from notifier.loop import Stopping, service_loop_run
    from tests.support.newrelic import API_KEY, FakeNewRelic

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    newrelic = FakeNewRelic(server)
    settings.NEW_RELIC_API_KEY, settings.NEW_RELIC_API_URL = API_KEY, newrelic.url
    settings.NOTIFIER_NODE_LOCK = WORK / "node.lock"
    began = time.perf_counter()
    sources_create(count, newrelic)
    print(
        f"{count} sources ({math.ceil(count / 2)} accounts x {min(count, 2)} regions) x "
        f"{SOURCE_APPLICATIONS} registered applications; setup took "
        f"{time.perf_counter() - began:.1f}s; NOTIFIER_POLL_INTERVAL "
        f"{settings.NOTIFIER_POLL_INTERVAL}s, NOTIFIER_IDLE_POLL_INTERVAL "
        f"{settings.NOTIFIER_IDLE_POLL_INTERVAL}s, NOTIFIER_POLL_THREADS "
        f"{settings.NOTIFIER_POLL_THREADS}; loop {seconds:.0f}s, {markers} busy deployments"
    )

    # Instrumentation only: the service's own functions, wrapped to count and time.
    calls, cycles = AwsCalls(), []  # cycles: (source, began monotonic, seconds)
    session_for, own_session, poll = (
        pollers.boto3_session_for,
        sources._own_session,
        pollers.deployment_poll,
    )

    def counted_session_for(config):
        session = session_for(config)
        calls.hook(session, config.name, only="codedeploy")
        return session

    def counted_own_session(config):
        session = own_session(config)
        calls.hook(session, config.name, only="sts")
        return session

    def timed_poll(**kwargs):
        start = time.monotonic()
        try:
            return poll(**kwargs)
        finally:
            cycles.append((kwargs["source"].name, start, time.monotonic() - start))

    pollers.boto3_session_for, sources._own_session = counted_session_for, counted_own_session
    pollers.deployment_poll = timed_poll

    account, region = source_place(0)
    cd = codedeploy_backends[account][region]
    stopping = Stopping()
    loop = threading.Thread(
        target=service_loop_run, kwargs={"seconds": seconds, "stopping": stopping}
    )
    # The busy source is busy from the start (a deployment created now keeps it so for
    # NOTIFIER_BUSY_WINDOW): only the measured deployments' markers are timed.
    first = cd.create_deployment("app-00", "production", REVISION)
    move_in_backend(cd, first, "InProgress")
    start = time.monotonic()
    loop.start()
    moved: dict[str, float] = {}  # deployment id -> time.time() it succeeded
    rng = random.Random(11)
    warm = min(40.0, seconds / 4)  # every source's first cycle (and AssumeRole) first
    time.sleep(warm)
    move_in_backend(cd, first, "Succeeded")
    spacing = (seconds - warm - 10) / max(1, markers)
    for n in range(markers):
        deployment_id = cd.create_deployment(
            f"app-{n % SOURCE_APPLICATIONS:02d}", "production", REVISION
        )
        move_in_backend(cd, deployment_id, "InProgress")
        time.sleep(rng.uniform(0.2, spacing * 2 - 0.2))
        move_in_backend(cd, deployment_id, "Succeeded")
        moved[deployment_id] = time.time()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(newrelic.markers) < len(moved) + 1:
        time.sleep(0.05)
    ran = time.monotonic() - start
    stopping.set()
    loop.join(timeout=60)
    stopping.close()
    server.stop()

    latencies = []
    for deployment_id, at in moved.items():
        found = newrelic.markers_for(deployment_id)
        if found:
            latencies.append(found[0]["received"] - at)
    busy = "src-000"
    steady = [c for c in calls.calls if c[0] >= start + warm]
    minutes = (ran - warm) / 60
    idle_names = {f"src-{n:03d}" for n in range(1, count)}
    idle_calls = [c for c in steady if c[1] in idle_names]
    ops: dict[str, int] = {}
    for _, _, operation in calls.calls:
        ops[operation] = ops.get(operation, 0) + 1
    print()
    print(f"AWS calls over the whole run ({ran:.0f}s): {len(calls.calls)}: {ops}")
    print(
        f"AWS calls per minute after the first {warm:.0f}s: total {len(steady) / minutes:.1f}; "
        f"busy source {sum(c[1] == busy for c in steady) / minutes:.1f}"
    )
    if count > 1:
        per_idle = len(idle_calls) / minutes / (count - 1)
        # Each idle source's own pace: calls between its first and last call after warm-up
        # (a window's edges would count a cycle too many or too few).
        paces = []
        for name in idle_names:
            times = [c[0] for c in idle_calls if c[1] == name]
            if len(times) > 1 and times[-1] > times[0]:
                paces.append((len(times) - 1) / (times[-1] - times[0]) * 60)
        most = max(paces, default=0.0)
        print(
            f"idle source, calls in the window: {per_idle:.2f} calls/min on average, "
            f"{most:.2f} at most (first to last call)"
        )
        # The pace itself: the time between one idle source's cycle starts, and its calls
        # per cycle (a call's time also moves with the lease and the database before it).
        gaps = []
        for name in idle_names:
            starts = sorted(b for n, b, _ in cycles if n == name and b >= start + warm)
            gaps += [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
        idle_steady = sum(1 for n, b, _ in cycles if n in idle_names and b >= start + warm)
        if gaps and idle_steady:
            per_cycle = len(idle_calls) / idle_steady
            pace = per_cycle * 60 / statistics.mean(gaps)
            print(
                f"idle source pace: {per_cycle:.2f} AWS calls per cycle, cycle starts "
                f"{statistics.mean(gaps):.2f}s apart on average ({min(gaps):.2f}s at least, "
                f"{max(gaps):.2f}s at most): {pace:.2f} calls/min (target <= 4): "
                f"{'ok' if round(pace, 2) <= 4 else 'OVER TARGET'}"
            )
    busy_cycles = [s for name, _, s in cycles if name == busy]
    idle_cycles = [s for name, _, s in cycles if name != busy]
    for label, values in (("busy", busy_cycles), ("idle", idle_cycles)):
        if values:
            print(
                f"{label} cycle: {len(values)} cycles, median {statistics.median(values):.3f}s, "
                f"p99 {_percentile(values, 0.99):.3f}s, max {max(values):.3f}s"
            )
    busy_starts = sorted(b for n, b, _ in cycles if n == busy and b >= start + warm)
    busy_gaps = [
        later - earlier for earlier, later in zip(busy_starts, busy_starts[1:], strict=False)
    ]
    if busy_gaps:
        print(
            f"busy source cycle starts: {statistics.mean(busy_gaps):.2f}s apart on average, "
            f"p99 {_percentile(busy_gaps, 0.99):.2f}s, at most {max(busy_gaps):.2f}s"
        )
    firsts: dict[str, float] = {}
    for name, began_at, took in cycles:
        firsts.setdefault(name, began_at + took - start)
    if len(firsts) == count:
        print(f"first round: every source's first cycle ended {max(firsts.values()):.1f}s in")
    print(f"markers: {len(latencies)} of {len(moved)} received")
    if latencies:
        print(
            f"busy source marker latency: p50 {_percentile(latencies, 0.5):.3f}s, "
            f"p99 {_percentile(latencies, 0.99):.3f}s, max {max(latencies):.3f}s, "
            f"mean {statistics.mean(latencies):.3f}s"
        )
    return 0 if len(latencies) == len(moved) else 1


class ApiCalls:
    """Every AWS call this process makes: (monotonic, service, operation)."""

    def __init__(self) -> None:
        from botocore.client import BaseClient

        self.calls: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        original = BaseClient._make_api_call

        def counted(client, operation_name, api_params):
            with self._lock:
                self.calls.append(
                    (time.monotonic(), client.meta.service_model.service_name, operation_name)
                )
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = counted

    def between(self, start: float, end: float) -> list[tuple[float, str, str]]:
        with self._lock:
            return [c for c in self.calls if start <= c[0] < end]


def push_cost_run(calls: ApiCalls, *, seconds: float, warm: float) -> dict[str, float]:
    """Run the service loop for `seconds`; per hour, from the calls after `warm` seconds:
    every operation's count, and the CodeDeploy calls' pace (first to last call)."""
    from notifier.loop import Stopping, service_loop_run

    stopping = Stopping()
    loop = threading.Thread(
        target=service_loop_run, kwargs={"seconds": seconds + 5, "stopping": stopping}
    )
    start = time.monotonic()
    loop.start()
    time.sleep(seconds)
    end = time.monotonic()
    stopping.set()
    loop.join(timeout=60)
    stopping.close()
    window = calls.between(start + warm, end)
    hours = (end - start - warm) / 3600
    per_hour: dict[str, float] = {}
    for _, service, operation in window:
        key = f"{service}:{operation}"
        per_hour[key] = per_hour.get(key, 0) + 1 / hours
    codedeploy_times = [c[0] for c in window if c[1] == "codedeploy"]
    if len(codedeploy_times) > 1:
        spread = codedeploy_times[-1] - codedeploy_times[0]
        per_hour["codedeploy pace"] = (len(codedeploy_times) - 1) / spread * 3600
    return per_hour


def push_cost_measure(*, seconds: float) -> int:
    """One idle source, polling alone and then with push: AWS calls an hour."""
    from registrations.push import push_setup
    from registrations.sources import source_default

    settings.NOTIFIER_NODE_LOCK = WORK / "node.lock"
    registrations_create(10)
    source = source_default()
    warm = min(30.0, seconds / 5)
    calls = ApiCalls()
    print(
        f"one idle source, 10 registered applications; loop {seconds:.0f}s per mode, counted "
        f"after {warm:.0f}s; NOTIFIER_IDLE_POLL_INTERVAL {settings.NOTIFIER_IDLE_POLL_INTERVAL}s, "
        f"NOTIFIER_RECONCILE_INTERVAL {settings.NOTIFIER_RECONCILE_INTERVAL}s, "
        f"NOTIFIER_PUSH_WAIT_SECONDS {settings.NOTIFIER_PUSH_WAIT_SECONDS}s"
    )
    polling = push_cost_run(calls, seconds=seconds, warm=warm)
    push_setup(source=source)
    pushed = push_cost_run(calls, seconds=seconds, warm=warm)

    def total(counts: dict[str, float], service: str) -> float:
        return sum(v for k, v in counts.items() if k.startswith(service + ":"))

    print()
    print(f"{'AWS calls an hour':<34}{'polling alone':>14}{'with push':>11}")
    for key in sorted(set(polling) | set(pushed)):
        print(f"  {key:<32}{polling.get(key, 0):>14.0f}{pushed.get(key, 0):>11.0f}")
    for service in ("codedeploy", "sqs"):
        label, before, after = f"{service} total", total(polling, service), total(pushed, service)
        print(f"{label:<34}{before:>14.0f}{after:>11.0f}")
    codedeploy_push = pushed.get("codedeploy pace", total(pushed, "codedeploy"))
    ok = codedeploy_push <= 60.5
    print(
        f"CodeDeploy calls an hour with push (pace): {codedeploy_push:.0f} (target <= 60): "
        f"{'ok' if ok else 'OVER TARGET'}"
    )
    return 0 if ok else 1


def move_in_backend(cd, deployment_id: str, status: str) -> None:
    deployment = cd.deployments[deployment_id]
    deployment.status = status
    now = _utcnow()
    deployment.start_time = deployment.start_time or now
    if status == "Succeeded":
        deployment.complete_time = now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument("--older", type=int, default=5000)
    parser.add_argument("--new", type=int, default=30)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument(
        "--dynamodb-write-concurrency",
        type=int,
        default=DynamoStore.write_concurrency,
        help="deployments the poller stores at once on DynamoDB (1: one after another)",
    )
    parser.add_argument(
        "--sources",
        type=int,
        default=0,
        help="measure N sources (2 regions per account, source 0 busy) with the service loop",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="loop run time: --sources (default 180), --push (per mode, default 300)",
    )
    parser.add_argument(
        "--markers", type=int, default=40, help="--sources: busy deployments to succeed"
    )
    parser.add_argument(
        "--push",
        action="store_true",
        help="AWS calls an hour of one idle source, polling alone and with push",
    )
    args, _ = parser.parse_known_args()

    call_command("migrate", verbosity=0)
    if args.push:
        try:
            return push_cost_measure(seconds=args.seconds or 300)
        finally:
            SERVER.stop()
            DYNAMODB_SERVER.terminate()
            DYNAMODB_SERVER.wait(timeout=10)
    if args.sources:
        try:
            return sources_measure(args.sources, seconds=args.seconds or 180, markers=args.markers)
        finally:
            SERVER.stop()
            DYNAMODB_SERVER.terminate()
            DYNAMODB_SERVER.wait(timeout=10)
    print(
        f"account: {args.applications} registered applications x {len(GROUPS)} groups, "
        f"{args.older} older deployments; {args.new} new per cycle; {args.cycles} cycles; "
        f"DynamoDB write concurrency {args.dynamodb_write_concurrency}"
    )
    began = time.perf_counter()
    pairs = account_create(args.applications, args.older)
    registrations_create(args.applications)
    print(f"setup took {time.perf_counter() - began:.1f}s")

    stores = [("orm", OrmStore(), 0.5)]
    pg = postgres_store()
    if pg is not None:
        stores.append(("orm-postgres", pg, 0.5))
    dynamo = DynamoStore(prefix=f"bench-{os.getpid()}-")
    dynamo.write_concurrency = args.dynamodb_write_concurrency
    dynamo.tables_ensure()
    stores.append(("dynamodb", dynamo, 1.0))

    rows, failed = [], False
    try:
        for name, store, target in stores:
            age_everything()
            results = cycles_measure(store, pairs, cycles=args.cycles, new=args.new)
            calls = max(r[0] for r in results)
            seen = max(r[1] for r in results)
            bound = 1 + math.ceil(seen / 25)
            times = [r[2] for r in results]
            median, worst = statistics.median(times), max(times)
            claims = claims_measure(store)
            ok = calls <= bound and median <= target
            failed |= not ok
            rows.append((name, calls, bound, median, worst, target, claims, ok))
    finally:
        postgres_drop()
        SERVER.stop()
        DYNAMODB_SERVER.terminate()
        DYNAMODB_SERVER.wait(timeout=10)

    print()
    print(
        f"{'backend':<13} {'calls/cycle':>11} {'bound':>6} {'cycle median':>13} "
        f"{'cycle max':>10} {'target':>7} {'claims/s':>9}  verdict"
    )
    for name, calls, bound, median, worst, target, claims, ok in rows:
        print(
            f"{name:<13} {calls:>11} {bound:>6} {median:>12.3f}s {worst:>9.3f}s "
            f"{target:>6.1f}s {claims:>9.0f}  {'ok' if ok else 'OVER TARGET'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

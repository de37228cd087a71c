"""Notification latency and memory of the running service.

Starts the service exactly as `make run` does — `manage.py run_service` with
NOTIFIER_HTTPS=false, which supervises gunicorn (the web app) and the django-q2 cluster —
with NOTIFIER_POLL_INTERVAL=1, against moto's CodeDeploy and a local New Relic. For each
store backend asked for (the ORM on a fresh SQLite file; DynamoDB on moto's server) it
registers an application over the REST API, moves 50 deployments to Succeeded at random
moments, and measures the time from each status change to New Relic's server receiving the
marker. Then a signed-in user opens each history page once, the service is left to settle,
and the memory of every process of the web app and the cluster is read from
/proc/<pid>/smaps_rollup, three times ten seconds apart (a polling loop is always at some
point of its run), keeping the largest: PSS (each shared page counted once, split among
the processes that map it) per process and summed, beside the RSS sum.

    .venv/bin/python bench/latency.py [--storage orm --storage dynamodb]
        [--deployments 50] [--spread 60] [--settle 30] [--samples 3] [--mode poll|push]

`--mode push`: before the service starts, `push_setup --source default` makes an SQS queue
and an EventBridge rule on moto's server and sets the default source's queue_url, so the
service consumes the queue and polls only to reconcile (NOTIFIER_RECONCILE_INTERVAL, 60 s).
Each deployment's START event is put on the bus when it starts running, and its SUCCESS
event (in the shape tests/fixtures/codedeploy/eventbridge-deployment-success.json) at a
random moment over `--spread` seconds, right after its status changes; latency is measured
from `put_events` to New Relic's server receiving the marker. Targets: p50 <= 0.1 s,
p99 <= 0.25 s, every notification exactly once.

Extra environment for the service (e.g. NOTIFIER_WORKERS=3) is passed through, so a
change can be measured without editing code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import requests  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402

from tests.support.aws import FakeCodeDeploy, MotoServer, apply_env  # noqa: E402
from tests.support.newrelic import API_KEY, FakeNewRelic  # noqa: E402

# The pages a signed-in user opens once before memory is read: what the web app loads
# in steady use, not just after start-up. {deployment} and {application} are filled in.
PAGES = [
    "/",
    "/deployments/{deployment}/",
    "/applications/{application}/",
    "/dashboard/",
    "/status/",
    "/admin/",
    "/admin/registrations/registration/",
    "/api/registrations/",
    "/api/docs/",
    "/api/schema/",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def children(pid: int) -> list[tuple[int, int]]:
    """(start time in clock ticks, pid) of pid's direct children, oldest first."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ... starttime is field 22: split after comm's ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(fields[19]), int(entry.name)))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def roles(supervisor: int) -> list[tuple[str, int]]:
    """(role, pid) of every process of the web app and the cluster under run_service.

    gunicorn: the arbiter and its workers. qcluster: the command's own process, its
    sentinel, and the sentinel's children. django-q2 starts those in one batch — the
    workers, then the monitor, then the pusher (django_q/cluster.py,
    Sentinel.spawn_cluster) — and replaces a recycled worker later, so the monitor and
    the pusher are the last two of the children started within a second of the first.
    """
    found = []
    for _, child in children(supervisor):
        if "gunicorn" in cmdline(child):
            found.append(("gunicorn arbiter", child))
            found += [("gunicorn worker", worker) for _, worker in children(child)]
        elif "qcluster" in cmdline(child):
            found.append(("qcluster (parent)", child))
            for _, sentinel in children(child):
                found.append(("qcluster sentinel", sentinel))
                pool = children(sentinel)
                if not pool:
                    continue
                ticks = os.sysconf("SC_CLK_TCK")
                batch = [p for started, p in pool if started - pool[0][0] <= ticks]
                monitor, pusher = batch[-2:]
                workers = [p for _, p in pool if p not in (monitor, pusher)]
                found += [(f"qcluster worker {n + 1}", p) for n, p in enumerate(workers)]
                found += [("qcluster monitor", monitor), ("qcluster pusher", pusher)]
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB; PSS shares pages between the processes that map them."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return rss, pss


def serialise_moto_writes() -> None:
    """One lock around moto's DynamoDB item writes, which DynamoDB applies atomically (as
    tests/support/dynamodb.py does; that module needs Django, which this process does not
    set up)."""
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        method = getattr(DynamoDBBackend, name)

        def locked(self, *args, _method=method, **kwargs):
            with lock:
                return _method(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(method)(locked))


def put_codedeploy_event(events, deployment_id: str, state: str) -> None:
    """CodeDeploy's state-change event for `deployment_id`, on the default bus."""
    detail = {
        "instanceGroupId": "9fd2fbef-2157-40d8-91e7-6845af69e2d2",
        "region": "us-east-1",
        "application": "storefront",
        "deploymentId": deployment_id,
        "state": state,
        "deploymentGroup": "production",
    }
    answer = events.put_events(
        Entries=[
            {
                "Source": "aws.codedeploy",
                "DetailType": "CodeDeploy Deployment State-change Notification",
                "Detail": json.dumps(detail),
                "Resources": [
                    "arn:aws:codedeploy:us-east-1:123456789012:application:storefront",
                    "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:storefront/"
                    "production",
                ],
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer


def ledger_phases(database: Path, changed: dict[str, float]) -> dict[str, list[float]]:
    """Where each `succeeded` marker's time went, from the ORM ledger (SQLite): from the
    status change (or put_events) to the delivery being stored, from stored to its first
    attempt starting, and the attempt itself (the New Relic call)."""
    import sqlite3
    from datetime import UTC, datetime

    def epoch(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    phases: dict[str, list[float]] = {"stored": [], "waiting to send": [], "sending": []}
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT d.deployment_id, d.created_at, a.started_at, a.latency_ms "
            "FROM notifier_delivery d JOIN notifier_deliveryattempt a ON a.delivery_id = d.id "
            "WHERE d.event = 'succeeded' AND a.number = 1"
        ).fetchall()
    for deployment_id, created, started, took in rows:
        if deployment_id in changed:
            phases["stored"].append(epoch(created) - changed[deployment_id])
            phases["waiting to send"].append(epoch(started) - epoch(created))
            phases["sending"].append(took / 1000)
    return phases


@dataclass
class Result:
    storage: str
    mode: str = "poll"
    delivered: int = 0
    expected: int = 0
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    memory: list[tuple[str, int, int, int]] = field(default_factory=list)  # role, pid, rss, pss
    supervisor: tuple[int, int] = (0, 0)
    totals: list[int] = field(default_factory=list)  # PSS kB of each sample

    @property
    def ok(self) -> bool:
        return self.delivered == self.expected and self.duplicates == 0


def sign_in(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    ).raise_for_status()
    return session


def run_once(
    storage: str, *, moto: MotoServer, args: argparse.Namespace, keys: dict[str, str]
) -> Result:
    result = Result(storage=storage, mode=args.mode, expected=args.deployments)
    moto.reset()
    http = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    http.start()
    newrelic = FakeNewRelic(http)
    newrelic.add_application("storefront-web")
    workdir = Path(tempfile.mkdtemp(prefix=f"latency-{storage}-"))
    port = 8000 + random.randint(100, 800)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **moto.env,
        **keys,
        "NOTIFIER_VAR_DIR": str(workdir),
        "DJANGO_STATIC_ROOT": str(workdir / "static"),
        "NOTIFIER_STORAGE": storage,
        "NOTIFIER_DYNAMODB_TABLE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-",
        "NOTIFIER_POLL_INTERVAL": "1",
        "NEW_RELIC_API_URL": newrelic.url,
        "NEW_RELIC_API_KEY": API_KEY,
        "DJANGO_SUPERUSER_PASSWORD": "bench-password",
        "PYTHONUNBUFFERED": "1",
        "NOTIFIER_HTTPS": "false",
    }
    env.pop("DATABASE_URL", None)
    env.pop("AUDIT_DATABASE_URL", None)
    manage = [sys.executable, "manage.py"]

    def run(*command: str) -> str:
        return subprocess.run(
            [*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout

    print(f"\n[{storage}] preparing a fresh database ...", flush=True)
    run("migrate", "--noinput")
    if storage == "dynamodb":
        run("dynamodb_create_tables")
    run("ensure_schedule", "--start-now")
    run("createsuperuser", "--noinput", "--username", "bench", "--email", "bench@example.com")
    if args.mode == "push":
        print(run("push_setup", "--source", "default").strip().splitlines()[-1], flush=True)
    token = run("drf_create_token", "bench").split()[2]

    log = open(workdir / "service.log", "wb")  # noqa: SIM115
    service = subprocess.Popen(
        [*manage, "run_service", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(600):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                if service.poll() is not None:
                    raise SystemExit((workdir / "service.log").read_text()) from None
                time.sleep(0.1)
        response = requests.post(
            f"{base}/registrations",
            headers={"Authorization": f"Token {token}"},
            json={
                "codedeploy_application_name": "storefront",
                "notifications": [
                    {"newrelic_notification": {"application_name": "storefront-web"}}
                ],
            },
            timeout=10,
        )
        response.raise_for_status()

        codedeploy = FakeCodeDeploy(moto.endpoint)
        events = boto3.client("events", endpoint_url=moto.endpoint, region_name="us-east-1")
        ids = [codedeploy.deploy("storefront", commit=f"{n:040x}") for n in range(args.deployments)]
        for deployment_id in ids:
            codedeploy.move(deployment_id, "InProgress")
            if args.mode == "push":
                put_codedeploy_event(events, deployment_id, "START")
        print(f"[{storage}] {len(ids)} deployments in progress ...", flush=True)
        time.sleep(5)

        finish_at = sorted((random.uniform(0, args.spread), d) for d in ids)
        changed: dict[str, float] = {}
        start = time.monotonic()
        for offset, deployment_id in finish_at:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            codedeploy.move(deployment_id, "Succeeded")
            changed[deployment_id] = time.time()
            if args.mode == "push":  # latency from put_events, the moment EventBridge has it
                put_codedeploy_event(events, deployment_id, "SUCCESS")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(newrelic.markers) < len(ids):
            time.sleep(0.1)

        received: dict[str, list[float]] = {}
        for marker in newrelic.markers:
            description = marker["body"]["deployment"]["description"]
            deployment_id = description.split(" deployment ")[1].split()[0]
            received.setdefault(deployment_id, []).append(marker["received"])
        result.latencies = [received[d][0] - changed[d] for d in ids if d in received]
        result.delivered = len(result.latencies)
        result.duplicates = sum(len(v) - 1 for v in received.values())
        if storage == "orm":
            result.phases = ledger_phases(workdir / "notifier.sqlite3", changed)

        session = sign_in(base, "bench", "bench-password")
        for page in PAGES:
            path = page.format(deployment=ids[0], application="storefront")
            session.get(f"{base}{path}", timeout=60).raise_for_status()

        print(f"[{storage}] letting the service settle for {args.settle:g} s ...", flush=True)
        time.sleep(args.settle)
        # Steady state has a polling loop running at any moment, at some point of its
        # run: read several times and keep the largest total.
        for sample in range(args.samples):
            if sample:
                time.sleep(args.sample_gap)
            memory = [(role, pid, *memory_kb(pid)) for role, pid in roles(service.pid)]
            result.totals.append(sum(m[3] for m in memory))
            if result.totals[-1] == max(result.totals):
                result.memory = memory
        result.supervisor = memory_kb(service.pid)
        return result
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)
                service.wait()
        log.close()
        http.stop()


def report(result: Result) -> None:
    print(f"\n== {result.storage} ({result.mode}) ==")
    print(
        f"markers: {result.delivered}/{result.expected} delivered, {result.duplicates} duplicate(s)"
    )
    print(f"every notification exactly once: {'yes' if result.ok else 'no'}")
    latencies = result.latencies
    if latencies:
        start = "put_events" if result.mode == "push" else "status change"
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(
            f"latency from {start} to marker received (s): "
            f"p50 {p50:.3f}  p95 {percentile(latencies, 95):.3f}  "
            f"p99 {p99:.3f}  max {max(latencies):.3f}  "
            f"mean {statistics.mean(latencies):.3f}"
        )
        for phase, values in result.phases.items():
            if values:
                print(
                    f"  of which {phase}: p50 {percentile(values, 50):.3f}  "
                    f"p99 {percentile(values, 99):.3f}  max {max(values):.3f}"
                )
        if result.mode == "push":
            met = p50 <= 0.1 and p99 <= 0.25
            print(f"targets p50 <= 0.1 s, p99 <= 0.25 s: {'met' if met else 'NOT MET'}")
    samples = ", ".join(f"{total / 1024:.0f}" for total in result.totals)
    print(f"PSS of web + cluster in each sample (MB): {samples}; the largest:")
    print(f"{'process':<22}{'pid':>8}{'RSS MB':>9}{'PSS MB':>9}")
    for role, pid, rss, pss in result.memory:
        print(f"{role:<22}{pid:>8}{rss / 1024:>9.1f}{pss / 1024:>9.1f}")
    rss = sum(m[2] for m in result.memory)
    pss = sum(m[3] for m in result.memory)
    print(
        f"memory of web + cluster ({len(result.memory)} processes): "
        f"RSS {rss / 1024:.0f} MB summed, PSS {pss / 1024:.0f} MB"
    )
    print(
        f"(run_service, the supervisor `make run` adds: RSS {result.supervisor[0] / 1024:.0f} "
        f"MB, PSS {result.supervisor[1] / 1024:.0f} MB)"
    )


def bench_keys(workdir: Path) -> dict[str, str]:
    """The service's keys: the caller's (`make bench` sets NOTIFIER_KEYS_FILE), else fresh."""
    if os.environ.get("NOTIFIER_KEYS_FILE") or os.environ.get("NOTIFIER_ENCRYPTION_KEY"):
        return {}
    path = workdir / "keys.env"
    subprocess.run(
        [sys.executable, "manage.py", "generate_keys", "--file", str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return {"NOTIFIER_KEYS_FILE": str(path)}


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--storage", action="append", choices=["orm", "dynamodb"], help="default: both"
    )
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument(
        "--mode",
        choices=["poll", "push"],
        default="poll",
        help="push: EventBridge -> SQS (push_setup) with polling as reconciliation",
    )
    parser.add_argument(
        "--spread", type=float, default=60.0, help="seconds over which the deployments finish"
    )
    parser.add_argument(
        "--settle", type=float, default=30.0, help="seconds to wait before reading memory"
    )
    parser.add_argument("--samples", type=int, default=3, help="memory readings to take")
    parser.add_argument(
        "--sample-gap", type=float, default=10.0, help="seconds between memory readings"
    )
    args = parser.parse_args()

    # Stopped with SIGTERM: unwind, so each run's `finally` stops its service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keys = bench_keys(Path(tempfile.mkdtemp(prefix="latency-keys-")))
    moto = MotoServer()
    apply_env(moto.env)
    serialise_moto_writes()  # DynamoDB's conditional writes are atomic; make moto's so
    results = []
    try:
        for storage in args.storage or ["orm", "dynamodb"]:
            results.append(run_once(storage, moto=moto, args=args, keys=keys))
    finally:
        moto.stop()
    for result in results:
        report(result)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())

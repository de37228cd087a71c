"""Notification latency and memory of the running service.

Starts the service as `make run` does (gunicorn + qcluster, SQLite, ORM store) with
NOTIFIER_POLL_INTERVAL=1 against moto's CodeDeploy and a local New Relic, registers an
application over the REST API, moves 50 deployments to Succeeded at random moments, and
measures the time from each status change to New Relic's server receiving the marker.
Then prints the resident memory of the web and cluster processes together.

    .venv/bin/python bench/latency.py [--deployments 50] [--spread 60]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_httpserver import HTTPServer  # noqa: E402

from notifier.management.commands.run_service import gunicorn_command  # noqa: E402
from tests.support.aws import FakeCodeDeploy, MotoServer, apply_env  # noqa: E402
from tests.support.newrelic import API_KEY, FakeNewRelic  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB; PSS shares pages between the processes that map them."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except FileNotFoundError:
        pass
    return rss, pss


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument(
        "--spread", type=float, default=60.0, help="seconds over which the deployments finish"
    )
    args = parser.parse_args()

    moto = MotoServer()
    apply_env(moto.env)
    http = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    http.start()
    newrelic = FakeNewRelic(http)
    newrelic.add_application("storefront-web")
    workdir = Path(tempfile.mkdtemp(prefix="latency-"))
    port = 8000 + random.randint(100, 800)
    env = {
        **os.environ,
        **moto.env,
        "NOTIFIER_VAR_DIR": str(workdir),
        "NOTIFIER_POLL_INTERVAL": "1",
        "NEW_RELIC_API_URL": newrelic.url,
        "NEW_RELIC_API_KEY": API_KEY,
        "DJANGO_SUPERUSER_PASSWORD": "bench-password",
        "PYTHONUNBUFFERED": "1",
        "NOTIFIER_HTTPS": "false",
    }
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, "manage.py"]

    def run(*command: str) -> str:
        return subprocess.run(
            [*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout

    print("preparing a fresh database ...", flush=True)
    run("migrate", "--noinput")
    run("ensure_schedule", "--start-now")
    run("createsuperuser", "--noinput", "--username", "bench", "--email", "bench@example.com")
    token = run("drf_create_token", "bench").split()[2]

    log = open(workdir / "service.log", "wb")  # noqa: SIM115
    web = subprocess.Popen(
        gunicorn_command(host="127.0.0.1", port=str(port)),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    cluster = subprocess.Popen(
        [*manage, "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        import requests

        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        response = requests.post(
            f"http://127.0.0.1:{port}/registrations",
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
        ids = [codedeploy.deploy("storefront", commit=f"{n:040x}") for n in range(args.deployments)]
        for deployment_id in ids:
            codedeploy.move(deployment_id, "InProgress")
        print(f"{len(ids)} deployments in progress; letting the poller see them ...", flush=True)
        time.sleep(5)

        finish_at = sorted((random.uniform(0, args.spread), d) for d in ids)
        changed: dict[str, float] = {}
        start = time.monotonic()
        for offset, deployment_id in finish_at:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            codedeploy.move(deployment_id, "Succeeded")
            changed[deployment_id] = time.time()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(newrelic.markers) < len(ids):
            time.sleep(0.1)

        received = {}
        for marker in newrelic.markers:
            description = marker["body"]["deployment"]["description"]
            deployment_id = description.split(" deployment ")[1].split()[0]
            received.setdefault(deployment_id, []).append(marker["received"])
        latencies = [received[d][0] - changed[d] for d in ids if d in received]
        duplicates = sum(len(v) - 1 for v in received.values())

        processes = tree(web.pid) + tree(cluster.pid)
        rss = pss = 0
        for pid in processes:
            r, p = memory_kb(pid)
            rss, pss = rss + r, pss + p

        print(f"\nmarkers: {len(latencies)}/{len(ids)} delivered, {duplicates} duplicate(s)")
        if latencies:
            print(
                "latency from status change to marker received (s): "
                f"p50 {percentile(latencies, 50):.2f}  p95 {percentile(latencies, 95):.2f}  "
                f"p99 {percentile(latencies, 99):.2f}  max {max(latencies):.2f}  "
                f"mean {statistics.mean(latencies):.2f}"
            )
        print(
            f"memory of web + cluster ({len(processes)} processes): RSS {rss / 1024:.0f} MB, "
            f"PSS {pss / 1024:.0f} MB"
        )
        ok = len(latencies) == len(ids) and duplicates == 0
        return 0 if ok else 1
    finally:
        for process in (web, cluster):
            process.terminate()
        for process in (web, cluster):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        http.stop()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())

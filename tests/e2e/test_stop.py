"""Stopping and overlapping, for real: `manage.py poll_codedeploy` and `qcluster` processes on
one node, moto's CodeDeploy, and a slow local New Relic that counts the sends it holds open.

- However the schedule's loops overlap, a node sends at most NOTIFIER_SEND_THREADS at once.
- A node stopped mid-burst (SIGTERM to its cluster's main process, as a process manager sends
  it; to its whole process group, as systemd does; Ctrl-C to `make run`'s supervisor) exits
  within about one send, and a new cluster sends the rest: every notification arrives
  exactly once.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone
from werkzeug import Request, Response

from channels.newrelic import NewRelicSetup
from notifier.events import Event
from notifier.storage.base import DELIVERED, FINAL_STATES, DeliveryKey
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.notifier.storage.test_contract import deployment
from tests.support.newrelic import API_KEY, FakeNewRelic
from tests.support.processes import ServiceProcess, group_members, service_env, wait_until
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.django_db(transaction=True)]

SEND_THREADS = 3
SEND_TIMEOUT = 5
SEND_SECONDS = 1.0  # how long the slow New Relic holds each marker request


class SlowNewRelic(FakeNewRelic):
    """Takes each marker at once (it counts as received, as at a real provider), then holds
    the response for SEND_SECONDS; counts the requests it holds at the same time."""

    def __init__(self, server) -> None:
        self.open_now = 0
        self.most_open = 0
        self._count_lock = threading.Lock()
        super().__init__(server)

    def _marker(self, request: Request) -> Response:
        with self._count_lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            response = super()._marker(request)
            time.sleep(SEND_SECONDS)
            return response
        finally:
            with self._count_lock:
                self.open_now -= 1

    def per_deployment(self) -> Counter:
        return Counter(m["body"]["deployment"]["description"].split()[3] for m in self.markers)


@pytest.fixture
def slow_newrelic(httpserver, settings) -> SlowNewRelic:
    from channels import newrelic as channel

    settings.NEW_RELIC_API_URL = httpserver.url_for("").rstrip("/")
    settings.NEW_RELIC_API_KEY = API_KEY
    channel._app_ids.clear()
    receiver = SlowNewRelic(httpserver)
    receiver.add_application("storefront-web")
    return receiver


@pytest.fixture
def node_env(aws, slow_newrelic, tmp_path):
    """One node's environment: its own node lock, the slow New Relic, short timings."""
    return service_env(
        **aws.env,
        NEW_RELIC_API_URL=slow_newrelic.url,
        NEW_RELIC_API_KEY=API_KEY,
        NOTIFIER_NODE_LOCK=str(tmp_path / "node.lock"),
        NOTIFIER_SEND_THREADS=str(SEND_THREADS),
        NOTIFIER_SEND_TIMEOUT=str(SEND_TIMEOUT),
        NOTIFIER_CLAIM_LEASE="30",
        NOTIFIER_POLL_INTERVAL="0.3",
        NOTIFIER_LOOP_SECONDS="60",
        NOTIFIER_RETRY_BASE="0.5",
    )


def storefront_setup() -> NewRelicSetup:
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    return NewRelicSetup.objects.create(
        registration=registration, application_name="storefront-web", events=["succeeded"]
    )


def stopped(process: ServiceProcess, *, within: float) -> float | None:
    """Seconds until the process and every process of its group had exited, or None if some
    were still running after `within` seconds."""
    started = time.monotonic()
    deadline = started + within
    while time.monotonic() < deadline:
        if not process.alive() and not group_members(process.pid):
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def finished(store: OrmStore, keys: list[DeliveryKey]) -> bool:
    return all(store.delivery_get(key).state in FINAL_STATES for key in keys)


def test_two_overlapping_loops_on_one_node_send_at_most_the_send_threads_at_once(
    node_env, slow_newrelic, tmp_path
):
    setup = storefront_setup()
    store = OrmStore()
    keys = []
    for n in range(30):
        event = deployment(f"d-{n:02d}").with_event(Event.SUCCEEDED)
        store.deployment_save(event, seen_at=timezone.now())
        key = DeliveryKey(event.deployment_id, "succeeded", setup.pk)
        assert store.delivery_create(key, kind="newrelic", event=event)
        keys.append(key)

    loops = [
        ServiceProcess(f"loop-{n}", ["poll_codedeploy", "--seconds", "60"], node_env, tmp_path)
        for n in range(2)
    ]
    try:
        wait_until(
            lambda: finished(store, keys),
            timeout=90,
            interval=0.5,
            what="every delivery to finish\n" + "\n".join(p.output()[-2000:] for p in loops),
        )
    finally:
        for process in loops:
            process.stop()

    assert slow_newrelic.most_open == SEND_THREADS  # not 2 x SEND_THREADS
    assert all(store.delivery_get(key).state == DELIVERED for key in keys)
    assert sorted(slow_newrelic.per_deployment().values()) == [1] * 30


def run_service(env: dict[str, str], tmp_path) -> ServiceProcess:
    """`make run`'s supervisor (gunicorn and qcluster), in its own group as a terminal's
    foreground job is."""
    return ServiceProcess(
        "run_service",
        ["run_service", "--host", "127.0.0.1", "--port", str(free_port())],
        {**env, "NOTIFIER_HTTPS": "false", "DJANGO_STATIC_ROOT": str(tmp_path / "static")},
        tmp_path,
    )


@pytest.mark.parametrize(
    "how",
    [
        "SIGTERM to qcluster's main process (a process manager)",
        "SIGTERM to qcluster's process group (systemd)",
        "Ctrl-C to run_service (make run)",
    ],
)
def test_a_stop_mid_burst_takes_about_a_send_and_loses_and_repeats_nothing(
    how, node_env, slow_newrelic, codedeploy, tmp_path
):
    """30 deployments x 1 setup; the node is stopped while sends are in flight; a new
    cluster sends the rest. Every deployment's marker arrives exactly once."""
    storefront_setup()
    codedeploy.group("storefront")
    processes: list[ServiceProcess] = []

    def start(command: str = "qcluster") -> ServiceProcess:
        call_command("ensure_schedule", "--start-now", stdout=io.StringIO())
        if command == "run_service":
            process = run_service(node_env, tmp_path)
        else:
            process = ServiceProcess(f"qcluster-{len(processes)}", [command], node_env, tmp_path)
        processes.append(process)
        return process

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in processes)

    try:
        first = start("run_service" if "run_service" in how else "qcluster")
        deployments = []
        for n in range(30):
            deployments.append(codedeploy.deploy("storefront", description=f"burst {n}"))
            codedeploy.move(deployments[-1], "Succeeded")
        wait_until(
            lambda: slow_newrelic.open_now > 0 and len(slow_newrelic.markers) >= 4,
            timeout=90,
            interval=0.05,
            what="sends in flight\n" + logs(),
        )
        assert len(slow_newrelic.markers) < 30, "the stop must come mid-burst"
        if "main process" in how:
            os.kill(first.pid, signal.SIGTERM)
        elif "process group" in how:
            os.killpg(first.pid, signal.SIGTERM)
        else:
            os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        took = stopped(first, within=SEND_TIMEOUT + 10)
        assert took is not None, f"the node was still running\n{logs()}"
        if "run_service" in how:
            assert first.process.returncode == 0, logs()
        at_stop = len(slow_newrelic.markers)
        assert at_stop < 30, "the stop must leave sends for the next cluster"

        start()
        store = OrmStore()
        wait_until(
            lambda: all(
                (record := store.deployment_get(d))
                and record.deliveries
                and all(x.state in FINAL_STATES for x in record.deliveries)
                for d in deployments
            ),
            timeout=120,
            interval=0.5,
            what="every delivery to finish after the restart\n" + logs(),
        )
        received = slow_newrelic.per_deployment()
        assert set(received) == set(deployments), "zero losses"
        assert {d: c for d, c in received.items() if c != 1} == {}, "zero duplicates"
        for d in deployments:
            ((delivery),) = store.deployment_get(d).deliveries
            assert (delivery.state, delivery.attempts) == (DELIVERED, 1)
        print(f"{how}: the stop took {took:.1f}s with {at_stop}/30 markers sent")
    finally:
        for process in processes:
            process.stop(timeout=5)

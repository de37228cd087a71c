"""Several nodes: two real `qcluster` processes (django-q2 on Redis) on one DynamoDB (moto's
server) with the PostgreSQL audit mirror, sending New Relic markers to local servers.

200 deployments across 20 applications, each application with two New Relic setups (two
different New Relic applications), so 400 (deployment, event, setup) deliveries: each must
arrive exactly once — with both nodes up, and with one node SIGKILLed in the middle, once
its leases have expired.

Each node sends to its own local New Relic (the same applications, the markers counted
together), so the test sees which node sent what. Node A's server is a gate: at the kill it
stops answering, so the node dies with sends in flight that the provider never accepted;
node B takes them over when their claim leases expire. (A node killed after the provider
accepted a request but before it recorded the outcome would have it sent again: that window
is the few milliseconds between the provider's answer and one DynamoDB write; see README,
"Running several nodes".)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import pytest
import redis
from django.db import connections
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.newrelic import NewRelicSetup
from notifier import models as m
from notifier.storage.base import DELIVERED
from notifier.storage.dynamodb import DynamoStore, from_item
from registrations.models import Registration
from tests.support.databases import POSTGRES_ALIAS, add_postgres_alias
from tests.support.dynamodb import dynamo_store
from tests.support.newrelic import API_KEY, FakeNewRelic
from tests.support.processes import ROOT, ServiceProcess, service_env, wait_until
from tests.support.services import POSTGRES_HOW, missing, require_postgres, require_redis

HAVE_POSTGRES = add_postgres_alias()
DATABASES = ["default", POSTGRES_ALIAS] if HAVE_POSTGRES else ["default"]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=DATABASES),
]

APPLICATIONS = [f"service-{n:02d}" for n in range(20)]
DEPLOYMENTS = 200
WAVES = 4
# A Redis database of this run's own, so a parallel run's queue never takes our tasks.
REDIS_DB = 8 + os.getpid() % 8


class GatedNewRelic(FakeNewRelic):
    """A local New Relic that can stop accepting markers: held requests are never recorded
    (the provider never got them) and answer 503 once released."""

    def __init__(self, server: HTTPServer) -> None:
        self.open = True
        self.held = 0
        self.release = threading.Event()
        super().__init__(server)

    def _marker(self, request: Request) -> Response:
        if self.open:
            return super()._marker(request)
        self.held += 1
        self.release.wait(60)
        return Response("unavailable", status=503)


class Node:
    def __init__(self, name: str, env: dict[str, str], log_dir) -> None:
        self.name = name
        # Each node its own node lock: processes sharing one are one node (notifier.loop).
        self.env = {**env, "NOTIFIER_NODE_LOCK": str(log_dir / f"{name}.lock")}
        self.process = ServiceProcess(name, ["qcluster"], self.env, log_dir)

    def loops_started(self) -> int:
        return self.process.output().count("'notifier.tasks.poll_loop'")


def loops_queue(env: dict[str, str], *, count: int) -> None:
    """Queue polling loops on the shared Redis queue (any node's worker takes each)."""
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django_q.tasks import async_task\n"
            f"for _ in range({count}): async_task('notifier.tasks.poll_loop')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def cluster(aws, codedeploy, newrelic, tmp_path):
    """Two nodes, A (sending to a gated New Relic) and B, on fresh tables and a fresh queue."""
    require_redis()
    require_postgres()
    if not HAVE_POSTGRES:
        missing("PostgreSQL", POSTGRES_HOW)
    prefix = f"e2e-{uuid.uuid4().hex[:8]}-"
    dynamo_store(prefix=prefix)
    queue = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    queue.flushdb()
    audit = connections[POSTGRES_ALIAS].settings_dict
    gate_server = HTTPServer(host="127.0.0.1", port=0)
    gate_server.start()
    gate = GatedNewRelic(gate_server)

    for application in APPLICATIONS:
        registration = Registration.objects.create(codedeploy_application_name=application)
        for role in ("web", "ops"):
            name = f"{application}-{role}"
            NewRelicSetup.objects.create(
                registration=registration, application_name=name, events=["succeeded", "failed"]
            )
            app_id = newrelic.add_application(name)
            gate.add_application(name, app_id)
        codedeploy.group(application)

    def env(new_relic_url: str) -> dict[str, str]:
        return service_env(
            **aws.env,
            NOTIFIER_STORAGE="dynamodb",
            NOTIFIER_DYNAMODB_TABLE_PREFIX=prefix,
            AUDIT_DATABASE_URL=(
                f"postgres://{audit['USER']}@{audit['HOST']}:{audit['PORT']}/{audit['NAME']}"
            ),
            Q_BROKER_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
            NEW_RELIC_API_URL=new_relic_url,
            NEW_RELIC_API_KEY=API_KEY,
            NOTIFIER_POLL_INTERVAL="0.3",
            NOTIFIER_LOOP_SECONDS="240",
            NOTIFIER_SEND_TIMEOUT="2",
            # A claim's lease must outlast claim, send (at most 2 s) and record, or another
            # node takes the delivery over and sends it again; with 2 cores shared by the
            # whole suite, 4 s was sometimes not enough (the default is 30 s).
            NOTIFIER_CLAIM_LEASE="8",
            NOTIFIER_RETRY_BASE="0.5",
            NOTIFIER_WORKERS="2",
        )

    nodes = [Node("node-a", env(gate.url), tmp_path), Node("node-b", env(newrelic.url), tmp_path)]

    class Cluster:
        store = DynamoStore(prefix=prefix)

        def __init__(self) -> None:
            self.a, self.b = nodes
            self.gate, self.newrelic = gate, newrelic

        def logs(self) -> str:
            return "\n".join(f"--- {n.name}\n{n.process.output()[-4000:]}" for n in nodes)

        def start_loops(self) -> None:
            """Start polling loops on both nodes through the shared Redis queue. Which node
            takes a task is up to the nodes' pushers, and a pusher takes tasks ahead of its
            workers (up to workers + workers² of them), so queue more than one node can
            take: each node then runs a loop on each of its two workers."""
            loops_queue(self.a.env, count=2 * (2 + 2 * 2) + 2)
            wait_until(
                lambda: all(n.loops_started() >= 2 for n in nodes),
                timeout=60,
                what="both nodes to run polling loops\n" + self.logs(),
            )

        def markers(self) -> Counter:
            """(deployment id, New Relic application id) -> markers received, both servers."""
            return Counter(
                (marker["body"]["deployment"]["description"].split()[3], marker["app_id"])
                for marker in [*gate.markers, *newrelic.markers]
            )

        def deliveries(self) -> list[dict]:
            items, params = [], {"TableName": self.store.deliveries_table}
            while True:
                answer = self.store.client.scan(**params)
                items += [from_item(item) for item in answer["Items"]]
                if "LastEvaluatedKey" not in answer:
                    return items
                params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    yield Cluster()
    gate.release.set()
    for node in nodes:
        node.process.kill()
    gate_server.clear()
    gate_server.stop()
    queue.flushdb()


def deploy_waves(codedeploy, *, after_wave=None) -> dict[str, int]:
    """Create the deployments in waves; each runs, then succeeds (every tenth fails).
    Returns deployment id -> New Relic setups expected to hear it (always 2)."""
    expected: dict[str, int] = {}
    per_wave = DEPLOYMENTS // WAVES
    for wave in range(WAVES):
        started = []
        for n in range(per_wave):
            application = APPLICATIONS[(wave * per_wave + n) % len(APPLICATIONS)]
            deployment = codedeploy.deploy(application, description=f"wave {wave}")
            codedeploy.move(deployment, "InProgress")
            started.append(deployment)
        time.sleep(0.5)
        for n, deployment in enumerate(started):
            codedeploy.move(deployment, "Failed" if n % 10 == 9 else "Succeeded")
            expected[deployment] = 2
        if after_wave is not None:
            after_wave(wave)
    return expected


def all_delivered(cluster, count: int) -> bool:
    deliveries = cluster.deliveries()
    return len(deliveries) == count and all(d["state"] == DELIVERED for d in deliveries)


# Node A's log line for an outcome it recorded (notifier.dispatch.delivery_send).
RECORDED = re.compile(r"delivery \S+ attempt \d+: delivered")


def assert_exactly_once(cluster, expected: dict[str, int]) -> None:
    wait_until(
        lambda: all_delivered(cluster, DEPLOYMENTS * 2),
        timeout=240,
        interval=1,
        what=f"all {DEPLOYMENTS * 2} deliveries to be delivered\n" + cluster.logs(),
    )
    markers = cluster.markers()
    app_ids = set(cluster.newrelic.applications.values())
    assert {d for d, _ in markers} == set(expected), "a marker for every deployment"
    assert {a for _, a in markers} == app_ids, "markers on every New Relic application"
    duplicates = {key: count for key, count in markers.items() if count != 1}
    assert duplicates == {}, "each (deployment, setup) exactly once"
    assert len(markers) == DEPLOYMENTS * 2


def mirror_delivered() -> int:
    return m.Delivery.objects.using(POSTGRES_ALIAS).filter(state=DELIVERED).count()


def test_two_nodes_send_every_notification_exactly_once(cluster, codedeploy):
    cluster.start_loops()
    expected = deploy_waves(codedeploy)
    assert_exactly_once(cluster, expected)
    # Both nodes sent some of them.
    assert cluster.gate.markers and cluster.newrelic.markers, cluster.logs()
    # The audit mirror holds every delivery, with its attempt, and shows the history.
    wait_until(lambda: mirror_delivered() == DEPLOYMENTS * 2, timeout=30, what="the mirror")
    assert m.DeliveryAttempt.objects.using(POSTGRES_ALIAS).filter(state=DELIVERED).count() == (
        DEPLOYMENTS * 2
    )
    assert m.Deployment.objects.using(POSTGRES_ALIAS).count() == DEPLOYMENTS


@pytest.mark.fault
def test_a_node_killed_mid_way_loses_nothing_and_sends_nothing_twice(cluster, codedeploy):
    cluster.start_loops()

    def kill_node_a_after_the_second_wave(wave: int) -> None:
        if wave != 1:
            return
        wait_until(
            lambda: len(cluster.gate.markers) + len(cluster.newrelic.markers) >= 60,
            timeout=120,
            what="the first waves' markers\n" + cluster.logs(),
        )
        cluster.gate.open = False  # node A's sends stop reaching the provider...
        wait_until(lambda: cluster.gate.held, timeout=30, what="node A to send into the gate")
        # Let node A record what the provider accepted before the gate closed (a DynamoDB
        # write of milliseconds each; it logs each outcome once recorded), so that the kill
        # leaves in flight only sends the provider never accepted: they stay held
        # (NOTIFIER_SEND_TIMEOUT=2). A kill in those milliseconds would send one again: the
        # window README's "Running several nodes" names.
        accepted = len(cluster.gate.markers)
        wait_until(
            lambda: len(RECORDED.findall(cluster.a.process.output())) >= accepted,
            timeout=30,
            what=f"node A to record the {accepted} markers the provider accepted",
        )
        cluster.a.process.kill()  # ...and node A dies with them in flight (SIGKILL)
        cluster.gate.release.set()

    expected = deploy_waves(codedeploy, after_wave=kill_node_a_after_the_second_wave)
    assert not cluster.a.process.alive()
    assert_exactly_once(cluster, expected)
    # Some deliveries were taken over from the dead node once their leases expired.
    assert any(d["attempts"] > 1 for d in cluster.deliveries()), cluster.logs()

    # Whatever the mirror missed when node A died, the backfill copies.
    subprocess.run(
        [sys.executable, "manage.py", "audit_backfill"],
        cwd=ROOT,
        env=cluster.b.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert mirror_delivered() == DEPLOYMENTS * 2

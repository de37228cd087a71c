"""Outages, for real: a `qcluster` polls moto's server through a TCP relay the test cuts
(tests/support/relay.py), and the web app answers /healthz and /status/ meanwhile.

- CodeDeploy unreachable for 20 s: /healthz goes 503 with `"failing": "polling"` once polling
  has failed for NOTIFIER_UNHEALTHY_AFTER (5 s here), /status/ names polling as failing and
  since when, and every deployment that finished during the outage is notified exactly once
  after it; /healthz is 200 again after the next success.
- DynamoDB unreachable for 15 s: /healthz answers 503 with `"failing": "storage"` at once
  (one short request, no retries), nothing is lost or sent twice, and it is 200 afterwards.
"""

from __future__ import annotations

import io
import time
import uuid

import pytest
import requests
from django.core.management import call_command

from channels.newrelic import NewRelicSetup
from notifier.storage.dynamodb import DynamoStore
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from tests.support.dynamodb import dynamo_store
from tests.support.history import user
from tests.support.newrelic import API_KEY
from tests.support.processes import ServiceProcess, service_env, wait_until
from tests.support.relay import Relay

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.django_db(transaction=True)]

APPLICATION = "storefront"


def healthz(live_server) -> tuple[int, dict, float]:
    """/healthz's status, body and how long it took to answer."""
    began = time.monotonic()
    response = requests.get(f"{live_server.url}/healthz", timeout=30)
    return response.status_code, response.json(), time.monotonic() - began


def register_marker_setup(newrelic) -> None:
    newrelic.add_application("storefront-web")
    registration = Registration.objects.create(codedeploy_application_name=APPLICATION)
    NewRelicSetup.objects.create(
        registration=registration, application_name="storefront-web", events=["succeeded"]
    )


def start_cluster(env: dict[str, str], tmp_path) -> ServiceProcess:
    call_command("ensure_schedule", "--start-now", stdout=io.StringIO())
    return ServiceProcess("qcluster", ["qcluster"], env, tmp_path)


def cluster_env(aws, newrelic, **overrides: str) -> dict[str, str]:
    return service_env(
        **aws.env,
        NEW_RELIC_API_URL=newrelic.url,
        NEW_RELIC_API_KEY=API_KEY,
        NOTIFIER_POLL_INTERVAL="1",
        NOTIFIER_UNHEALTHY_AFTER="5",
        NOTIFIER_LOOP_SECONDS="150",
        NOTIFIER_RETRY_BASE="0.5",
        **overrides,
    )


def deploy_running(codedeploy, count: int) -> list[str]:
    deployments = [codedeploy.deploy(APPLICATION) for _ in range(count)]
    for deployment in deployments:
        codedeploy.move(deployment, "InProgress")
    return deployments


def exactly_once_after(newrelic, deployments: list[str], *, what: str) -> None:
    wait_until(lambda: all(newrelic.markers_for(d) for d in deployments), timeout=60, what=what)
    time.sleep(3)  # more cycles, and any duplicate would have arrived
    assert {d: len(newrelic.markers_for(d)) for d in deployments} == dict.fromkeys(deployments, 1)


def test_it_reports_a_codedeploy_outage_and_notifies_everything_once_after_it(
    live_server, aws, codedeploy, newrelic, settings, client, tmp_path
):
    settings.NOTIFIER_POLL_INTERVAL = 1.0
    settings.NOTIFIER_UNHEALTHY_AFTER = 5.0
    register_marker_setup(newrelic)
    relay = Relay.to_url(aws.endpoint)
    cluster = start_cluster(
        cluster_env(aws, newrelic, AWS_ENDPOINT_URL_CODEDEPLOY=relay.url), tmp_path
    )
    store = OrmStore()
    try:
        running = deploy_running(codedeploy, 3)
        wait_until(
            lambda: (
                all(store.deployment_get(d) for d in running) and healthz(live_server)[0] == 200
            ),
            timeout=90,
            what="the poller to see the running deployments\n" + cluster.output()[-3000:],
        )

        relay.cut()
        cut_at = time.monotonic()
        for deployment in running:
            codedeploy.move(deployment, "Succeeded")
        during = codedeploy.deploy(APPLICATION)  # created and finished during the outage
        codedeploy.move(during, "Succeeded")

        status, body, _ = wait_until(
            lambda: (answer := healthz(live_server))[0] == 503 and answer,
            timeout=18,
            what="/healthz to answer 503 during the CodeDeploy outage",
        )
        print(f"/healthz answered 503 {time.monotonic() - cut_at:.1f}s into the outage")
        assert body["status"] == "unhealthy" and body["failing"] == "polling"
        assert set(body) <= {"status", "poll_lag_seconds", "failing"}
        client.force_login(user("alice"))
        page = client.get("/status/").content.decode()
        assert "Polling CodeDeploy has failed since" in page
        assert "keeping up" not in page
        assert newrelic.markers == []

        time.sleep(max(0.0, 20 - (time.monotonic() - cut_at)))
        relay.restore()
        restored_at = time.monotonic()
        wait_until(
            lambda: healthz(live_server)[0] == 200, timeout=30, what="/healthz to be 200 again"
        )
        print(f"/healthz answered 200 {time.monotonic() - restored_at:.1f}s after the outage")
        assert "keeping up" in client.get("/status/").content.decode()
        exactly_once_after(
            newrelic, [*running, during], what="the markers after the outage\n" + cluster.output()
        )
    finally:
        relay.close()
        cluster.stop()


def test_it_answers_healthz_at_once_during_a_dynamodb_outage_and_loses_nothing(
    live_server, aws, codedeploy, newrelic, settings, monkeypatch, tmp_path
):
    prefix = f"outage-{uuid.uuid4().hex[:8]}-"
    dynamo_store(prefix)  # the tables, made on moto directly
    reader = DynamoStore(prefix=prefix)  # the test's own view, not through the relay
    register_marker_setup(newrelic)
    relay = Relay.to_url(aws.endpoint)
    settings.NOTIFIER_STORAGE = "dynamodb"
    settings.NOTIFIER_DYNAMODB_TABLE_PREFIX = prefix
    settings.NOTIFIER_POLL_INTERVAL = 1.0
    settings.NOTIFIER_UNHEALTHY_AFTER = 5.0
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", relay.url)  # the web app's store
    cluster = start_cluster(
        cluster_env(
            aws,
            newrelic,
            NOTIFIER_STORAGE="dynamodb",
            NOTIFIER_DYNAMODB_TABLE_PREFIX=prefix,
            AWS_ENDPOINT_URL_DYNAMODB=relay.url,
        ),
        tmp_path,
    )
    try:
        running = deploy_running(codedeploy, 3)
        wait_until(
            lambda: (
                all(reader.deployment_get(d) for d in running) and healthz(live_server)[0] == 200
            ),
            timeout=90,
            what="the poller to see the running deployments\n" + cluster.output()[-3000:],
        )

        relay.cut()
        cut_at = time.monotonic()
        for deployment in running:
            codedeploy.move(deployment, "Succeeded")
        during = codedeploy.deploy(APPLICATION)
        codedeploy.move(during, "Succeeded")

        answers = []
        while time.monotonic() - cut_at < 15:
            answers.append(healthz(live_server))
            time.sleep(0.5)
        relay.restore()
        slowest = max(seconds for _, _, seconds in answers)
        print(
            f"/healthz during the DynamoDB outage: {len(answers)} answers, slowest {slowest:.3f}s"
        )
        assert {(status, body.get("failing")) for status, body, _ in answers} == {(503, "storage")}
        assert slowest < 1.5  # the requirement: a load balancer's timeout is short

        exactly_once_after(
            newrelic, [*running, during], what="the markers after the outage\n" + cluster.output()
        )
        wait_until(
            lambda: healthz(live_server)[0] == 200, timeout=15, what="/healthz to be 200 again"
        )
    finally:
        relay.close()
        cluster.stop()

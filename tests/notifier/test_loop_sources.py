"""The service loop polls every enabled source on its own (notifier.pollers), against moto
over HTTP: a source whose AWS endpoint hangs holds nobody else up, a source whose role cannot
be assumed shows its error on /status/ alone, and sources are polled busy or idle."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from channels.newrelic import NewRelicSetup
from notifier.loop import Stopping, service_loop_run
from notifier.poller import source_is_busy
from notifier.pollers import SourcePollers
from notifier.sources import boto3_session_for
from notifier.storage.base import PollState
from notifier.storage.orm import OrmStore
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.notifier.test_poller_sources import codedeploy_of
from tests.support.aws import ACCOUNT
from tests.support.history import user
from tests.support.processes import wait_until
from tests.support.sts import DenyingSts

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"


@pytest.fixture(autouse=True)
def fresh_sessions(settings, tmp_path):
    settings.NOTIFIER_NODE_LOCK = tmp_path / "node.lock"
    boto3_session_for.cache_clear()
    yield
    boto3_session_for.cache_clear()


class Silent:
    """A TCP server that accepts connections and never answers: a hung AWS endpoint."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


def register(application: str, source: Source, nr_app: str = "web") -> NewRelicSetup:
    registration = Registration.objects.create(
        codedeploy_application_name=application, source=source
    )
    return NewRelicSetup.objects.create(
        registration=registration, application_name=nr_app, events=["succeeded"]
    )


def run_loop(store, stopping, **kwargs) -> tuple[threading.Thread, list[int]]:
    cycles: list[int] = []
    loop = threading.Thread(
        target=lambda: cycles.append(service_loop_run(store=store, stopping=stopping, **kwargs))
    )
    loop.start()
    return loop, cycles


def test_a_hung_source_never_delays_another_sources_marker(codedeploy, newrelic, monkeypatch):
    newrelic.add_application("web")
    Source.objects.filter(pk=source_default().pk).update(account_id=ACCOUNT)
    register("storefront", source_default())
    register("billing", Source.objects.create(name="stuck", credentials="role", role_arn=ROLE))
    silent = Silent()  # the stuck source's STS: its credentials never come
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", silent.url)
    store, stopping = OrmStore(), Stopping()
    loop, _ = run_loop(store, stopping, seconds=60, interval=0.2, idle_interval=0.2)
    try:
        wait_until(lambda: silent.held, timeout=10, what="the stuck source's cycle to hang")
        wait_until(
            lambda: store.poll_state_get().last_success, timeout=10, what="the default's cycle"
        )
        deployment = codedeploy.deploy("storefront")
        codedeploy.move(deployment, "Succeeded")
        began = time.monotonic()
        wait_until(lambda: newrelic.markers, timeout=10, what="the default source's marker")
        took = time.monotonic() - began
        print(f"marker after {took:.3f} s while another source hangs")

        # The hung cycle never ends on its own: any bound proves the marker did not wait for
        # it; a loose one keeps a loaded machine from failing the test (speed is in bench/).
        assert took < 8.0, f"the marker took {took:.2f} s"
        assert store.poll_state_get(source="stuck").last_success is None  # still hung
    finally:
        stopping.set()
        silent.close()  # the hung cycle fails now, and records it
        loop.join(timeout=30)
        stopping.close()
    assert not loop.is_alive()
    wait_until(
        lambda: store.poll_state_get(source="stuck").last_error,
        timeout=30,
        what="the stuck source's error",
    )


def test_a_role_that_cannot_be_assumed_shows_its_error_and_others_still_poll(
    aws, httpserver, codedeploy, newrelic, monkeypatch, client
):
    denying = DenyingSts(httpserver, aws.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", denying.url)
    denied = "arn:aws:iam::210987654321:role/not-trusted"
    denying.denied.add(denied)
    newrelic.add_application("web")
    register("storefront", source_default())
    register("storefront", Source.objects.create(name="prod", credentials="role", role_arn=denied))
    deployment = codedeploy.deploy("storefront")
    codedeploy.move(deployment, "Succeeded")
    store, stopping = OrmStore(), Stopping()
    loop, _ = run_loop(store, stopping, seconds=60, interval=0.2, idle_interval=0.2)
    try:
        wait_until(lambda: newrelic.markers, timeout=15, what="the default source's marker")
        wait_until(
            lambda: store.poll_state_get(source="prod").last_error,
            timeout=15,
            what="the prod source's error",
        )
    finally:
        stopping.set()
        loop.join(timeout=30)
        stopping.close()

    client.force_login(user("alice"))
    page = client.get("/status/").content.decode()
    assert '<tr data-source="default"><th scope="row">default</th>' in page
    row = page.split('<tr data-source="prod">', 1)[1].split("</tr>", 1)[0]
    assert f"refused to let this service assume {denied} (AccessDenied)" in row
    assert "never" in row
    assert store.poll_state_get().last_error == ""
    assert len(newrelic.markers) == 1  # the default source's deployment, once


def test_healthz_is_unhealthy_when_any_enabled_source_is(client, settings):
    store, now = OrmStore(), timezone.now()
    source_default()
    Source.objects.create(name="prod", credentials="role", role_arn=ROLE)
    store.poll_state_save(PollState(last_success=now))
    store.poll_state_save(
        PollState(
            last_success=now - timedelta(minutes=9),
            last_error="AWS said no",
            failing_since=now - timedelta(minutes=9),
        ),
        source="prod",
    )

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == "polling"
    assert response.json()["poll_lag_seconds"] >= 540  # the worst source's lag
    assert "AWS said no" not in response.content.decode()

    Source.objects.filter(name="prod").update(enabled=False)
    assert client.get("/healthz").status_code == 200


def test_a_source_is_busy_while_deployments_run_or_one_was_created_lately(settings):
    settings.NOTIFIER_BUSY_WINDOW = 600
    now = timezone.now()
    assert not source_is_busy(PollState(), now=now)
    assert source_is_busy(PollState(pending={"d-1": "InProgress"}), now=now)
    assert source_is_busy(PollState(last_created=now - timedelta(seconds=599)), now=now)
    assert not source_is_busy(PollState(last_created=now - timedelta(seconds=601)), now=now)


def test_an_idle_source_is_polled_at_the_idle_interval_and_a_busy_one_at_the_busy(aws):
    busy = Source.objects.create(name="busy", region="eu-west-1")
    register("storefront", busy)
    running = codedeploy_of(aws, busy, ACCOUNT)
    deployment = running.deploy("storefront")
    running.move(deployment, "InProgress")
    pollers = SourcePollers(
        store=OrmStore(), holder="node-a", interval=0.05, idle_interval=600, threads=2
    )
    try:
        while pollers.cycles_of.get("busy", 0) < 5:
            time.sleep(min(pollers.start_due(), 0.05))
    finally:
        pollers.close()

    # The idle default source's next cycle is 600 s away; the busy one's every 0.05 s.
    assert pollers.cycles_of["default"] == 1
    assert OrmStore().poll_state_get(source="busy").pending == {deployment: "InProgress"}

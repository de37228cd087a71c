"""The whole service, for real: the REST API over HTTP, a real `qcluster` running the
scheduled polling loop, moto's CodeDeploy, and a local New Relic."""

from __future__ import annotations

import io
import time

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from notifier.storage.orm import OrmStore
from tests.support.newrelic import API_KEY
from tests.support.processes import ServiceProcess, service_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def service(live_server, codedeploy, newrelic, aws, tmp_path):
    """Starts (and restarts) the django-q2 cluster against this test's database."""
    env = service_env(
        **aws.env,
        NEW_RELIC_API_URL=newrelic.url,
        NEW_RELIC_API_KEY=API_KEY,
        NOTIFIER_POLL_INTERVAL="0.5",
        NOTIFIER_LOOP_SECONDS="20",
        NOTIFIER_RETRY_BASE="0.5",
    )
    processes: list[ServiceProcess] = []

    class Service:
        def start(self) -> ServiceProcess:
            call_command("ensure_schedule", "--start-now", stdout=io.StringIO())
            process = ServiceProcess(f"qcluster-{len(processes)}", ["qcluster"], env, tmp_path)
            processes.append(process)
            return process

        def logs(self) -> str:
            return "\n".join(p.output()[-3000:] for p in processes)

    yield Service()
    for process in processes:
        process.stop()


def api_session(live_server) -> requests.Session:
    user = User.objects.create_user("automation")
    user.groups.add(Group.objects.create(name="storefront-team"))
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"
    return session


def poll_count_after(store: OrmStore, since) -> bool:
    state = store.poll_state_get()
    return state.last_success is not None and state.last_success > since


def test_a_registered_application_gets_one_marker_per_success(
    live_server, service, codedeploy, newrelic
):
    newrelic.add_application("storefront-web")
    api = api_session(live_server)
    response = api.post(
        f"{live_server.url}/registrations",
        json={
            "codedeploy_application_name": "storefront",
            "notifications": [{"newrelic_notification": {"application_name": "storefront-web"}}],
        },
    )
    assert response.status_code == 201, response.text
    registration = response.json()

    cluster = service.start()
    store = OrmStore()
    deployment = codedeploy.deploy("storefront", commit="0123456789abcdef0123456789abcdef01234567")
    codedeploy.move(deployment, "InProgress")
    # The scheduler starts the polling loop; wait until it has seen the running deployment.
    wait_until(
        lambda: store.deployment_get(deployment),
        timeout=60,
        what="the poller to see the deployment\n" + service.logs(),
    )
    codedeploy.move(deployment, "Succeeded")
    markers = wait_until(lambda: newrelic.markers_for(deployment), timeout=15, what="the marker")
    (marker,) = markers
    body = marker["body"]["deployment"]
    assert body["revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert body["user"] == "an AWS user (not known yet)"  # CloudTrail names nobody here
    assert body["description"] == (
        f"CodeDeploy storefront/production deployment {deployment} Succeeded"
    )

    # More cycles send nothing more.
    since = store.poll_state_get().last_success
    time.sleep(2)
    assert poll_count_after(store, since)
    assert len(newrelic.markers_for(deployment)) == 1

    # Nor does a restart.
    cluster.stop()
    since = store.poll_state_get().last_success
    service.start()
    wait_until(
        lambda: poll_count_after(store, since),
        timeout=60,
        what="a poll cycle after the restart\n" + service.logs(),
    )
    time.sleep(1.5)
    assert len(newrelic.markers_for(deployment)) == 1

    # A failure: no marker while the setup hears only successes...
    failed = codedeploy.deploy("storefront")
    codedeploy.move(failed, "Failed")
    wait_until(
        lambda: (r := store.deployment_get(failed)) and r.event.status == "Failed",
        timeout=15,
        what="the poller to see the failure",
    )
    time.sleep(1.5)
    assert newrelic.markers_for(failed) == []

    # ...and exactly one once it subscribes to failures.
    setup = registration["notifications"][0]["newrelic_notification"]
    response = api.patch(
        f"{live_server.url}/api/registrations/{registration['id']}/",
        json={
            "notifications": [
                {"newrelic_notification": {**setup, "events": ["succeeded", "failed"]}}
            ]
        },
    )
    assert response.status_code == 200, response.text
    second_failure = codedeploy.deploy("storefront")
    codedeploy.move(second_failure, "Failed")
    wait_until(
        lambda: newrelic.markers_for(second_failure), timeout=15, what="the failure's marker"
    )
    time.sleep(1.5)
    assert len(newrelic.markers_for(second_failure)) == 1
    assert newrelic.markers_for(failed) == []
    assert len(newrelic.markers_for(deployment)) == 1

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from tests.support.aws import FakeCodeDeploy, MotoServer, apply_env, restore_env
from tests.support.codedeploy_targets import FakeDeploymentTargets
from tests.support.newrelic import API_KEY, FakeNewRelic

# tests/e2e/test_demo.py's Ctrl-C test: it ends the demo the walking tests share.
STOPS_THE_DEMO = "test_ctrl_c_stops_all_of_it"


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's server, threaded: a hanging response must not block the others,
    as it would not at a real provider."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(scope="session")
def moto_server():
    """moto's server on a free loopback port; boto3 reaches it through AWS_ENDPOINT_URL."""
    server = MotoServer()
    old = apply_env(server.env)
    yield server
    restore_env(old)
    server.stop()


@pytest.fixture
def aws(moto_server):
    """A fresh, empty AWS account for each test."""
    moto_server.reset()
    from notifier.codedeploy import account_id

    account_id.cache_clear()
    return moto_server


@pytest.fixture
def codedeploy(aws) -> FakeCodeDeploy:
    return FakeCodeDeploy(aws.endpoint)


@pytest.fixture(scope="session")
def deployment_targets_server(moto_server):
    server = FakeDeploymentTargets(forward_to=moto_server.endpoint)
    yield server
    server.stop()


@pytest.fixture
def deployment_targets(deployment_targets_server, aws) -> FakeDeploymentTargets:
    """CodeDeploy's deployment targets (which moto lacks) on a local server speaking the real
    protocol; every other CodeDeploy operation is forwarded to moto's server."""
    deployment_targets_server.reset()
    yield deployment_targets_server
    deployment_targets_server.reset()


@pytest.fixture
def newrelic(httpserver, settings) -> FakeNewRelic:
    from channels import newrelic as channel

    settings.NEW_RELIC_API_URL = httpserver.url_for("").rstrip("/")
    settings.NEW_RELIC_API_KEY = API_KEY
    channel._app_ids.clear()
    return FakeNewRelic(httpserver)


@pytest.fixture
def fast_retries(settings):
    settings.NOTIFIER_RETRY_BASE = 0
    settings.NOTIFIER_RETRY_MAX = 0
    return settings


@pytest.fixture
def cloudtrail(httpserver, monkeypatch):
    """A CloudTrail answering LookupEvents on a local server; boto3 reaches it through
    AWS_ENDPOINT_URL_CLOUDTRAIL (every other service stays on moto)."""
    from notifier import cloudtrail as module
    from tests.support.cloudtrail import FakeCloudTrail

    fake = FakeCloudTrail(httpserver)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", fake.url)
    module._buckets.clear()
    return fake


def pytest_collection_modifyitems(items):
    """The tests that walk the running demo (`running_demo`) go last, together, so one demo
    (started once, tests/support/demo.py) serves them all and runs alone, after the rest."""
    walking = [i for i in items if "running_demo" in getattr(i, "fixturenames", ())]
    others = [i for i in items if "running_demo" not in getattr(i, "fixturenames", ())]
    # The test that stops the demo goes after every other test that walks it, in any order
    # the files were given in.
    walking.sort(key=lambda item: item.name.startswith(STOPS_THE_DEMO))
    items[:] = others + walking


@pytest.fixture(scope="session")
def running_demo(tmp_path_factory):
    """`python -m notifier.demo` running, for the whole session: tests/support/demo.py."""
    from tests.support.demo import RunningDemo

    running = RunningDemo(tmp_path_factory.mktemp("demo"))
    yield running
    running.kill()

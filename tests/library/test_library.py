"""The engine used as a library by another Django project (tests/library/minimal_settings.py),
in a fresh interpreter: register, poll CodeDeploy on moto's server, send through a webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from werkzeug import Response

ROOT = Path(__file__).resolve().parents[2]


def test_another_django_project_registers_polls_and_sends_exactly_once(
    codedeploy, aws, httpserver, tmp_path
):
    received = []

    def webhook(request):
        received.append(json.loads(request.data))
        return Response("ok", status=200)

    httpserver.expect_request("/deploys", method="POST").respond_with_handler(webhook)
    deployment_id = codedeploy.deploy("storefront")
    codedeploy.move(deployment_id, "Succeeded")
    env = {
        **os.environ,
        **aws.env,
        "DJANGO_SETTINGS_MODULE": "tests.library.minimal_settings",
        "LIBRARY_DATABASE": str(tmp_path / "library.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.library.run_engine", httpserver.url_for("/deploys")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    # One poll cycle saw the finished deployment and sent its notification; the second
    # cycle queued nothing new; then one event went straight through the setup.
    assert result["deliveries"] == 1 and result["second_deliveries"] == 0
    assert result["direct_error"] is None and result["direct_status"] == 200
    ids = [body["deployment_id"] for body in received]
    assert sorted(ids) == sorted([deployment_id, "d-DIRECT"]), received


def test_the_minimal_project_needs_neither_the_admin_nor_the_task_queue():
    code = (
        "import django; django.setup(); import sys; import notifier.library; "
        "print(sorted(m for m in ('django.contrib.admin', 'django_q.models') if m in sys.modules))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.library.minimal_settings",
        "LIBRARY_DATABASE": ":memory:",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == "[]"


def test_a_failed_deployment_polled_through_the_library_says_where_it_broke(
    codedeploy, aws, deployment_targets, httpserver, tmp_path
):
    from tests.support.codedeploy_targets import fixture_target

    received = []

    def webhook(request):
        received.append(json.loads(request.data))
        return Response("ok", status=200)

    httpserver.expect_request("/deploys", method="POST").respond_with_handler(webhook)
    deployment_id = codedeploy.deploy("storefront")
    codedeploy.move(deployment_id, "Failed")
    deployment_targets.add(deployment_id, fixture_target(deployment_id))
    env = {
        **os.environ,
        **aws.env,
        # CodeDeploy's endpoint serves the deployment targets and forwards the rest to moto
        "AWS_ENDPOINT_URL_CODEDEPLOY": deployment_targets.endpoint,
        "DJANGO_SETTINGS_MODULE": "tests.library.minimal_settings",
        "LIBRARY_DATABASE": str(tmp_path / "library.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.library.run_engine", httpserver.url_for("/deploys")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (polled,) = [body for body in received if body["deployment_id"] == deployment_id]
    assert polled["failure"]["lifecycle_event"] == "ApplicationStart"
    assert polled["failure"]["target_id"] == "i-0a1b2c3d4e5f60718"

"""The demo launcher's refusals and environment, without starting a whole demo (the whole
demo runs in tests/e2e/test_demo.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from notifier.demo.environ import demo_environ
from notifier.demo.launcher import Demo, DemoError, arguments
from tests.support.demo import NOT_INHERITED
from tests.support.processes import ROOT


def _launch(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    return subprocess.run(
        [sys.executable, "-m", "notifier.demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_a_port_in_use_and_says_what_to_do(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _launch("--port", str(port), "--dir", str(tmp_path / "demo"))

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"--port {port}: 127.0.0.1:{port} is in use already" in done.stdout
    assert f"make demo PORT={port + 1}" in done.stdout
    assert not (tmp_path / "demo").exists()


def test_it_never_wipes_a_directory_it_did_not_make(tmp_path):
    kept = tmp_path / "notes.txt"
    kept.write_text("mine")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    done = _launch("--port", str(port), "--dir", str(tmp_path))

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"--dir {tmp_path}: it holds files a demo did not make" in done.stdout
    assert kept.read_text() == "mine"


def test_its_environment_keeps_everything_in_its_directory_and_away_from_real_aws(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-real-secret")
    monkeypatch.setenv("AUDIT_DATABASE_URL", "postgres://elsewhere/audit")
    monkeypatch.setenv("NOTIFIER_NODE_LOCK", "/var/lock/notifier.lock")
    directory = Path("/tmp/a-demo")

    env = demo_environ(
        directory=directory, host="127.0.0.1", port=8123, aws_endpoint="http://127.0.0.1:5999"
    )

    assert "AWS_PROFILE" not in env and env["AWS_SECRET_ACCESS_KEY"] != "a-real-secret"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert "AUDIT_DATABASE_URL" not in env and "NOTIFIER_NODE_LOCK" not in env
    assert env["DATABASE_URL"] == "sqlite:////tmp/a-demo/db.sqlite3"
    for name in ("NOTIFIER_VAR_DIR", "NOTIFIER_KEYS_FILE", "DJANGO_STATIC_ROOT"):
        assert env[name].startswith("/tmp/a-demo"), name
    # gunicorn's control socket follows NOTIFIER_VAR_DIR (run_service), so no override here
    assert "GUNICORN_CMD_ARGS" not in env
    inbox = "http://127.0.0.1:8123/demo/inbox"
    assert env["NEW_RELIC_API_URL"] == f"{inbox}/newrelic"
    assert env["SLACK_API_URL"] == f"{inbox}/slack/api"
    assert env["PAGERDUTY_EVENTS_URL"] == f"{inbox}/pagerduty"
    assert env["NOTIFIER_URL_ALLOWLIST"] == "127.0.0.1:8123"
    assert env["NOTIFIER_DEMO"] == "true" and env["NOTIFIER_HTTPS"] == "false"


def test_it_stops_naming_the_services_exit_code_and_last_lines_when_the_service_dies(tmp_path):
    options = arguments(["--port", "8123", "--dir", str(tmp_path / "demo")])
    demo = Demo(options, started=0.0)
    demo.directory.mkdir()
    demo.service_log.write_text("booting\nError: the cluster could not open its database\n")
    demo.service = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    demo.service.wait(timeout=30)

    with pytest.raises(DemoError) as stopped:
        demo.watch()

    said = str(stopped.value)
    assert "the service (manage.py run_service) exited with code 3" in said
    assert "Error: the cluster could not open its database" in said

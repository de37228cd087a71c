"""`make run`'s service, as `make run` starts it: `manage.py run_service` with
NOTIFIER_HTTPS=false supervises gunicorn (the web app, static files by WhiteNoise) and the
django-q2 cluster; Ctrl-C stops everything and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from notifier.management.commands.run_service import child_env
from tests.support.processes import ROOT, group_members, service_env, wait_until
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATIC_FILES = [
    "/static/admin/css/base.css",
    "/static/admin/js/core.js",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
]


@pytest.fixture
def run_service(tmp_path):
    port = free_port()
    log_path = tmp_path / "run_service.log"
    env = service_env(
        NOTIFIER_HTTPS="false",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        NOTIFIER_VAR_DIR=str(tmp_path / "var"),
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_service",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal's foreground job is
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/login/", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return process.poll() is not None and pytest.fail(log_path.read_text())

    try:
        wait_until(up, timeout=90, interval=0.3, what="run_service's web app")
        yield process, base, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_make_run_serves_pages_and_static_files_with_gunicorn_over_plain_http(run_service):
    process, base, log_path = run_service

    page = requests.get(f"{base}/login/", timeout=5, allow_redirects=False)
    assert page.status_code == 200 and "Sign in" in page.text
    assert page.headers["Server"].startswith("gunicorn"), page.headers["Server"]
    for path in STATIC_FILES:
        response = requests.get(f"{base}{path}", timeout=5)
        assert response.status_code == 200, path
        assert len(response.content) > 1000, path
    compressed = requests.get(
        f"{base}/static/admin/css/base.css", headers={"Accept-Encoding": "gzip"}, timeout=5
    )
    assert compressed.headers.get("Content-Encoding") == "gzip"


def test_gunicorns_control_socket_lives_in_the_services_var_dir_not_the_home_directory(
    run_service, tmp_path
):
    process, _base, log_path = run_service
    socket_path = tmp_path / "var" / "gunicorn.ctl"
    wait_until(socket_path.exists, timeout=30, interval=0.2, what="the control socket")
    assert socket_path.is_socket()
    assert f"Control socket listening at {socket_path}" in log_path.read_text()


def test_ctrl_c_stops_the_web_app_and_the_cluster_and_exits_0(run_service):
    process, base, log_path = run_service
    wait_until(
        lambda: len(group_members(process.pid)) >= 4,
        timeout=30,
        what="run_service, gunicorn and qcluster processes",
    )

    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert process.wait(timeout=40) == 0, log_path.read_text()
    took = time.monotonic() - started

    wait_until(lambda: not group_members(process.pid), timeout=10, what="every child to exit")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/login/", timeout=2)
    assert "stopped" in log_path.read_text()
    assert took < 20, f"stopping took {took:.1f}s"


def test_it_stops_everything_and_says_why_when_the_web_app_cannot_start(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "run_service", "--port", str(port)],
            cwd=ROOT,
            env=service_env(NOTIFIER_HTTPS="false", DJANGO_STATIC_ROOT=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=90,
            start_new_session=True,
        )
    assert result.returncode == 1
    assert "the web process exited with code 1; the service stopped" in result.stderr
    assert "stopped" in result.stdout


def child_processes(pid: int) -> dict[str, int]:
    """run_service's children by what they run: {"web": pid, "cluster": pid}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
            continue
        if b"gunicorn" in command:
            found["web"] = int(entry.name)
        elif b"qcluster" in command:
            found["cluster"] = int(entry.name)
    return found


def environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().split("=", 1) for pair in pairs if b"=" in pair)


def test_it_runs_the_web_app_and_the_cluster_with_lean_malloc_settings(run_service):
    process, base, log_path = run_service
    children = wait_until(
        lambda: (found := child_processes(process.pid)).keys() == {"web", "cluster"} and found,
        timeout=30,
        what="run_service's web and cluster processes",
    )
    for pid in children.values():
        assert environ(pid)["MALLOC_ARENA_MAX"] == "2"
        assert environ(pid)["MALLOC_MMAP_THRESHOLD_"] == "131072"


def test_an_operators_malloc_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert child_env()["MALLOC_ARENA_MAX"] == "4"
    assert child_env()["MALLOC_MMAP_THRESHOLD_"] == "65536"
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert child_env()["MALLOC_ARENA_MAX"] == "2"


def test_the_cluster_does_not_load_the_web_apps_rest_api(run_service):
    # run_service has run the system checks; the cluster skips them (they would import
    # the URLconf: every view, the REST API, drf-spectacular's schema generator), and
    # registrations.services loads the REST serializers only to write a document. The
    # sign that neither happened: DRF's optional YAML renderer's C extension, which
    # rest_framework.compat imports, is not mapped into the cluster's first process.
    process, base, log_path = run_service
    children = wait_until(
        lambda: "cluster" in (found := child_processes(process.pid)) and found,
        timeout=30,
        what="run_service's cluster process",
    )
    web, cluster = children["web"], children["cluster"]
    requests.get(f"{base}/api/docs/", timeout=10)  # the web app does load it
    web_workers = [int(p) for p in Path(f"/proc/{web}/task/{web}/children").read_text().split()]
    assert any("/yaml/_yaml" in Path(f"/proc/{pid}/maps").read_text() for pid in web_workers)
    assert "/yaml/_yaml" not in Path(f"/proc/{cluster}/maps").read_text()

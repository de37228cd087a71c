"""The whole demo (`python -m notifier.demo`) as a process, shared by the tests that walk it.

One demo per test session: tests/conftest.py moves the tests that use the `demo` fixture to
the end of the run, so one start serves the browser walk and the end-to-end checks, and its
processes are not running while the other tests are.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tests.support.processes import ROOT
from tests.support.services import free_port

START_SECONDS = 120  # to the printed password and URL (installing nothing, migrating SQLite)
# The caller's settings the demo must not inherit: the test run's keys, node lock, pace and
# settings module, and any AWS configuration (the demo makes its own).
NOT_INHERITED = ("NOTIFIER_", "AWS_", "DJANGO_", "DATABASE_URL", "EMAIL_URL", "Q_BROKER_URL")
# What the repository may gain from running Python at all (not the demo's doing).
NOT_THE_DEMOS = ("__pycache__", ".pytest_cache", ".ruff_cache")


def repository_status() -> set[str]:
    """Every untracked, changed or ignored path in the checkout (git status --ignored)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    changed = set()
    for line in out.splitlines():
        path = line[3:]
        if not path.startswith(".venv") and not any(part in path for part in NOT_THE_DEMOS):
            changed.add(line)
    return changed


class RunningDemo:
    """`python -m notifier.demo --port <free> --dir <directory>` in its own process group,
    its console read line by line (and kept in console.log beside the directory)."""

    def __init__(self, workspace: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.directory = workspace / "demo"
        self.console_path = workspace / "console.log"
        self.repository_before = repository_status()
        env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "notifier.demo", "--port", str(self.port)]
            + ["--dir", str(self.directory)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a process group, as a terminal's foreground job
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.password = ""
        self.service_pid = 0
        try:
            self._started()
        except BaseException:
            self.kill()
            raise

    def _started(self) -> None:
        self.password = self.wait_for(r"admin user: demo\s+password: (\S+)").group(1)
        self.service_pid = int(self.wait_for(r"service process (\d+) started").group(1))

    def _read(self) -> None:
        with open(self.console_path, "w") as log:
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()

    @property
    def console(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, *, timeout: float = START_SECONDS) -> re.Match:
        """The first console line matching `pattern`, waiting up to `timeout` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = regex.search(line)
                if found:
                    return found
            if self.process.poll() is not None:
                time.sleep(0.5)  # the reader's last lines
                raise AssertionError(
                    f"the demo exited ({self.process.returncode}) before printing "
                    f"{pattern!r}:\n{self.console}"
                )
            time.sleep(0.2)
        raise AssertionError(f"the demo did not print {pattern!r} in {timeout:g}s:\n{self.console}")

    def signed_in(self) -> requests.Session:
        """An HTTP session signed in as the printed admin user. A GET is tried again when the
        server closed a kept-alive connection just as it was reused (gunicorn closes idle
        ones after 2 s), as a browser does."""
        session = requests.Session()
        again = Retry(total=3, connect=3, read=3, allowed_methods=["GET"], backoff_factor=0.2)
        session.mount("http://", HTTPAdapter(max_retries=again))
        session.get(f"{self.base}/login/", timeout=10).raise_for_status()
        answer = session.post(
            f"{self.base}/login/",
            data={
                "username": "demo",
                "password": self.password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{self.base}/login/"},
            timeout=10,
        )
        assert "sessionid" in session.cookies, answer.text[:2000]
        return session

    def interrupt(self, *, timeout: float = 90) -> int:
        """Ctrl-C (SIGINT to the process group); the launcher's exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Whatever is left, at the end of the session (a test that failed half-way)."""
        for pgid in (self.process.pid, self.service_pid):
            if not pgid:
                continue
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.wait(timeout=10)

"""The demo launcher (`python -m notifier.demo`, `make demo`).

One process that (1) wipes and makes the demo directory; (2) starts the simulated AWS (moto's
server and the parts moto lacks, notifier.demo.aws) on loopback; (3) sets the environment so
everything the service writes lands in the directory and every provider it calls is the demo
inbox, sets Django up, migrates and seeds (notifier.demo.seed); (4) starts the real service,
`manage.py run_service`, as a child; (5) plays deployments (notifier.demo.scenario) and collects
email and SES into the inbox on threads; (6) on Ctrl-C or SIGTERM stops the player, the
service, the SMTP sink and moto, in that order, each wait bounded, and exits 0. If the service
dies, it stops the rest and exits 1 naming why.

Nothing is faked inside the product: the service polls, consumes its push queue, dispatches
and sends exactly as in production; only what is outside it (AWS, the providers) is simulated.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from notifier.demo import world
from notifier.demo.aws import SimulatedAws
from notifier.demo.environ import demo_environ, local_host
from notifier.keys import keys_file_create

BASE_DIR = Path(__file__).resolve().parents[2]
MARKER = ".notifier-demo"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# run_service gives its web app and cluster NOTIFIER_SEND_TIMEOUT + 20 s to stop; a margin.
SERVICE_STOP_SECONDS = 45
WEB_UP_SECONDS = 90


class DemoError(Exception):
    """Why the demo cannot start, or stopped: said to the user, exit code 1."""


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m notifier.demo",
        description="Run the whole service against a simulated AWS on loopback, with every "
        "notification landing in a built-in inbox (/demo/inbox/). Ctrl-C stops it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (8000)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=BASE_DIR / "var" / "demo",
        help="where everything the demo makes is kept; wiped at every start (var/demo)",
    )
    options = parser.parse_args(argv)
    if not 0 < options.port < 65536:
        parser.error(f"--port {options.port}: give a port number from 1 to 65535")
    return options


def port_check(host: str, port: int) -> None:
    """Refuse, in words, a port something else listens on already."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"--port {port}: {host}:{port} is in use already ({exc.strerror}); stop what "
                f"uses it (a `make run`?) or choose another port: make demo PORT={port + 1}"
            ) from None


def directory_prepare(directory: Path) -> bool:
    """Make `directory` empty, with the demo's marker in it; True when an earlier demo's
    directory was wiped. A directory with other things in it and no marker is refused."""
    wiped = False
    if directory.exists():
        if not directory.is_dir():
            raise DemoError(f"--dir {directory}: it is a file; give a directory")
        if any(directory.iterdir()) and not (directory / MARKER).exists():
            raise DemoError(
                f"--dir {directory}: it holds files a demo did not make (no {MARKER} in it); "
                "give an empty or new directory"
            )
        shutil.rmtree(directory)
        wiped = True
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("Made by python -m notifier.demo; wiped by the next demo.\n")
    return wiped


def _raise_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


class Demo:
    """The demo's parts, started in order by start() and stopped in reverse by stop()."""

    def __init__(self, options: argparse.Namespace, started: float) -> None:
        self.options = options
        self.started = started
        self.directory: Path = options.dir.resolve()
        self.base = f"http://{local_host(options.host)}:{options.port}"
        self.aws: SimulatedAws | None = None
        self.smtp = None
        self.player = None
        self.collector = None
        self.progress = None
        self.service: subprocess.Popen | None = None
        self.service_log = self.directory / "service.log"
        self.password = ""
        self.web_up = 0.0

    # --- starting ---------------------------------------------------------------------------

    def start(self) -> None:
        port_check(self.options.host, self.options.port)
        if directory_prepare(self.directory):
            say(f"wiped {self.directory} (moto keeps AWS in memory: an old database won't match)")
        say(f"everything it makes goes to {self.directory}")
        if self.options.host not in LOOPBACK:
            say(
                f"--host {self.options.host}: other machines can reach this demo, and its "
                "inbox takes messages from anyone who can (it is a demo, not a service)"
            )
        self.aws = SimulatedAws()
        self.aws.start()
        say(f"simulated AWS (moto and what it lacks) up at {self.aws.endpoint}")
        os.environ.clear()
        os.environ.update(
            demo_environ(
                directory=self.directory,
                host=self.options.host,
                port=self.options.port,
                aws_endpoint=self.aws.endpoint,
            )
        )
        keys_file_create(path=self.directory / "keys.env")
        self._django_start()
        self._service_start()
        self._play()

    def _django_start(self) -> None:
        import django

        django.setup()
        # Django's apps are ready only now: these import models.
        from notifier.demo.collect import SmtpInbox
        from notifier.demo.seed import database_prepare, demo_seed

        database_prepare()
        say(f"database ready: {self.directory / 'db.sqlite3'}")
        world.world_create(self.aws)
        say(
            f"AWS world made: {len(world.SOURCES)} accounts and regions, "
            f"{len(world.APPLICATIONS)} CodeDeploy applications"
        )
        self.password = secrets.token_urlsafe(12)
        report = demo_seed(aws=self.aws, base_url=self.base, password=self.password)
        for line in report.lines():
            say(line)
        self.smtp = SmtpInbox()
        self.smtp.start()
        os.environ["EMAIL_URL"] = self.smtp.url
        say(f"SMTP sink up at 127.0.0.1:{self.smtp.port} (email lands in the inbox)")

    def _service_start(self) -> None:
        say(f"service starting: manage.py run_service (its log: {self.service_log})")
        with open(self.service_log, "ab") as log:
            self.service = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "run_service",
                    "--host",
                    self.options.host,
                    "--port",
                    str(self.options.port),
                ],
                cwd=BASE_DIR,
                env=dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # stopped by this launcher, its workers with it
            )
        say(f"service process {self.service.pid} started")
        deadline = time.monotonic() + WEB_UP_SECONDS
        while time.monotonic() < deadline:
            self._service_check()
            try:
                if requests.get(f"{self.base}/login/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        else:
            raise DemoError(f"the web app did not answer within {WEB_UP_SECONDS} s; see its log")
        self.web_up = time.monotonic() - self.started
        say(f"web app up at {self.base}/ after {self.web_up:.1f} s")

    def _play(self) -> None:
        from notifier.demo.collect import collect_ses
        from notifier.demo.progress import Progress, SesCollector
        from notifier.demo.scenario import Player

        self.player = Player(self.aws)
        self.player.start()
        places = [(where.account, where.region) for where in world.SOURCES]
        self.collector = SesCollector(collect=collect_ses, places=places)
        self.collector.start()
        self.progress = Progress(started=self.started, directory=self.directory, web_up=self.web_up)
        self.progress.start()
        say("deployments playing: every path, every few seconds")
        banner = [
            "",
            "=" * 72,
            f"  CodeDeploy Notifier demo: {self.base}/",
            f"  the inbox (every notification sent): {self.base}/demo/inbox/",
            f"  admin user: demo  password: {self.password}",
            f"  Ctrl-C stops everything; all of it lives in {self.directory}/",
            "=" * 72,
            "",
        ]
        print("\n".join(banner), flush=True)

    # --- running and stopping -----------------------------------------------------------------

    def _service_check(self) -> None:
        if self.service is not None and self.service.poll() is not None:
            tail = self.service_log.read_text(errors="replace").splitlines()[-15:]
            raise DemoError(
                f"the service (manage.py run_service) exited with code "
                f"{self.service.returncode}; the last lines of {self.service_log}:\n  "
                + "\n  ".join(tail)
            )

    def watch(self) -> None:
        """Until interrupted: raise DemoError if the service dies."""
        while True:
            self._service_check()
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every part started, newest first; each wait is bounded."""
        for part in (self.progress, self.player, self.collector):
            if part is not None:
                part.stop()
        if self.service is not None and self.service.poll() is None:
            say("stopping the service (it finishes the sends in flight)")
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(timeout=SERVICE_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                say(f"the service did not stop within {SERVICE_STOP_SECONDS} s; killing it")
        if self.service is not None:
            try:  # its web app and cluster too, should any outlive it
                os.killpg(self.service.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.service.wait(timeout=10)
        if self.smtp is not None:
            self.smtp.stop()
        if self.aws is not None:
            self.aws.stop()


def main(argv: list[str]) -> int:
    started = time.monotonic()
    options = arguments(argv)
    # Ctrl-C and SIGTERM stop it, also where SIGINT was ignored when it started (a shell's
    # background job, nohup): Python then leaves it ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    demo = Demo(options, started)
    code = 0
    try:
        demo.start()
        demo.watch()
    except KeyboardInterrupt:
        print(flush=True)
        say("stopping")
    except DemoError as exc:
        say(f"stopping: {exc}")
        code = 1
    finally:
        # A second Ctrl-C must not cut the stop short: every wait in it is bounded.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
    say(f"stopped; what it made stays in {demo.directory} until the next demo")
    return code

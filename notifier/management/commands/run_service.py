from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# The production web server, as README.md's "Running in production" documents it: one
# process with threads keeps one SQLite file's writers in one place and uses about 60 MB.
STOP_MARGIN_SECONDS = 20
GUNICORN_OPTIONS = ["--workers", "1", "--threads", "8", "--graceful-timeout", "10"]


def stop_wait_seconds() -> float:
    """How long a stopping service waits for its processes before killing them: the cluster
    first finishes the sends in flight (notifier.loop), each bounded by NOTIFIER_SEND_TIMEOUT,
    so longer than one send, with a margin for recording them and the cluster's own stop."""
    return settings.NOTIFIER_SEND_TIMEOUT + STOP_MARGIN_SECONDS


def child_env() -> dict[str, str]:
    """The web app's and the cluster's environment: run_service's own, plus two glibc
    malloc settings (an operator's values win). MALLOC_ARENA_MAX=2: glibc gives each thread
    that allocates at once an arena of its own, up to 8 per core, and keeps their freed
    pages; gunicorn's 8 threads and the cluster's threads need no more than two.
    MALLOC_MMAP_THRESHOLD_=131072: blocks of 128 KiB or more (botocore's parsed models,
    response bodies) are mapped on their own and given back when freed, instead of glibc
    raising the threshold after the first such free and keeping them in the heap
    (mallopt(3), M_MMAP_THRESHOLD). docs/performance.md, "Memory"."""
    return {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072", **os.environ}


def gunicorn_command(*, host: str, port: str) -> list[str]:
    """gunicorn (27 and newer) opens a control socket, in ~/.gunicorn/ unless told: it goes
    beside the service's other runtime files in NOTIFIER_VAR_DIR."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "notifier.wsgi",
        "--bind",
        f"{host}:{port}",
        *GUNICORN_OPTIONS,
        "--control-socket",
        str(settings.VAR_DIR / "gunicorn.ctl"),
        "--access-logfile",
        "-",
    ]


def cluster_command() -> list[str]:
    """The django-q2 cluster, without the system checks run_service has just run. Checks
    import the URLconf (every view, the REST API, the schema generator) into the cluster's
    first process, which all the others are forked from, and the cluster needs none of it.
    docs/performance.md, "Memory"."""
    return [sys.executable, "manage.py", "qcluster", "--skip-checks"]


class Command(BaseCommand):
    help = (
        "Run the whole service in the foreground: the web app (gunicorn, static files by "
        "WhiteNoise) and the django-q2 cluster (scheduler and workers). Ctrl-C stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host: str, port: str, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        processes = {
            "web": subprocess.Popen(gunicorn_command(host=host, port=port), env=child_env()),
            "cluster": subprocess.Popen(cluster_command(), env=child_env()),
        }
        self.stdout.write(
            f"CodeDeploy Notifier is running: http://{host}:{port}/ "
            "(admin at /admin/, API docs at /api/docs/). Ctrl-C stops it.",
        )
        self.stdout.flush()
        stopping = False
        crashed = ""

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None and not stopping:
                        crashed = (
                            f"the {name} process exited with code {process.returncode}; "
                            "the service stopped"
                        )
                        stopping = True
                time.sleep(0.2)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + stop_wait_seconds()
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.stdout.write("stopped")
        if crashed:
            raise CommandError(crashed)

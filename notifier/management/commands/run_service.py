from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run the whole service in the foreground: the web app and the django-q2 cluster "
        "(scheduler and workers). Ctrl-C stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host: str, port: str, **options):
        manage = [sys.executable, "manage.py"]
        processes = {
            "web": subprocess.Popen(
                [*manage, "runserver", "--noreload", "--insecure", f"{host}:{port}"]
            ),
            "cluster": subprocess.Popen([*manage, "qcluster"]),
        }
        self.stdout.write(
            f"CodeDeploy Notifier is running: http://{host}:{port}/ "
            "(admin at /admin/, API docs at /api/docs/). Ctrl-C stops it."
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(
                            f"the {name} process exited with code "
                            f"{process.returncode}; stopping the service"
                        )
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM if os.name == "posix" else signal.SIGINT)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("stopped")

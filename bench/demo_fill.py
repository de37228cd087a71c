"""How fast `make demo` fills up, and how fast Ctrl-C stops it (docs/performance.md,
"make demo").

Starts `python -m notifier.demo` --runs times (a free port, a throwaway directory), waits for
it to say "demo is full", reads the times it measured itself (<dir>/timings.json: seconds
from the launcher's start to the first notification in the inbox and to every path
delivered), then sends SIGINT and times the stop.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL_WITHIN = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_run(directory: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NOTIFIER_"))}
    log_path = directory.parent / "console.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier.demo", "--port", str(free_port())]
            + ["--dir", str(directory)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + FULL_WITHIN
    try:
        while "demo is full" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the demo did not fill up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        timings = json.loads((directory / "timings.json").read_text())
    finally:
        stopping = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=90)
        timings["stop_seconds"] = time.monotonic() - stopping
    if code != 0:
        raise SystemExit(f"the demo exited {code} on SIGINT:\n{log_path.read_text()[-3000:]}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    options, _others = parser.parse_known_args()
    runs = []
    for number in range(1, options.runs + 1):
        with tempfile.TemporaryDirectory(prefix="demo-fill-") as workspace:
            timings = one_run(Path(workspace) / "demo")
        runs.append(timings)
        print(
            f"run {number}: web app up {timings['web_up_seconds']:.1f} s, "
            f"first notification {timings['first_notification_seconds']:.1f} s, "
            f"every path {timings['every_path_seconds']:.1f} s, "
            f"stopped in {timings['stop_seconds']:.1f} s",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for key, label in (
        ("web_up_seconds", "web app up (migrated, seeded, service started)"),
        ("first_notification_seconds", "first notification in the inbox"),
        ("every_path_seconds", "every path delivered"),
        ("stop_seconds", "Ctrl-C to exit 0"),
    ):
        values = [run[key] for run in runs]
        print(
            f"{label}: median {statistics.median(values):.1f} s "
            f"(min {min(values):.1f}, max {max(values):.1f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

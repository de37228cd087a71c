"""`make bench`: run every benchmark in turn. Each prints its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "latency.py",
    "poll_cost.py",
    "history.py",
    "channel_cost.py",
    "registrations_apply.py",
    "who_deployed.py",
    "failure_point.py",
    "token_auth.py",
]


def main() -> int:
    failed = []
    for name in BENCHES:
        path = HERE / name
        if not path.exists():
            continue
        print(f"\n=== bench/{name} ===", flush=True)
        if subprocess.call([sys.executable, str(path), *sys.argv[1:]], cwd=HERE.parent):
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: run every benchmark in turn. Each prints its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (script, its own arguments); the caller's arguments are passed to every run as well.
BENCHES = [
    ("latency.py", []),
    ("latency.py", ["--mode", "push", "--storage", "orm"]),
    ("poll_cost.py", []),
    ("poll_cost.py", ["--push"]),
    ("history.py", []),
    ("channel_cost.py", []),
    ("registrations_apply.py", []),
    ("who_deployed.py", []),
    ("failure_point.py", []),
    ("token_auth.py", []),
    ("demo_fill.py", []),
]


def main() -> int:
    failed = []
    for name, arguments in BENCHES:
        path = HERE / name
        if not path.exists():
            continue
        title = " ".join([f"bench/{name}", *arguments])
        print(f"\n=== {title} ===", flush=True)
        if subprocess.call([sys.executable, str(path), *arguments, *sys.argv[1:]], cwd=HERE.parent):
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

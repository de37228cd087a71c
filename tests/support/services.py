"""Real parts for tests, and what to do when one is missing.

On a laptop without Postgres, Redis or Chromium the tests that need them skip with a reason
that says how to get the part; under CI (CI=true) a missing part is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

POSTGRES_HOW = (
    "start PostgreSQL on 127.0.0.1:5432 with trust auth and a database 'test' "
    "(Debian: apt-get install postgresql; pg_ctlcluster 15 main start)"
)
REDIS_HOW = "start Redis on 127.0.0.1:6379 (Debian: apt-get install redis-server)"
CHROMIUM_HOW = "install Chromium at /usr/bin/chromium (Debian: apt-get install chromium)"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def missing(part: str, how: str) -> None:
    """Skip (laptop) or fail (CI) because `part` is not available."""
    message = f"{part} is not available: {how}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: .ci/run must provide it)")
    pytest.skip(message)


def require_postgres() -> None:
    if not port_open("127.0.0.1", 5432):
        missing("PostgreSQL", POSTGRES_HOW)


def require_redis() -> None:
    if not port_open("127.0.0.1", 6379):
        missing("Redis", REDIS_HOW)


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        missing("Chromium", CHROMIUM_HOW)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

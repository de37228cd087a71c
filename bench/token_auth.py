"""Cost of API token authentication: looking a token up by its hash, the once-a-minute last
use write, DRF's plain-text lookup for comparison, and a whole authenticated API request.

Uses its own SQLite file in a temporary directory (migrated, then deleted), or DATABASE_URL
when --database-url names an empty database you made for it.

    .venv/bin/python bench/token_auth.py [--rounds 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")
os.environ.setdefault("NOTIFIER_HTTPS", "false")  # the test client speaks plain HTTP


def timed(fn, rounds: int) -> tuple[float, float]:
    """Median and 95th percentile of one call, in microseconds."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def run(rounds: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from registrations.tokens import ApiToken, token_authenticate, token_create

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    account = User.objects.create_user("bench-automation", is_staff=True)
    for number in range(19):  # a user with many tokens: the lookup is by hash, not by user
        token_create(user=account, name=f"job {number}")
    _, secret = token_create(user=account, name="bench")
    drf_key = Token.objects.create(user=User.objects.create_user("bench-drf")).key
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"{'per call':<44} {'median µs':>10} {'p95 µs':>10}")

    def stale_then_authenticate():
        ApiToken.objects.filter(name="bench").update(last_used_at=None)
        token_authenticate(key=secret)

    def drf_token(key: str):  # as rest_framework.authentication.TokenAuthentication looks it up
        return Token.objects.select_related("user").get(key=key)

    api = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    cases = [
        ("token by hash, last use fresh (no write)", lambda: token_authenticate(key=secret)),
        ("token by hash, last use written", stale_then_authenticate),
        ("DRF plain-text lookup (for comparison)", lambda: drf_token(drf_key)),
        ("GET /api/registrations/ with a token", lambda: api.get("/api/registrations/")),
    ]
    token_authenticate(key=secret)
    status = api.get("/api/registrations/").status_code
    assert status == 200, f"the API answered {status}"
    for name, fn in cases:
        median, p95 = timed(fn, rounds if "GET" not in name else max(50, rounds // 10))
        print(f"{name:<44} {median:>10.0f} {p95:>10.0f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--database-url")
    arguments, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as directory:
        os.environ["DATABASE_URL"] = arguments.database_url or (
            f"sqlite:///{Path(directory) / 'token_auth.sqlite3'}"
        )
        run(arguments.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

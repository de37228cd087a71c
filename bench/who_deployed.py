"""Cost of knowing who deployed: LookupEvents calls and seconds for a window of N deployments
(against a local CloudTrail speaking the real protocol, at CloudTrail's 2 calls a second), and
the time to turn one principal into a Deployer with R People rules (SQLite, a fresh file).

    .venv/bin/python bench/who_deployed.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")
_db = Path(tempfile.mkdtemp()) / "who_deployed.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{_db}"
for name, value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(name, value)

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
from django.core.management import call_command  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402

from notifier.cloudtrail import (  # noqa: E402
    CLIENT_CONFIG,
    TokenBucket,
    cloudtrail_principal,
    lookup_principals,
)
from notifier.events import DeploymentEvent, Event  # noqa: E402
from registrations.deployers import deployer_for  # noqa: E402
from registrations.people import Person, PersonRule  # noqa: E402
from tests.support.cloudtrail import (  # noqa: E402
    FakeCloudTrail,
    assumed_role,
    create_deployment_record,
    iam_user,
)


def lookups(server: HTTPServer) -> None:
    print(f"{'deployments in the window':<28} {'LookupEvents calls':>18} {'seconds':>8}")
    for count in (10, 100, 400):
        server.clear()
        fake = FakeCloudTrail(server)
        now = datetime.now(UTC)
        for number in range(count):
            fake.add(create_deployment_record(f"d-{number:09d}", identity=iam_user("ana")))
        client = boto3.client("cloudtrail", endpoint_url=fake.url, config=CLIENT_CONFIG)
        began = time.monotonic()
        found, calls = lookup_principals(
            client,
            start=now - timedelta(minutes=5),
            end=now + timedelta(minutes=1),
            bucket=TokenBucket(),
        )
        seconds = time.monotonic() - began
        assert len(found) == count and fake.throttled == 0
        print(f"{count:<28} {calls:>18} {seconds:>8.2f}")


def matching(rounds: int) -> None:
    event = DeploymentEvent(
        deployment_id="d-AAAAAAAAA",
        application="storefront",
        deployment_group="production",
        status="Succeeded",
        event=Event.SUCCEEDED,
        creator="user",
    )
    principal = cloudtrail_principal(
        create_deployment_record("d-AAAAAAAAA", identity=assumed_role("ci", "i-0abc"))
    )[1]
    print(f"\n{'People rules (none match)':<28} {'median µs':>18} {'p95 µs':>8}")
    for rules in (0, 20, 200):
        PersonRule.objects.all().delete()
        Person.objects.all().delete()
        for number in range(rules):
            person = Person.objects.create(name=f"P{number}", email=f"p{number}@example.com")
            PersonRule.objects.create(person=person, kind="iam_user", pattern=f"user-{number}*")
        samples = []
        for _ in range(rounds):
            began = time.perf_counter()
            deployer_for(event, principal)
            samples.append((time.perf_counter() - began) * 1e6)
        samples.sort()
        median, p95 = statistics.median(samples), samples[int(len(samples) * 0.95) - 1]
        print(f"{rules:<28} {median:>18.0f} {p95:>8.0f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    call_command("migrate", verbosity=0)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with HTTPServer(host="127.0.0.1", port=0, threaded=True) as server:
        lookups(server)
    matching(rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of saying where a failed deployment broke: the CodeDeploy calls and their time against
a local server speaking CodeDeploy's deployment-target protocol (1 and 200 failed targets,
and an AccessDenied answer), redacting and cutting a log tail, and building chat and email
messages with and without a failure point.

    .venv/bin/python bench/failure_point.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)

import logging  # noqa: E402

import boto3  # noqa: E402
import django  # noqa: E402

django.setup()

from channels import email, messages, slack, teams  # noqa: E402
from notifier import codedeploy, log_tail, targets  # noqa: E402
from tests.support.codedeploy_targets import FakeDeploymentTargets, fixture_target  # noqa: E402


def timed(fn, rounds: int) -> tuple[float, float]:
    """Median and 95th percentile of one call, in microseconds."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    logging.getLogger("notifier.targets").setLevel(logging.ERROR)  # AccessDenied, each round
    fake = FakeDeploymentTargets()
    fake.add("d-ONE", fixture_target("d-ONE"))
    for n in range(200):
        fake.add("d-MANY", fixture_target("d-MANY", target_id=f"i-{n:017x}"))
    counter = codedeploy.CallCounter()
    client = boto3.client("codedeploy", endpoint_url=fake.endpoint, config=targets.TARGETS_CONFIG)
    client.meta.events.register("before-call.codedeploy", counter)
    print(f"{'finding the failure point':<40} {'calls':>6} {'median µs':>10} {'p95 µs':>10}")
    failed = messages.sample_event("failed")
    for name, deployment_id, failing in [
        ("1 failed target", "d-ONE", None),
        ("200 failed targets", "d-MANY", None),
        ("AccessDenied", "d-ONE", (400, "AccessDeniedException", "denied")),
    ]:
        fake.fail_with = failing
        counter.reset()
        event = replace(failed, deployment_id=deployment_id, failure=None)
        targets.with_failure_point(client, event)
        calls = counter.total
        median, p95 = timed(lambda e=event: targets.with_failure_point(client, e), rounds)
        print(f"{name:<40} {calls:>6} {median:>10.0f} {p95:>10.0f}")
    fake.stop()

    noisy = "\n".join(
        f"[stdout]step {n}: DB_PASSWORD=hunter{n} AKIAIOSFODNN7EXAMPLE ok" for n in range(80)
    )
    median, p95 = timed(lambda: log_tail.fit(noisy), rounds * 5)
    print(f"\n{'redact and cut a 4 KiB log tail':<40} {'':>6} {median:>10.0f} {p95:>10.0f}")

    plain = replace(failed, failure=None)
    print(f"\n{'building one message':<40} {'no failure':>10} {'failure':>10}  (median µs)")
    for name, build in [
        ("slack", lambda e: slack.message_payload(e, slack.SlackSetup())),
        ("teams", lambda e: teams.card(e, teams.TeamsSetup())),
        (
            "email (text + HTML)",
            lambda e: email.build_message(
                e, email.EmailSetup(), recipients=["a@example.com"], from_email="d@example.com"
            ),
        ),
    ]:
        without, _ = timed(lambda b=build: b(plain), rounds * 5)
        with_failure, _ = timed(lambda b=build: b(failed), rounds * 5)
        print(f"{name:<40} {without:>10.0f} {with_failure:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of the channel layer per notification: rendering and building each kind's request,
encrypting and decrypting a secret, checking a template override, and one signed webhook
sent to a local HTTP server (with its address check).

    .venv/bin/python bench/channel_cost.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402

from channels import (  # noqa: E402
    email,
    messages,
    newrelic,
    pagerduty,
    secrets,
    ses,
    slack,
    sns,
    teams,
    webhook,
)


def timed(fn, rounds: int) -> tuple[float, float]:
    """Median and 95th percentile of one call, in microseconds."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    event = messages.sample_event("failed")
    builds = {
        "newrelic (REST body)": lambda: newrelic.marker_body(event, newrelic.NewRelicSetup()),
        "newrelic (NerdGraph)": lambda: newrelic.change_tracking_request(
            event, newrelic.NewRelicSetup(entity_guid="MXxBUE18QVBQTElDQVRJT058MTIz")
        ),
        "email (text + HTML)": lambda: email.build_message(
            event, email.EmailSetup(), recipients=["a@example.com"], from_email="d@example.com"
        ),
        "ses (text + HTML)": lambda: ses.email_request(
            event, ses.SesSetup(from_address="d@example.com", recipients="a@example.com")
        ),
        "sns (JSON + attributes)": lambda: sns.publish_request(
            event, sns.SnsSetup(), arn="arn:aws:sns:us-east-1:123456789012:t"
        ),
        "slack (mrkdwn)": lambda: slack.message_payload(event, slack.SlackSetup()),
        "teams (Adaptive Card)": lambda: teams.card(event, teams.TeamsSetup()),
        "pagerduty (change event)": lambda: pagerduty.change_event(
            event, pagerduty.PagerDutySetup(routing_key="R" * 32)
        ),
        "webhook (JSON + HMAC)": lambda: webhook.build_request(
            event, webhook.WebhookSetup(url="https://x", secret="s" * 32)
        ),
    }
    print(f"{'building one request':<34} {'median µs':>10} {'p95 µs':>10}")
    for name, fn in builds.items():
        median, p95 = timed(fn, rounds)
        print(f"{name:<34} {median:>10.0f} {p95:>10.0f}")

    token = secrets.encrypt("https://hooks.slack.com/services/T000/B000/" + "x" * 24)
    print()
    for name, fn, n in [
        ("encrypt a secret", lambda: secrets.encrypt("xoxb-" + "x" * 40), rounds),
        ("decrypt a secret", lambda: secrets.decrypt(token), rounds),
        (
            "validate a template override",
            lambda: messages.template_problems(
                kind="slack", body="{{ event.application }} {% if is_failure %}!{% endif %}"
            ),
            max(50, rounds // 20),
        ),
    ]:
        median, p95 = timed(fn, n)
        print(f"{name:<34} {median:>10.0f} {p95:>10.0f}")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with HTTPServer(host="127.0.0.1", port=0) as server:
        server.expect_request("/hook").respond_with_data("ok")
        settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1"]
        setup = webhook.WebhookSetup(url=server.url_for("/hook"), secret="s" * 32)
        median, p95 = timed(lambda: webhook.send(event, setup), max(50, rounds // 10))
        print(f"{'signed webhook to a local server':<34} {median:>10.0f} {p95:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

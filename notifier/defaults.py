"""The engine's settings and their defaults, for a project that uses it as a library
(notifier/library.py). Plain values only: a settings module can import this."""

from __future__ import annotations

from typing import Any

# Every setting the engine reads, with the value notifier/settings.py gives it when its
# environment variable is unset. A project copies those it needs (all of them, unless it
# knows better) into its own settings module.
ENGINE_SETTINGS: dict[str, Any] = {
    "NOTIFIER_STORAGE": "orm",  # or "dynamodb"
    "NOTIFIER_DYNAMODB_TABLE_PREFIX": "codedeploy-notifier-",
    "NOTIFIER_DYNAMODB_TTL_DAYS": 180,
    "NOTIFIER_POLL_INTERVAL": 2.0,  # a busy source's
    "NOTIFIER_IDLE_POLL_INTERVAL": 15.0,
    "NOTIFIER_BUSY_WINDOW": 600,
    "NOTIFIER_POLL_THREADS": 4,
    "NOTIFIER_PUSH_WAIT_SECONDS": 20,  # SQS long-poll wait of a push queue
    "NOTIFIER_RECONCILE_INTERVAL": 60,  # polling of a source that has a push queue
    "NOTIFIER_POLL_LOOKBACK": 600,
    "NOTIFIER_POLL_OVERLAP": 60,
    "NOTIFIER_POLL_MODE": "account",
    "NOTIFIER_UNHEALTHY_AFTER": 10.0,  # 5 poll intervals, at least 10 s
    "NOTIFIER_LOOP_SECONDS": 90,
    "NOTIFIER_NODE_LOCK": "",  # the service loop's node lock file; empty: in the temp dir
    "NOTIFIER_SEND_TIMEOUT": 10,
    "NOTIFIER_SEND_THREADS": 8,
    "NOTIFIER_MAX_ATTEMPTS": 6,
    "NOTIFIER_RETRY_BASE": 2,
    "NOTIFIER_RETRY_MAX": 300,
    "NOTIFIER_CLAIM_LEASE": 30,
    "NOTIFIER_DEPLOYER_WAIT": 120,
    "NOTIFIER_DEPLOYER_LOOKUP_FOR": 1800,
    "NOTIFIER_DEPLOYER_LOOKUP_EVERY": 15,
    "NOTIFIER_TEMPLATE_TIME_LIMIT_MS": 50,
    "NOTIFIER_TEMPLATE_MAX_BYTES": 64 * 1024,
    "NOTIFIER_ENCRYPTION_KEY": "",  # Fernet keys, comma-separated, newest first
    "NOTIFIER_URL_ALLOWLIST": [],  # hosts allowed although private (e.g. 127.0.0.1)
    "NOTIFIER_FROM_EMAIL": "codedeploy-notifier@localhost",
    "NOTIFIER_MAX_SETUPS_PER_REGISTRATION": 20,
    "NOTIFIER_MAX_RECIPIENTS": 50,
    "NOTIFIER_SES_FROM_ALLOWED": [],  # empty: NOTIFIER_FROM_EMAIL only
    "NOTIFIER_SNS_TOPIC_ALLOWED": [],  # empty: the service's own account's topics
    "NEW_RELIC_API_KEY": "",
    "NEW_RELIC_API_URL": "https://api.newrelic.com",
    "NEW_RELIC_NERDGRAPH_URL": "https://api.newrelic.com/graphql",
    "SLACK_API_URL": "https://slack.com/api",
    "PAGERDUTY_EVENTS_URL": "https://events.pagerduty.com",
    "EMAIL_URL": "",
}

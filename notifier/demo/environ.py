"""The demo's environment: what the launcher's Django and the service it starts read.

Everything the service writes lands in the demo's directory (database, keys, static files,
node lock, gunicorn's control socket); every provider it calls is the demo inbox on its own
address, the only one its setups may call; AWS is the simulated one, never the caller's.
"""

from __future__ import annotations

import os
from pathlib import Path

from notifier.demo import world
from notifier.demo.aws import CREDENTIALS

# Variables of the caller's environment the demo must not inherit: real AWS credentials and
# profiles (the demo never reaches AWS), another database, broker, mirror or node lock.
DROPPED = ("AUDIT_DATABASE_URL", "Q_BROKER_URL", "NOTIFIER_NODE_LOCK", "NOTIFIER_STORAGE")
# The demo's pace, where the caller has not chosen one: quiet sources polled often, who
# deployed looked up often, short long-polls so Ctrl-C is quick.
PACE = {
    "NOTIFIER_POLL_INTERVAL": "1",
    "NOTIFIER_IDLE_POLL_INTERVAL": "2",
    "NOTIFIER_RECONCILE_INTERVAL": "15",
    "NOTIFIER_PUSH_WAIT_SECONDS": "2",
    "NOTIFIER_DEPLOYER_WAIT": "20",
    "NOTIFIER_DEPLOYER_LOOKUP_EVERY": "2",
    "NOTIFIER_LOOP_SECONDS": "60",
}


def local_host(host: str) -> str:
    """The address the service reaches itself at (the inbox) when serving on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def demo_environ(*, directory: Path, host: str, port: int, aws_endpoint: str) -> dict[str, str]:
    """The environment of the demo's Django (this process) and of the service (the child)."""
    base = f"http://{local_host(host)}:{port}"
    inbox = f"{base}/demo/inbox"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in DROPPED:
        environ.pop(name, None)
    for name, value in PACE.items():
        environ.setdefault(name, value)
    hosts = {"127.0.0.1", "localhost", local_host(host)}
    region = world.source("default").region
    environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "notifier.settings",
            "DJANGO_ALLOWED_HOSTS": ",".join(sorted(hosts)),
            "PYTHONUNBUFFERED": "1",
            "NOTIFIER_DEMO": "true",
            "NOTIFIER_VAR_DIR": str(directory),
            "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
            "NOTIFIER_KEYS_FILE": str(directory / "keys.env"),
            "DJANGO_STATIC_ROOT": str(directory / "static"),
            "NOTIFIER_HTTPS": "false",
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": CREDENTIALS["aws_session_token"],
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "NEW_RELIC_API_KEY": "demo",
            "NEW_RELIC_API_URL": f"{inbox}/newrelic",
            "NEW_RELIC_NERDGRAPH_URL": f"{inbox}/newrelic/graphql",
            "SLACK_API_URL": f"{inbox}/slack/api",
            "PAGERDUTY_EVENTS_URL": f"{inbox}/pagerduty",
            "NOTIFIER_URL_ALLOWLIST": f"{local_host(host)}:{port}",
            "NOTIFIER_SNS_TOPIC_ALLOWED": ",".join(world.topic_arn(s.name) for s in world.SOURCES),
            "NOTIFIER_SES_FROM_ALLOWED": world.DEMO_SENDER,
            "NOTIFIER_FROM_EMAIL": world.DEMO_SENDER,
        }
    )
    return environ

"""The test run's settings: the service's own, with a key pair made for this run, and the
laptop's plain HTTP (`make run` sets NOTIFIER_HTTPS=false too; the production settings are
checked in tests/notifier/test_deploy_settings.py).

The keys go into os.environ before notifier.settings loads, so the processes the end-to-end
tests start (`manage.py qcluster`, the web app) inherit the same pair and NOTIFIER_HTTPS.
Keys already in the environment are kept. Nothing here is a key: they are generated at every
start.
"""

from __future__ import annotations

import os
import tempfile

from notifier.keys import KEY_NAMES, keys_generate

for _name, _value in keys_generate().items():
    if _name in KEY_NAMES and not os.environ.get(_name):
        os.environ[_name] = _value

os.environ.setdefault("NOTIFIER_HTTPS", "false")
# This run's own node lock (its service processes inherit it), so a `make run` in the same
# checkout is another node, not a loop the tests' loops would wait for.
os.environ.setdefault(
    "NOTIFIER_NODE_LOCK",
    os.path.join(tempfile.gettempdir(), f"codedeploy-notifier-test-{os.getpid()}.lock"),
)

# Service processes poll idle sources as often as busy ones, unless a test says otherwise
# (adaptive polling has its own tests: tests/notifier/test_loop_sources.py).
os.environ.setdefault("NOTIFIER_IDLE_POLL_INTERVAL", "0.1")
# Push queues: short long-polls, so a stopping consumer ends quickly.
os.environ.setdefault("NOTIFIER_PUSH_WAIT_SECONDS", "1")
os.environ.setdefault("NOTIFIER_RECONCILE_INTERVAL", "0.5")

from notifier.settings import *  # noqa: E402, F403

# The demo inbox's models and migrations are tested (and seen by makemigrations --check);
# NOTIFIER_DEMO stays false, so its pages answer 404 unless a test overrides it.
if "notifier.demo.apps.DemoConfig" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "notifier.demo.apps.DemoConfig"]  # noqa: F405

# Emails to the person who deployed wait for CloudTrail; tests that are not about that wait
# send at once (tests/notifier/test_deployer_wait.py sets its own).
NOTIFIER_DEPLOYER_WAIT = float(os.environ.get("NOTIFIER_DEPLOYER_WAIT", "0"))

"""notifier.defaults.ENGINE_SETTINGS, what a project using the engine as a library copies,
must say what the service's own settings say: the same names with the same defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from notifier.defaults import ENGINE_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
# Values the service derives at start-up rather than taking as a constant.
DERIVED = {"NOTIFIER_ENCRYPTION_KEY", "NOTIFIER_NODE_LOCK"}


def service_defaults() -> dict:
    """notifier.settings loaded in a fresh interpreter with no NOTIFIER_*, provider or EMAIL
    variable set (keys given, since the service refuses to start without them)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("NOTIFIER_", "NEW_RELIC_", "SLACK_", "PAGERDUTY_", "EMAIL_"))
    }
    env["NOTIFIER_ENCRYPTION_KEY"] = os.environ["NOTIFIER_ENCRYPTION_KEY"]
    code = (
        "import json, notifier.settings as s; from notifier.defaults import ENGINE_SETTINGS; "
        "print(json.dumps({k: getattr(s, k, '<missing>') for k in ENGINE_SETTINGS}, default=str))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_engines_defaults_are_the_services_defaults():
    service = service_defaults()
    differ = {
        name: (value, service[name])
        for name, value in ENGINE_SETTINGS.items()
        if name not in DERIVED and service[name] != value
    }
    assert not differ, f"ENGINE_SETTINGS (left) disagrees with notifier.settings: {differ}"


def test_every_engine_setting_the_service_has_is_listed():
    import notifier.settings as service_settings

    engine_names = {
        name
        for name in vars(service_settings)
        if name.startswith("NOTIFIER_")
        and name
        not in {
            # The web app's and the cluster's own, not the engine's.
            "NOTIFIER_HTTPS",
            "NOTIFIER_PROXY_COUNT",
            "NOTIFIER_MAX_JSON_DEPTH",
            "NOTIFIER_MANUAL_SENDS_PER_MINUTE",
            "NOTIFIER_VAR_DIR",
            "NOTIFIER_KEYS_FILE",
            "NOTIFIER_WORKERS",
            "NOTIFIER_DEMO",  # the demo inbox app and its banner (`make demo`)
        }
    }
    missing = sorted(engine_names - set(ENGINE_SETTINGS))
    assert not missing, f"settings the engine reads but ENGINE_SETTINGS does not list: {missing}"

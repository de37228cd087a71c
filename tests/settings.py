"""Settings for the test run: the laptop's plain HTTP (`make run` sets NOTIFIER_HTTPS=false
too); the production settings are checked in tests/notifier/test_deploy_settings.py.

Processes the tests start inherit both variables.
"""

from __future__ import annotations

import os

os.environ.setdefault("NOTIFIER_HTTPS", "false")

from notifier.settings import *  # noqa: E402, F403

"""The OpenAPI document is a contract automation can trust: schemathesis reads it from the
running service and sends every operation it describes (new endpoints included, as soon as
they are in the document) examples, boundary cases and fuzzed bodies, valid and invalid,
with a real token of a staff user, over HTTP, and checks every answer against the document.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db(transaction=True)

# Per operation: enough to reach every documented status, few enough that the whole run
# stays under a minute on a small machine.
MAX_EXAMPLES = 12
# The coverage phase (every boundary of every property: ~700 requests for each registration
# write, 8 kinds of setup) takes minutes here; run it by hand with `--phases coverage`.
PHASES = "examples,fuzzing,stateful"
REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240  # seconds; schemathesis bounds each request too (--request-timeout)


def schemathesis_cli() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is not installed: pip install -e '.[test]'"
    return found


def test_every_operation_keeps_the_openapi_contract(live_server, aws, tmp_path):
    user = User.objects.create_user("automation", is_staff=True)
    token = Token.objects.create(user=user).key
    run = subprocess.run(
        [
            schemathesis_cli(),
            "run",
            f"{live_server.url}/api/schema/",
            "--url",
            live_server.url,
            "--header",
            f"Authorization: Token {token}",
            "--checks",
            "all",
            "--phases",
            PHASES,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "1",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            "--output-truncate",
            "false",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=tmp_path,
        env={
            **os.environ,
            "NO_COLOR": "1",
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.registrations.contract_hooks",
        },
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]

"""Run in a fresh interpreter by tests/library/test_library.py, with
DJANGO_SETTINGS_MODULE=tests.library.minimal_settings: migrate, register an application
with a webhook setup, poll twice, send one event directly, and print what happened as JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import django

django.setup()

from django.core.management import call_command  # noqa: E402  (after django.setup())

from notifier.library import application_register, event_send, poll_cycle_run  # noqa: E402


def main(webhook_url: str) -> None:
    call_command("migrate", verbosity=0)
    registration = application_register(
        codedeploy_application_name="storefront",
        setups=[("webhook", {"url": webhook_url, "events": ["succeeded", "failed"]})],
    )
    first = poll_cycle_run()
    second = poll_cycle_run()
    setup = registration.setups.get()
    event = replace(first.events[-1], deployment_id="d-DIRECT")
    direct = event_send(event=event, setup=setup)
    print(
        json.dumps(
            {
                "events": [e.event.value for e in first.events],
                "deliveries": len(first.deliveries),
                "second_deliveries": len(second.deliveries),
                "direct_error": direct.error.message if direct.error else None,
                "direct_status": direct.sent.response_status if direct.sent else None,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])

"""The demo app: the inbox that receives what the demo's notification setups send.

Installed only when NOTIFIER_DEMO is true (and always in the test settings); the product
refers to it by dotted string only, never by import.
"""

from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "notifier.demo"
    label = "demo"
    verbose_name = "Demo inbox"
    default_auto_field = "django.db.models.BigAutoField"

"""What the demo inbox received: one row per message, as its channel delivered it."""

from __future__ import annotations

from django.db import models


class Signature(models.TextChoices):
    """A webhook's X-Signature-256, checked against its setup's secret."""

    NONE = "", "not a signed channel"
    VALID = "valid", "valid"
    INVALID = "invalid", "INVALID"
    UNSIGNED = "unsigned", "unsigned"


class InboxMessage(models.Model):
    """One message received by the demo inbox. Written only by notifier.demo.inbox."""

    channel = models.CharField(max_length=32, db_index=True)
    title = models.CharField(max_length=300)
    target = models.CharField(
        max_length=300, blank=True, help_text="where it went: a Slack channel, a URL's slug, ..."
    )
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    payload = models.JSONField(default=dict)
    headers = models.JSONField(default=dict)
    deployment_id = models.CharField(max_length=64, blank=True, db_index=True)
    event = models.CharField(max_length=16, blank=True)
    thread_key = models.CharField(max_length=64, blank=True, db_index=True)
    signature = models.CharField(max_length=16, choices=Signature.choices, blank=True)
    updated_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel}: {self.title}"

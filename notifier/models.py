"""Django models behind the ORM store (and, in the `audit` database, the audit mirror).

Only notifier/storage/orm.py writes these; everything else goes through the Store.
"""

from __future__ import annotations

from django.db import models

from notifier.events import DELIVERY_STATES


class PollStateRecord(models.Model):
    name = models.CharField(max_length=64, primary_key=True)
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "poll state"


class PushQueueRecord(models.Model):
    """What one push queue has done (notifier.storage.base.PushQueueStats)."""

    queue_url = models.CharField(max_length=512, primary_key=True)
    received = models.BigIntegerField(default=0)
    acted = models.BigIntegerField(default=0)
    ignored = models.JSONField(default=dict, help_text="Messages ignored, by reason.")
    last_receive = models.DateTimeField(null=True)
    last_message_at = models.DateTimeField(null=True)
    oldest_age_seconds = models.FloatField(null=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "push queue"


class Lease(models.Model):
    name = models.CharField(max_length=128, primary_key=True)
    holder = models.CharField(max_length=128)
    expires_at = models.DateTimeField()


class Deployment(models.Model):
    deployment_id = models.CharField(max_length=64, primary_key=True)
    application = models.CharField(max_length=100)
    deployment_group = models.CharField(max_length=100)
    status = models.CharField(max_length=16)
    creator = models.CharField(max_length=64, blank=True)
    deployed_by = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Who started it, in words (DeploymentEvent.started_by): a person, a "
        "principal or a category.",
    )
    revision = models.CharField(max_length=512, blank=True)
    account = models.CharField(
        max_length=12, blank=True, default="", help_text="The AWS account the deployment ran in."
    )
    region = models.CharField(
        max_length=32, blank=True, default="", help_text="The AWS region the deployment ran in."
    )
    create_time = models.DateTimeField(null=True)
    start_time = models.DateTimeField(null=True, blank=True)
    complete_time = models.DateTimeField(null=True, blank=True)
    event = models.JSONField(help_text="The latest DeploymentEvent seen, as JSON.")
    first_seen = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-create_time"]
        # The history list pages newest first by (create_time, deployment_id) keyset; each
        # filter it offers has an index in that order, so a page reads about 50 index entries.
        indexes = [
            models.Index(fields=["-create_time", "-deployment_id"], name="deployment_newest"),
            models.Index(
                fields=["application", "-create_time", "-deployment_id"],
                name="deployment_app_newest",
            ),
            models.Index(
                fields=["status", "-create_time", "-deployment_id"],
                name="deployment_status_newest",
            ),
            models.Index(
                fields=["account", "region", "-create_time", "-deployment_id"],
                name="deployment_source_newest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} ({self.application}/{self.deployment_group})"


class StatusChange(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="timeline")
    status = models.CharField(max_length=16)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["seen_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "status"], name="one_change_per_status")
        ]


class Delivery(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16)
    setup_id = models.BigIntegerField(help_text="The NotificationSetup this delivery is for.")
    kind = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=[(s, s) for s in DELIVERY_STATES])
    attempts = models.PositiveIntegerField(default=0)
    lease_token = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_code = models.CharField(
        max_length=32,
        blank=True,
        help_text="Why the last attempt failed: a channels.base.ErrorCode.",
    )
    in_flight_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the earliest attempt with no outcome recorded yet started (the claim "
        "sets it, the outcome clears it): an attempt that may have reached the provider.",
    )
    payload = models.JSONField(help_text="The DeploymentEvent this delivery sends, as JSON.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "event", "setup_id"], name="one_delivery_per_event_and_setup"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            # "Which deployments had a failed delivery" (history filters) and "what did this
            # setup do last" (application page, dashboard).
            models.Index(fields=["deployment", "state", "kind"], name="delivery_outcome"),
            models.Index(fields=["setup_id", "-updated_at"], name="delivery_setup_latest"),
        ]


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="history")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["number", "id"]
        indexes = [models.Index(fields=["started_at"], name="attempt_started")]

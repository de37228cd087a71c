"""People: who a deployment's IAM principal is.

A Person has a name, an email and optionally a Slack user id. PersonRules map an IAM
principal to a person: by IAM user name, by assumed-role session name, or by the ARN of the
role (or user) it acted as. notifier.cloudtrail finds the principal; registrations.deployers
applies the rules. A DeploymentPrincipal keeps what CloudTrail said about one deployment, so
each deployment is looked up until found (or given up), never again after.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

PRECEDENCE_HELP = (
    "Rules are tried in order of priority, lowest number first; at equal priority an IAM user "
    "name rule before a session name rule before an ARN rule. The first rule that matches "
    "names the person. When none matches, a session name that is an email address (IAM "
    "Identity Center sign-ins) is taken as that person's email."
)


class Person(models.Model):
    name = models.CharField(max_length=200, help_text="How messages name this person.")
    email = models.EmailField(
        unique=True, help_text="Where 'also send to the person who deployed' emails go."
    )
    slack_user_id = models.CharField(
        "Slack user id",
        max_length=32,
        blank=True,
        help_text="Optional: the person's Slack member id (U0123ABCD, in their Slack profile, "
        "'Copy member ID'), so Slack messages can mention them.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def clean(self) -> None:
        super().clean()
        if self.slack_user_id and not re.fullmatch(r"[UW][A-Z0-9]{2,30}", self.slack_user_id):
            raise ValidationError(
                {
                    "slack_user_id": "slack_user_id is a Slack member id such as U0123ABCD "
                    "(Profile, 'Copy member ID'), not a name or @handle"
                }
            )


class PersonRule(models.Model):
    IAM_USER, SESSION_NAME, ARN = "iam_user", "session_name", "arn"
    KINDS = [
        (IAM_USER, "IAM user name"),
        (SESSION_NAME, "Assumed-role session name"),
        (ARN, "Role (or user) ARN"),
    ]
    KIND_ORDER = {IAM_USER: 0, SESSION_NAME: 1, ARN: 2}

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(
        "matches", max_length=16, choices=KINDS, help_text="What part of the principal to match."
    )
    pattern = models.CharField(
        max_length=512,
        help_text="The IAM user name, the session name, or the ARN (e.g. "
        "arn:aws:iam::123456789012:role/deploy-*). * matches any characters; names match "
        "whatever their case, ARNs exactly.",
    )
    priority = models.PositiveIntegerField(default=100, help_text=PRECEDENCE_HELP)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pattern}"

    def clean(self) -> None:
        super().clean()
        if self.kind == self.ARN and not self.pattern.startswith("arn:"):
            raise ValidationError(
                {
                    "pattern": "pattern of an ARN rule starts with arn:, e.g. "
                    "arn:aws:iam::123456789012:role/deploy-*"
                }
            )

    def matches(self, value: str) -> bool:
        if not value:
            return False
        regex = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        flags = 0 if self.kind == self.ARN else re.IGNORECASE
        return re.fullmatch(regex, value, flags) is not None

    def in_words(self) -> str:
        return (
            f"People rule: {self.get_kind_display().lower()} {self.pattern} is {self.person.name}"
        )


class DeploymentPrincipal(models.Model):
    """What CloudTrail said (so far) about who created one deployment."""

    deployment_id = models.CharField(max_length=64, primary_key=True)
    source = models.CharField(max_length=63, db_index=True)
    create_time = models.DateTimeField(help_text="The deployment's create time.")
    principal = models.JSONField(null=True, help_text="notifier.cloudtrail.Principal, once found")
    looked_up_at = models.DateTimeField(null=True)
    lookups = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["source", "create_time"], name="principal_wanted"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id}: {(self.principal or {}).get('arn') or 'not found yet'}"

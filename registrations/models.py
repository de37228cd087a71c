"""Registrations: which CodeDeploy applications are watched, and who hears about them.

A NotificationSetup holds what every kind shares; each kind in channels/ adds its typed
fields in a model that inherits from it (multi-table inheritance), so a new kind is a new
module and a migration, and the engine only ever sees NotificationSetup ids and kinds.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from channels.messages import template_problems
from channels.registry import kind_for_model, label_for, module_for
from notifier.events import EVENT_CHOICES, Event
from registrations.people import DeploymentPrincipal, Person, PersonRule  # noqa: F401
from registrations.sources import Source, source_default_pk
from registrations.tokens import ApiToken  # noqa: F401  (a model of this app)

# CodeDeploy's own limits: application names are 1-100 characters of letters, digits and
# . _ + = , @ - (https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html); the
# API answers InvalidApplicationNameException to anything else.
APPLICATION_NAME_MAX = 100
_APPLICATION_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9._+=,@-]")
APPLICATION_NAME_SHAPE = re.compile(r"[A-Za-z0-9._+=,@-]+")  # and at most APPLICATION_NAME_MAX
_GROUP_SPLIT = re.compile(r"[\s,]+")
# What validate_groups allows, for the OpenAPI document: names of 1 to 100 characters apart
# (not empty: the document states blank apart, as DRF's allow_blank).
GROUPS_SHAPE = re.compile(r"(?!$)[\s,]*(?:[^\s,\x00]{1,100}(?:[\s,]+[^\s,\x00]{1,100})*)?[\s,]*")


def split_groups(text: str) -> list[str]:
    return [g for g in _GROUP_SPLIT.split(text or "") if g]


def validate_groups(text: str) -> None:
    for group in split_groups(text):
        if len(group) > 100:
            raise ValidationError(
                f"deployment group name {group[:40]!r}... is longer than 100 "
                "characters, CodeDeploy's limit"
            )


def application_name_problem(name: str) -> str | None:
    """Why CodeDeploy would refuse `name` as an application name, or None if it allows it."""
    if not name:
        return "codedeploy_application_name must not be blank"
    if len(name) > APPLICATION_NAME_MAX:
        return (
            f"codedeploy_application_name is {len(name)} characters long; CodeDeploy allows at "
            f"most {APPLICATION_NAME_MAX}"
        )
    bad = sorted({c for c in name if not _APPLICATION_NAME_CHARACTERS.fullmatch(c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (
            f"codedeploy_application_name may not contain {shown}: CodeDeploy allows only "
            "letters, digits and . _ + = , @ - in an application name; give the name exactly "
            "as the CodeDeploy console shows it"
        )
    return None


def setup_count_problem(count: int) -> str | None:
    """Why a registration may not have `count` notification setups, or None if it may."""
    limit = settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION
    if count <= limit:
        return None
    return (
        f"notifications: a registration may have at most {limit} notification "
        f"setup{'' if limit == 1 else 's'} (NOTIFIER_MAX_SETUPS_PER_REGISTRATION); this one "
        f"would have {count}. Remove some, or reach more people through fewer setups (a "
        "mailing list, an SNS topic)"
    )


def validate_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("choose at least one event (or disable the setup)")
    known = {e.value for e in Event}
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValidationError(
            f"unknown event {', '.join(map(str, unknown))}; choose from {', '.join(sorted(known))}"
        )


class EventsField(models.JSONField):
    """A list of event names, shown in forms as checkboxes."""

    def formfield(self, **kwargs):
        return forms.MultipleChoiceField(
            choices=EVENT_CHOICES,
            widget=forms.CheckboxSelectMultiple,
            required=not self.blank,
            label=self.verbose_name.capitalize(),
            help_text=self.help_text,
        )


class Registration(models.Model):
    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        default=source_default_pk,
        related_name="registrations",
        help_text="The AWS account and region the application lives in. Only the default "
        "source is polled today: registrations of other sources wait for per-source polling.",
    )
    codedeploy_application_name = models.CharField(
        "CodeDeploy application name",
        max_length=APPLICATION_NAME_MAX,
        help_text="Exactly as it appears in the CodeDeploy console (case matters).",
    )
    team = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registrations",
        help_text="The team that owns this registration; its members may change it.",
    )
    enabled = models.BooleanField(
        default=True, help_text="Untick to stop all notifications for this application."
    )
    deployment_groups = models.CharField(
        max_length=2000,
        blank=True,
        validators=[validate_groups],
        help_text="Only notify for these deployment groups (comma or space separated). "
        "Leave empty for every group.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["codedeploy_application_name", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "codedeploy_application_name"],
                name="one_registration_per_source_and_application",
                violation_error_message="This CodeDeploy application is registered already "
                "in this source.",
            )
        ]

    def __str__(self) -> str:
        return self.codedeploy_application_name

    def clean(self) -> None:
        super().clean()
        problem = application_name_problem(self.codedeploy_application_name or "")
        if problem:
            raise ValidationError({"codedeploy_application_name": problem})

    def watches_group(self, deployment_group: str) -> bool:
        groups = split_groups(self.deployment_groups)
        return not groups or deployment_group in groups


class NotificationSetup(models.Model):
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="setups")
    kind = models.CharField(max_length=32, editable=False)
    events = EventsField(
        default=list,
        validators=[validate_events],
        help_text="The deployment events this setup sends a notification for.",
    )
    enabled = models.BooleanField(default=True)
    deployment_groups = models.CharField(
        max_length=2000,
        blank=True,
        validators=[validate_groups],
        help_text="Only these deployment groups (comma or space separated). "
        "Leave empty for every group the registration watches.",
    )
    subject_template = models.TextField(
        blank=True,
        help_text="Optional: your own subject (or title), in Django template language, e.g. "
        "{{ event.application }} {{ event_label }}. Leave empty for the default.",
    )
    body_template = models.TextField(
        blank=True,
        help_text="Optional: your own message text, in Django template language; the "
        "deployment is {{ event }} (see the README for its fields). Leave empty for the "
        "default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["registration", "id"]
        indexes = [models.Index(fields=["registration", "kind"], name="setup_by_kind")]

    def __str__(self) -> str:
        return f"{label_for(self.kind)} for {self.registration}"

    def save(self, *args, **kwargs):
        if not self.kind:
            self.kind = kind_for_model(type(self))
        if not self.events:
            self.events = list(module_for(self.kind).DEFAULT_EVENTS)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Template overrides must render every sample deployment (channels.messages)."""
        super().clean()
        problems = template_problems(
            kind=self.kind or kind_for_model(type(self)),
            subject=self.subject_template,
            body=self.body_template,
        )
        if problems:
            raise ValidationError(problems)

    def typed(self) -> NotificationSetup:
        """This setup as its kind's model, with the kind's own fields."""
        model = module_for(self.kind).SETUP_MODEL
        if isinstance(self, model):
            return self
        return model.objects.get(pk=self.pk)

    def wants_deployer(self) -> bool:
        """Whether this setup tells the person who deployed (then it waits a while for
        CloudTrail to name them; see notifier.dispatch). Kinds that can override this."""
        return False

    def hears(self, event: str, deployment_group: str) -> bool:
        groups = split_groups(self.deployment_groups)
        return self.enabled and event in self.events and (not groups or deployment_group in groups)

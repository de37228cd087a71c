"""The REST shape, as the original service took it:

    {"codedeploy_application_name": "...",
     "notifications": [{"newrelic_notification": {"application_name": "..."}}]}

Validation of each setup's fields is the model's own (full_clean), the same the admin form
runs, so the API and the admin can never disagree.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.contrib.auth.models import Group
from rest_framework import serializers

from channels.registry import API_KEYS, api_key, module_for
from channels.secrets import secret_field_names
from notifier.events import Event
from registrations.api_fields import (
    StrictCharField,
    StrictIntegerField,
    StrictModelSerializer,
    StrictSlugRelatedField,
    WarningsField,
)
from registrations.models import (
    APPLICATION_NAME_SHAPE,
    GROUPS_SHAPE,
    Registration,
    application_name_problem,
    setup_count_problem,
)
from registrations.sources import Source, source_default
from registrations.teams import application_name_taken

COMMON_SETUP_FIELDS = ("id", "events", "enabled", "deployment_groups")
EVENT_CHOICES = [e.value for e in Event]  # one component, EventsEnum (ENUM_NAME_OVERRIDES)


@functools.cache  # one class per kind: the schema names one component per kind
def setup_serializer_class(kind: str) -> type[StrictModelSerializer]:
    module = module_for(kind)
    secret_names = secret_field_names(module.SETUP_MODEL)
    template_fields = tuple(
        f"{part}_template" for part in getattr(module, "TEMPLATE_PARTS", ("subject", "body"))
    )

    class SetupSerializer(StrictModelSerializer):
        id = StrictIntegerField(
            required=False, min_value=1, help_text="Give it to update this setup."
        )
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EVENT_CHOICES),
            required=False,
            allow_empty=False,
            min_length=1,
            help_text=f"Events to notify; default {', '.join(module.DEFAULT_EVENTS)}.",
        )

        class Meta:
            model = module.SETUP_MODEL
            fields = (*COMMON_SETUP_FIELDS, *module.SETUP_FIELDS, *template_fields)
            schema_patterns = {"deployment_groups": GROUPS_SHAPE}
            extra_kwargs = {
                # Secrets are write-only: never returned; left out of an update, kept as is.
                **{name: {"write_only": True, "required": False} for name in secret_names},
                **getattr(module, "SETUP_EXTRA_KWARGS", {}),
            }

    SetupSerializer.__name__ = f"{module.SETUP_MODEL.__name__}Serializer"
    return SetupSerializer


class NotificationsField(serializers.Field):
    """A list of one-key objects: [{"<kind>_notification": {fields...}}, ...]."""

    default_error_messages = {
        "not_a_list": "notifications must be a list of objects like "
        '{{"newrelic_notification": {{...}}}}',
    }

    def to_representation(self, setups) -> list[dict[str, Any]]:
        out = []
        for setup in setups.all() if hasattr(setups, "all") else setups:
            typed = setup.typed()
            out.append({api_key(typed.kind): setup_serializer_class(typed.kind)(typed).data})
        return out

    def to_internal_value(self, data) -> list[tuple[str, dict[str, Any]]]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        problem = setup_count_problem(len(data))
        if problem:  # before any setup is validated: a huge list costs nothing
            raise serializers.ValidationError(problem)
        known = ", ".join(sorted(API_KEYS))
        items, errors, failed = [], [], False
        for item in data:
            if not isinstance(item, dict) or len(item) != 1:
                got = (
                    "none"
                    if isinstance(item, dict) and not item
                    else (", ".join(item) if isinstance(item, dict) else type(item).__name__)
                )
                errors.append(
                    {
                        "non_field_errors": [
                            "each notification must be an object with exactly one kind key "
                            f"({known}); got {got}"
                        ]
                    }
                )
                failed = True
                continue
            ((key, fields),) = item.items()
            if key not in API_KEYS:
                errors.append({key: [f"unknown notification kind {key!r}; known kinds: {known}"]})
                failed = True
                continue
            if not isinstance(fields, dict):
                errors.append({key: ["must be an object of the kind's fields"]})
                failed = True
                continue
            kind = API_KEYS[key]
            serializer = setup_serializer_class(kind)(data=fields)
            if not serializer.is_valid():
                errors.append({key: serializer.errors})
                failed = True
                continue
            items.append((kind, dict(serializer.validated_data)))
            errors.append({})
        if failed:
            raise serializers.ValidationError(errors)
        return items


NOTIFICATIONS_HELP = (
    'Who hears about this application: [{"newrelic_notification": {"application_name": '
    '"..."}}, ...], one object per setup with exactly one key, <kind>_notification. Sent on an '
    "update, the list replaces the setups: one with its id keeps and updates that setup (a secret "
    "left out keeps its stored value), one without id is added, one not listed is deleted."
)


class RegistrationSerializer(StrictModelSerializer):
    codedeploy_application_name = StrictCharField(
        max_length=100,
        trim_whitespace=False,  # a space is refused, naming it, as CodeDeploy would
        help_text="The CodeDeploy application, exactly as AWS names it.",
        error_messages={
            "required": "codedeploy_application_name is required",
            "blank": "codedeploy_application_name must not be blank",
            "null": "codedeploy_application_name must not be null",
            "max_length": "codedeploy_application_name must have no more than {max_length} "
            "characters, CodeDeploy's limit",
        },
    )
    source = StrictSlugRelatedField(
        slug_field="name",
        queryset=Source.objects.all(),
        required=False,
        help_text="Name of the source (AWS account and region) the application lives in; "
        "leave out for the default source.",
        error_messages={
            "does_not_exist": "source {value!r} does not exist: name one of the sources at "
            "/api/sources/, or leave source out for the default source",
            "null": "source must not be null: name a source, or leave it out for the default",
            "blank": "source must not be blank: name a source, or leave it out for the default",
        },
    )
    team = StrictSlugRelatedField(
        slug_field="name",
        queryset=Group.objects.all(),
        required=False,
        allow_null=True,
        help_text="Name of the team (a group) that owns this registration.",
        error_messages={
            "does_not_exist": "team {value!r} does not exist: name a team (a group) you are in, "
            "or leave team out for your only team",
            "blank": "team must not be blank: name a team (a group) you are in, or leave team "
            "out for your only team",
        },
    )
    notifications = NotificationsField(
        source="setups",
        required=False,
        help_text=NOTIFICATIONS_HELP,
    )
    warnings = WarningsField(
        help_text="Saved anyway, but check: e.g. application_not_found when the source's "
        "CodeDeploy lists no such application (it may be created later). Empty when none."
    )

    class Meta:
        model = Registration
        fields = (
            "id",
            "codedeploy_application_name",
            "source",
            "team",
            "enabled",
            "deployment_groups",
            "notifications",
            "created_at",
            "updated_at",
            "warnings",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        schema_patterns = {
            "codedeploy_application_name": APPLICATION_NAME_SHAPE,
            "deployment_groups": GROUPS_SHAPE,
        }
        # (source, name) is unique: checked in validate() with words naming the field, not
        # by DRF's UniqueTogetherValidator (which would make source required).
        validators: list = []

    def validate_codedeploy_application_name(self, value: str) -> str:
        problem = application_name_problem(value if value.strip() else "")
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def _taken_check(self, attrs) -> None:
        instance = self.instance
        name = attrs.get(
            "codedeploy_application_name", getattr(instance, "codedeploy_application_name", None)
        )
        if name is None:
            return
        source = attrs.get("source") or (instance.source if instance else source_default())
        request = self.context.get("request")
        taken = application_name_taken(
            name=name,
            user=getattr(request, "user", None),
            source=source,
            exclude_pk=instance.pk if instance is not None else None,
        )
        if taken:
            raise serializers.ValidationError({"codedeploy_application_name": [taken]})

    def validate(self, attrs):
        self._taken_check(attrs)
        if (self.instance is None or "setups" in attrs) and not attrs.get("setups"):
            raise serializers.ValidationError(
                {
                    "notifications": [
                        "give at least one notification, e.g. "
                        '[{"newrelic_notification": {"application_name": "..."}}]'
                    ]
                }
            )
        setups = attrs.get("setups")
        if setups is not None:
            existing = (
                set(self.instance.setups.values_list("pk", flat=True)) if self.instance else set()
            )
            errors, failed = [], False
            for kind, fields in setups:
                setup_id = fields.get("id")
                if setup_id is not None and setup_id not in existing:
                    errors.append(
                        {
                            api_key(kind): {
                                "id": [
                                    f"this registration has no setup {setup_id}; "
                                    "leave id out to add one"
                                ]
                            }
                        }
                    )
                    failed = True
                else:
                    errors.append({})
            if failed:
                raise serializers.ValidationError({"notifications": errors})
        return attrs


def registration_document(*, registration: Registration) -> dict[str, Any]:
    """The registration as the REST API shows it (write-only fields, i.e. secrets, left out),
    as plain JSON values: the document registrations.services stores in DynamoDB."""
    document = json.loads(json.dumps(RegistrationSerializer(registration).data))
    document.pop("warnings", None)  # about one save, not part of the registration
    return document


class NewRegistrationSerializer(RegistrationSerializer):
    """The body of a create, as the schema shows it: `notifications` is required there."""

    notifications = NotificationsField(
        source="setups",
        help_text=NOTIFICATIONS_HELP,
    )

    class Meta(RegistrationSerializer.Meta):
        ref_name = "NewRegistration"


class TestRequestSerializer(serializers.Serializer):
    setup = StrictIntegerField(
        required=False,
        min_value=1,
        help_text="Only this setup (its id); leave out to test every setup.",
    )
    event = serializers.ChoiceField(
        choices=EVENT_CHOICES,
        required=False,
        help_text="The sample event to send: started, ready, succeeded, failed or stopped. "
        "Leave out for succeeded (or, for a setup that does not hear it, an event it hears).",
        error_messages={
            "invalid_choice": '"{input}" is not an event: use started, ready, succeeded, '
            "failed or stopped."
        },
    )


class TestResultSerializer(serializers.Serializer):
    setup = serializers.IntegerField()
    kind = serializers.CharField(help_text="The setup's key, e.g. slack_notification.")
    label = serializers.CharField()
    event = serializers.CharField(help_text="The sample event that was sent.")
    deployment_group = serializers.CharField(
        help_text="The deployment group the sample named: one of the application's own."
    )
    delivered = serializers.BooleanField()
    latency_ms = serializers.IntegerField()
    detail = serializers.CharField(required=False, help_text="What the provider answered.")
    error = serializers.CharField(required=False, help_text="Why it was not delivered.")
    retryable = serializers.BooleanField(
        required=False, help_text="True when the failure is temporary (a retry may succeed)."
    )
    error_code = serializers.CharField(
        required=False, help_text="Why it was not delivered, for code: see channels.base.ErrorCode."
    )


class TestResponseSerializer(serializers.Serializer):
    delivered = serializers.BooleanField(help_text="True when every setup delivered.")
    results = TestResultSerializer(many=True)

"""Fields that take JSON's types as the OpenAPI document states them: a boolean is true or
false (not "false" or 0), a string is a string (not 12), an integer is a number (not "12").
DRF's own fields coerce, so a body the document calls invalid would be accepted."""

from __future__ import annotations

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "must be true or false (a JSON boolean)"}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "must be a string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "must be an integer (a JSON number)"}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, but "" is refused as blank rather than read as null."""

    default_error_messages = {"blank": "must not be blank: name one, or leave it out"}

    def run_validation(self, data=serializers.empty):
        if data == "":
            self.fail("blank")
        return super().run_validation(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose fields made from model fields are the strict ones above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: StrictBooleanField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
    }


class WarningSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The field the warning is about.")
    code = serializers.CharField(help_text="For code: application_not_found.")
    message = serializers.CharField(help_text="The warning in words, with what to do.")


@extend_schema_field(WarningSerializer(many=True))
class WarningsField(serializers.Field):
    """Read-only: what a create or update saved anyway but would check (e.g. an application
    name the source's CodeDeploy does not list); the view puts them in the context."""

    def __init__(self, **kwargs) -> None:
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, value) -> list[dict[str, str]]:
        return list(self.context.get("warnings", []))

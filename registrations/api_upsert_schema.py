"""What the OpenAPI document says about the by-name and apply endpoints: their bodies, their
answers and the errors only they give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from registrations.api_schema import ErrorSerializer
from registrations.models import APPLICATION_NAME_MAX, APPLICATION_NAME_SHAPE
from registrations.serializers import NewRegistrationSerializer, RegistrationSerializer

YAML_TYPES = ("application/yaml", "text/yaml")
DOCUMENT_TYPES_HINT = (
    "Send the document as JSON ('Content-Type: application/json') or YAML "
    "('Content-Type: application/yaml' or 'text/yaml')."
)

APPLICATION_PARAMETER = OpenApiParameter(
    "application",
    str,
    OpenApiParameter.PATH,
    pattern=rf"^(?!\.\.?$)(?=.{{1,{APPLICATION_NAME_MAX}}}$)(?:{APPLICATION_NAME_SHAPE.pattern})$",
    description="The CodeDeploy application's name, as AWS names it (an application named . "
    "or .. cannot be named in a path: use /api/registrations/{id}/).",
)
SOURCE_PARAMETER = OpenApiParameter(
    "source", str, description="The source's name; leave out for the default source."
)
APPLY_PARAMETERS = [
    OpenApiParameter("dry_run", bool, description="Only report the differences."),
    OpenApiParameter(
        "prune", bool, description="Also remove the registrations in scope the document leaves out."
    ),
    OpenApiParameter(
        "team",
        str,
        description="Every registration must be this team's; prune removes only this team's.",
    ),
]


class ReplaceRegistrationSerializer(NewRegistrationSerializer):
    """The body of a PUT by name: the path names the application and ?source= its source."""

    codedeploy_application_name = None
    source = None

    class Meta(NewRegistrationSerializer.Meta):
        ref_name = "ReplaceRegistration"
        fields = tuple(
            name
            for name in NewRegistrationSerializer.Meta.fields
            if name not in ("codedeploy_application_name", "source")
        )


class RegistrationsDocumentSerializer(serializers.Serializer):
    """Documented by RegistrationsDocumentExtension: a list of registrations, nothing else."""

    class Meta:
        ref_name = "RegistrationsDocument"


class RegistrationsDocumentExtension(OpenApiSerializerExtension):
    target_class = RegistrationsDocumentSerializer

    def get_name(self, auto_schema=None, direction=None) -> str:
        return "RegistrationsDocument"

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        item = auto_schema.resolve_serializer(NewRegistrationSerializer, direction)
        return {
            "type": "object",
            "description": "Registrations in the shape POST /api/registrations/ takes (source "
            "included), as `manage.py registrations export` writes them. Each registration "
            "may appear once (by source and application name).",
            "properties": {"registrations": {"type": "array", "items": item.ref}},
            "required": ["registrations"],
            "additionalProperties": False,
        }


class RegistrationChangeSerializer(serializers.Serializer):
    registration = serializers.CharField(help_text="source/application")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        help_text='What changes, by path: {"enabled": {"from": true, "to": false}} for a '
        'value, "(changed)" for a secret (never shown), "added" or "removed" for a setup.',
    )

    class Meta:
        ref_name = "RegistrationChange"


class ApplyResultSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField(), help_text="source/application")
    changed = RegistrationChangeSerializer(many=True)
    removed = serializers.ListField(child=serializers.CharField(), help_text="source/application")
    unchanged = serializers.IntegerField(help_text="Registrations the document already describes.")
    applied = serializers.BooleanField(help_text="False for a dry run.")

    class Meta:
        ref_name = "ApplyResult"


BY_NAME_GET = {
    "responses": {200: RegistrationSerializer},
    "summary": "Read a registration by application name",
}
BY_NAME_PUT_RESPONSES = {
    200: OpenApiResponse(RegistrationSerializer, description="Replaced."),
    201: OpenApiResponse(RegistrationSerializer, description="Created."),
    404: OpenApiResponse(ErrorSerializer, description="No source has the name ?source= gives."),
    409: OpenApiResponse(
        ErrorSerializer,
        description="Registered by another request at the same moment: GET it, then PUT again "
        "with If-Match.",
    ),
    412: OpenApiResponse(
        ErrorSerializer,
        description="If-Match did not match the registration's ETag (or it does not exist), or "
        "If-None-Match: * and it exists: GET it again and retry.",
    ),
}
APPLY = {
    "parameters": APPLY_PARAMETERS,
    "request": {
        "application/json": RegistrationsDocumentSerializer,
        **{media: RegistrationsDocumentSerializer for media in YAML_TYPES},
    },
    "responses": {
        200: ApplyResultSerializer,
        415: OpenApiResponse(
            ErrorSerializer, description=f"The body is neither JSON nor YAML. {DOCUMENT_TYPES_HINT}"
        ),
    },
    "summary": "Apply a registrations document (JSON or YAML)",
}

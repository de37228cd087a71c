"""The OpenAPI document's shared parts: the error bodies every endpoint may answer, and the
schema class that documents them on every operation.

`ApiAutoSchema` (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) adds to each operation the errors it
can give, unless its `extend_schema(responses=...)` names that status itself: 401 and 403 on
every operation behind a sign-in; 404 wherever the path names an object (and on paginated lists,
for a page past the end); 400, 413 and 415 wherever a body is read. An endpoint with errors of
its own (409, 412, 429...) names them with `error_responses(...)`:

    @extend_schema(responses={200: ThingSerializer, **error_responses(409, 429)})

and a 429 carries its Retry-After header with it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What was wrong and what to do.")
    code = serializers.CharField(
        required=False, help_text="For code to branch on, where given (e.g. rate_limited)."
    )

    class Meta:
        ref_name = "Error"


class FieldErrorsSerializer(serializers.Serializer):
    """Documented by FieldErrorsExtension below: a plain serializer cannot say
    `additionalProperties`."""

    class Meta:
        ref_name = "FieldErrors"


FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "What was wrong with the request, field by field. Each key is a field of "
    "the request (or `non_field_errors`); its value lists messages that name the field and say "
    "what to do. For `notifications` the list holds one entry per notification sent, in order: "
    "`{}` for one without problems, else an object keyed by its `<kind>_notification` (or "
    "`non_field_errors`) holding that kind's field errors; or messages about the list itself. "
    "A body that is not JSON, or nests too deeply, is answered with `detail` alone.",
    "properties": {
        "detail": {"type": "string", "description": "A problem with the body as a whole."},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "object"}]},
    },
}


class FieldErrorsExtension(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def get_name(self, auto_schema=None, direction=None) -> str:
        return "FieldErrors"

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        return FIELD_ERRORS_SCHEMA


_DESCRIPTIONS = {
    400: "The request was refused: the body names each field that was wrong.",
    401: "No credentials, or credentials that are not valid: send 'Authorization: Token "
    "<key>' (or sign in).",
    403: "Signed in, but not allowed to do this.",
    404: "No such object, or not one you may see (another team's); or a page past the end.",
    409: "Refused because of the state of what it touches (e.g. a source still in use); the "
    "detail says what to change first.",
    412: "The object changed since you read it (If-Match did not match its ETag): read it "
    "again and retry.",
    413: "The body is larger than NOTIFIER_MAX_REQUEST_BYTES: send a smaller one.",
    415: "The body is not JSON: send it with 'Content-Type: application/json'.",
    429: "Too many sends by hand in a minute: wait Retry-After seconds.",
    503: "The registrations table (DynamoDB) could not be reached: nothing was changed; retry.",
}
ERROR_RESPONSES: dict[int, OpenApiResponse] = {
    code: OpenApiResponse(
        response=FieldErrorsSerializer if code == 400 else ErrorSerializer,
        description=description,
    )
    for code, description in _DESCRIPTIONS.items()
}
RESPONSE_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "How to authenticate: Token.",
        }
    },
    429: {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 0},
            "description": "Seconds to wait before the next send.",
            "required": True,
        }
    },
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for these status codes, for `extend_schema(responses=)`."""
    return {code: ERROR_RESPONSES[code] for code in codes}


_NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, documenting the errors every operation can answer."""

    def _error_codes(self) -> list[int]:
        codes: list[int] = []
        if self.method in ("POST", "PUT", "PATCH"):
            codes += [400, 413, 415]
        if any(not issubclass(p, permissions.AllowAny) for p in self.view.permission_classes):
            codes += [401, 403]
        paginated = self._is_list_view() and self._get_paginator() is not None
        if "{" in self.path or paginated:
            codes.append(404)
        return codes

    def _insert_field_validators(self, field, schema) -> None:
        """A string field's pattern: the one its serializer's Meta.schema_patterns names
        (field -> compiled regex, matched whole), else its RegexValidator's, else "no NUL
        character" (DRF's string fields refuse them) and, where DRF trims the value and refuses
        it blank, "not only whitespace"."""
        if (
            isinstance(field, serializers.CharField)
            and not isinstance(field, serializers.ChoiceField)
            and not field.read_only
            and schema.get("type") == "string"
        ):
            patterns = getattr(getattr(field.parent, "Meta", None), "schema_patterns", {})
            if field.field_name in patterns:
                schema["pattern"] = f"^(?:{patterns[field.field_name].pattern})$"
            elif not any(isinstance(v, RegexValidator) for v in field.validators):
                blank_refused = field.trim_whitespace and not field.allow_blank
                schema.setdefault("pattern", _NOT_BLANK if blank_refused else "^[^\\x00]+$")
        super()._insert_field_validators(field, schema)

    def _get_response_bodies(self, direction="response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    ERROR_RESPONSES[code], str(code), direction=direction
                )
        for code, headers in RESPONSE_HEADERS.items():
            if str(code) in responses:
                responses[str(code)].setdefault("headers", {}).update(headers)
        return responses


def register_component(auto_schema, name: str, schema: dict[str, Any]) -> dict[str, str]:
    """Register a schema component by name (once) and return a reference to it."""
    component = ResolvedComponent(
        name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
    )
    auto_schema.registry.register_on_missing(component)
    return component.ref


def _setup_request_rules(schema: dict[str, Any], module) -> None:
    """Add to a kind's request schema what its model checks: the patterns its module names,
    and its secrets that may not be blank (required to add a setup; an update that names the
    setup's id may leave them out to keep the stored value, which the document cannot say)."""
    from channels.secrets import secret_field_names

    properties = schema.get("properties", {})
    for name, extra in getattr(module, "SETUP_SCHEMA", {}).items():
        properties.get(name, {}).update(extra)
    model = module.SETUP_MODEL
    required = [
        name
        for name in secret_field_names(model)
        if name in properties and not model._meta.get_field(name).blank
    ]
    if required:
        schema["required"] = sorted({*schema.get("required", []), *required})


class NotificationsFieldExtension(OpenApiSerializerFieldExtension):
    """`notifications`: a list of one-key objects, each `{"<kind>_notification": {...}}`
    with that kind's own fields; the component of each kind is named after its setup model
    (SlackNotification, holding SlackSetup)."""

    target_class = "registrations.serializers.NotificationsField"

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        from channels.registry import API_KEYS, module_for
        from registrations.serializers import setup_serializer_class

        suffix = "Request" if direction == "request" else ""
        kinds = []
        for key, kind in API_KEYS.items():
            module = module_for(kind)
            setup = auto_schema.resolve_serializer(setup_serializer_class(kind), direction)
            if direction == "request":
                _setup_request_rules(setup.schema, module)
            name = module.SETUP_MODEL.__name__.removesuffix("Setup") + "Notification" + suffix
            wrapper = {
                "type": "object",
                "description": f"{module.LABEL}: exactly one key, {key}.",
                "properties": {key: setup.ref},
                "required": [key],
                "additionalProperties": False,
            }
            kinds.append(register_component(auto_schema, name, wrapper))
        limit = settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION
        schema: dict[str, Any] = {"type": "array", "items": {"oneOf": kinds}, "maxItems": limit}
        if direction == "request":
            schema["minItems"] = 1
        return schema

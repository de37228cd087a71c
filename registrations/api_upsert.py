"""The REST API for automation: create-or-replace by name, and apply a whole document.

`GET|PUT /api/registrations/by-name/<application>?source=<name>` and
`POST /api/registrations/apply?dry_run=true&prune=false`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, parsers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from notifier.middleware import body_too_large_message
from registrations.api_upsert_schema import (
    APPLICATION_PARAMETER,
    APPLY,
    BY_NAME_GET,
    BY_NAME_PUT_RESPONSES,
    DOCUMENT_TYPES_HINT,
    SOURCE_PARAMETER,
    ReplaceRegistrationSerializer,
)
from registrations.applications import application_warnings
from registrations.apply import registrations_apply
from registrations.as_code import (
    DocumentInvalid,
    document_entries,
    document_load,
    references_substituted,
)
from registrations.etags import (
    ETAG_HEADER,
    IF_MATCH,
    IF_NONE_MATCH,
    preconditions_check,
    registration_etag,
)
from registrations.models import Registration
from registrations.parsers import LimitedJSONParser, RequestBodyTooLarge
from registrations.serializers import RegistrationSerializer
from registrations.sources import Source, source_default
from registrations.teams import (
    TeamNotAllowed,
    application_name_taken,
    registration_editable,
    team_for_save,
    user_edits_every_team,
)
from registrations.upsert import registration_upsert


def _source(request) -> Source:
    name = request.query_params.get("source")
    if not name:
        return source_default()
    source = Source.objects.filter(name=name).first()
    if source is None:
        raise exceptions.NotFound(
            f"source {name!r} does not exist: name one of the sources at /api/sources/, or "
            "leave source out for the default source"
        )
    return source


def _with_etag(response: Response, registration: Registration) -> Response:
    response["ETag"] = registration_etag(registration=registration)
    return response


class RegistrationByNameView(APIView):
    """One registration, named by its application (and source) rather than its id."""

    def _body(self, request, *, application: str, source: Source) -> dict:
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError(
                {"non_field_errors": ["the body must be a JSON object: a registration"]}
            )
        named = data.get("codedeploy_application_name", application)
        if named != application:
            raise exceptions.ValidationError(
                {
                    "codedeploy_application_name": [
                        f"the body names {named!r} but the path names {application!r}: leave "
                        "it out of the body, or PUT to that application's path"
                    ]
                }
            )
        if data.get("source", source.name) != source.name:
            raise exceptions.ValidationError(
                {
                    "source": [
                        f"the body names source {data['source']!r} but ?source= names "
                        f"{source.name!r}: leave it out of the body, or change ?source="
                    ]
                }
            )
        if "notifications" not in data:
            raise exceptions.ValidationError(
                {"notifications": ["give the registration's every setup: PUT replaces it whole"]}
            )
        return {**data, "codedeploy_application_name": application, "source": source.name}

    @extend_schema(parameters=[APPLICATION_PARAMETER, SOURCE_PARAMETER, ETAG_HEADER], **BY_NAME_GET)
    def get(self, request, application: str):
        rows = Registration.objects.select_related("team", "source").prefetch_related("setups")
        if not user_edits_every_team(request.user):
            rows = rows.filter(team__in=request.user.groups.all())
        found = rows.filter(source=_source(request), codedeploy_application_name=application)
        registration = found.first()
        if registration is None:
            raise exceptions.NotFound(f"{application!r} is not registered (in a team of yours)")
        return _with_etag(Response(RegistrationSerializer(registration).data), registration)

    @extend_schema(
        parameters=[APPLICATION_PARAMETER, SOURCE_PARAMETER, IF_MATCH, IF_NONE_MATCH, ETAG_HEADER],
        request=ReplaceRegistrationSerializer,
        responses=BY_NAME_PUT_RESPONSES,
        summary="Create or replace a registration by application name",
        description="The body is the whole registration, as POST takes it; the path's "
        "application name wins (a body naming another is a 400). 201 when created, 200 when "
        "replaced; either answers the new ETag. Replacing: a field left out returns to its "
        "default (the team stays); each setup of the body is matched to a stored one by id, "
        "else by kind and its non-secret fields (e.g. a Slack channel), else by kind in order, "
        "and a matched setup keeps its stored secrets where the body leaves them out or "
        "empty, so a body read back with GET (which never shows secrets) can be PUT again. "
        "Stored setups left unmatched are deleted.",
    )
    def put(self, request, application: str):
        try:
            registration, created = self._upsert(request, application)
        except IntegrityError:  # created by another request since this one looked
            raise Conflict(
                f"{application!r} was registered by another request at the same moment; GET it, "
                "then PUT again (with If-Match) to replace it"
            ) from None
        registration = Registration.objects.get(pk=registration.pk)
        warnings = application_warnings(
            name=registration.codedeploy_application_name, source=registration.source
        )
        response = Response(
            RegistrationSerializer(registration, context={"warnings": warnings}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
        return _with_etag(response, registration)

    def _upsert(self, request, application: str) -> tuple[Registration, bool]:
        with transaction.atomic():
            source = _source(request)
            existing = (
                Registration.objects.select_for_update(of=("self",))
                .filter(source=source, codedeploy_application_name=application)
                .first()
            )
            if existing is not None and not registration_editable(
                user=request.user, registration=existing
            ):
                taken = application_name_taken(name=application, user=request.user, source=source)
                raise exceptions.PermissionDenied(taken)
            body = self._body(request, application=application, source=source)
            serializer = RegistrationSerializer(
                instance=existing, data=body, context={"request": request}
            )
            serializer.is_valid(raise_exception=True)  # a body refused is a 400 before any 412
            current = registration_etag(registration=existing) if existing else None
            preconditions_check(request, current=current)
            fields = dict(serializer.validated_data)
            try:
                fields["team"] = team_for_save(
                    user=request.user,
                    team=fields.get("team"),
                    given="team" in fields,
                    current=existing.team if existing else None,
                )
            except TeamNotAllowed as exc:
                raise exceptions.PermissionDenied(f"team: {exc}") from None
            setups = fields.pop("setups")
            return registration_upsert(existing=existing, fields=fields, setups=setups)


class YAMLParser(parsers.BaseParser):
    """YAML bodies, read bounded as registrations.as_code.document_load reads them."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = b"" if stream is None else stream.read(limit + 1) if limit else stream.read()
        if limit is not None and len(body) > limit:
            raise RequestBodyTooLarge(body_too_large_message(size=None, limit=limit))
        try:
            return document_load(body)
        except DocumentInvalid as exc:
            raise exceptions.ValidationError({"non_field_errors": exc.errors}) from None


class TextYAMLParser(YAMLParser):
    media_type = "text/yaml"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class UnsupportedDocumentType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"


def _flag(request, name: str) -> bool:
    value = request.query_params.get(name, "false")
    if value in ("true", "false"):
        return value == "true"
    raise exceptions.ValidationError({name: [f"{name} must be true or false, not {value!r}"]})


class RegistrationsApplyView(APIView):
    """Make the registrations what a document says, all or nothing."""

    parser_classes = [LimitedJSONParser, YAMLParser, TextYAMLParser]

    @extend_schema(
        **APPLY,
        description='The body is {"registrations": [...]} of registrations in the shape POST '
        "takes (plus source), as `manage.py registrations export` writes it. Every "
        "registration is checked first and any error refuses the whole document (400, naming "
        "the registration and field); the changes are then applied in one transaction. Secrets "
        "are given as values: ${VAR} references are refused here (the command reads them from "
        "its environment). A non-staff user may apply only their own teams' registrations; "
        "prune removes only registrations in scope (team, else your teams).",
    )
    def post(self, request):
        try:
            document = request.data
        except exceptions.UnsupportedMediaType:
            raise UnsupportedDocumentType(DOCUMENT_TYPES_HINT) from None
        dry_run, prune = _flag(request, "dry_run"), _flag(request, "prune")
        team = None
        name = request.query_params.get("team")
        if name:
            team = Group.objects.filter(name=name).first()
            if team is None:
                raise exceptions.ValidationError(
                    {
                        "team": [
                            f"team {name!r} does not exist: name a team (a group), or leave "
                            "team out"
                        ]
                    }
                )
        try:
            entries = document_entries(document)
            labels = [f"registrations[{i}]" for i in range(len(entries))]
            entries = references_substituted(entries, environ=None, labels=labels)
            with transaction.atomic():
                report = registrations_apply(
                    entries=entries, user=request.user, team=team, prune=prune, dry_run=dry_run
                )
        except DocumentInvalid as exc:
            raise exceptions.ValidationError({"non_field_errors": exc.errors}) from None
        except DjangoValidationError as exc:  # a save refused after the checks: nothing kept
            raise exceptions.ValidationError({"non_field_errors": exc.messages}) from None
        return Response(report.as_dict())

"""The REST API: CRUD on registrations, and one error shape for every failure."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from notifier.middleware import body_too_large_message
from notifier.ratelimit import RateLimited, rate_limit_take
from registrations.api_schema import error_responses
from registrations.applications import application_warnings
from registrations.etags import ETAG_HEADER, IF_MATCH, preconditions_check, registration_etag
from registrations.models import Registration
from registrations.serializers import (
    NewRegistrationSerializer,
    RegistrationSerializer,
    TestRequestSerializer,
    TestResponseSerializer,
)
from registrations.services import (
    SetupsInvalid,
    registration_create,
    registration_delete,
    registration_update,
)
from registrations.storage import RegistrationStoreError
from registrations.teams import TeamNotAllowed, team_for_save, user_edits_every_team
from registrations.testing import registration_test_send

log = logging.getLogger("notifier.api")


_STORE_DOWN = error_responses(503)  # a save reaches the DynamoDB registrations table
_STALE_OR_DOWN = error_responses(412, 503)


@extend_schema_view(
    retrieve=extend_schema(parameters=[ETAG_HEADER]),
    create=extend_schema(
        request=NewRegistrationSerializer,
        parameters=[ETAG_HEADER],
        responses={201: RegistrationSerializer, **_STORE_DOWN},
    ),
    update=extend_schema(
        parameters=[IF_MATCH, ETAG_HEADER],
        responses={200: RegistrationSerializer, **_STALE_OR_DOWN},
    ),
    partial_update=extend_schema(
        parameters=[IF_MATCH, ETAG_HEADER],
        responses={200: RegistrationSerializer, **_STALE_OR_DOWN},
    ),
    destroy=extend_schema(parameters=[IF_MATCH], responses={204: None, **_STALE_OR_DOWN}),
)
class RegistrationViewSet(viewsets.ModelViewSet):
    """Registered CodeDeploy applications and their notification setups.

    POST the original service's shape:
    `{"codedeploy_application_name": "...", "notifications": [{"newrelic_notification":
    {"application_name": "..."}}]}`. PUT or PATCH with `notifications` replaces the setups:
    include a setup's `id` to keep and update it.

    A single registration's reads and writes answer its `ETag`; send it back as `If-Match` on
    PUT, PATCH or DELETE and a registration changed since you read it answers 412 instead of
    being overwritten (`If-Match: *`: it must exist).
    """

    serializer_class = RegistrationSerializer
    queryset = Registration.objects.select_related("team", "source").prefetch_related("setups")

    def get_queryset(self):
        """Staff see every registration; anyone else, their teams' only."""
        rows = super().get_queryset()
        user = self.request.user
        return rows if user_edits_every_team(user) else rows.filter(team__in=user.groups.all())

    def _team(self, serializer, *, current):
        try:
            return team_for_save(
                user=self.request.user,
                team=serializer.validated_data.get("team"),
                given="team" in serializer.validated_data,
                current=current,
            )
        except TeamNotAllowed as exc:  # raised before saving: the request changes nothing
            raise exceptions.ValidationError({"team": [str(exc)]}) from None

    def _etag_added(self, response: Response) -> Response:
        if response.status_code < 300 and getattr(self, "_saved", None) is not None:
            response["ETag"] = registration_etag(registration=self._saved)
        return response

    def _locked(self) -> None:
        """Lock the row for this request's transaction and note its ETag, which If-Match is
        checked against once the body is valid. No such registration is a 404 whatever the
        preconditions say: a write by id never creates one (RFC 9110: 404 before 412)."""
        self._current = None
        lookup = str(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if not lookup.isdigit():
            return  # get_object() answers the 404
        locked = self.get_queryset().select_for_update(of=("self",)).filter(pk=lookup).first()
        if locked is not None:
            self._current = registration_etag(registration=locked)

    def _preconditions_check(self) -> None:
        if self._current is not None:  # else get_object() has answered the 404
            preconditions_check(self.request, current=self._current)

    def retrieve(self, request, *args, **kwargs):
        self._saved = self.get_object()
        return self._etag_added(Response(self.get_serializer(self._saved).data))

    def create(self, request, *args, **kwargs):
        return self._etag_added(super().create(request, *args, **kwargs))

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            self._locked()
            response = super().update(request, *args, **kwargs)
        return self._etag_added(response)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            self._locked()
            self._preconditions_check()
            return super().destroy(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        fields = {**serializer.validated_data, "team": self._team(serializer, current=None)}
        serializer.instance = registration_create(setups=fields.pop("setups", []), **fields)
        self._saved = serializer.instance
        self._warnings_add(serializer)

    def perform_update(self, serializer) -> None:
        self._preconditions_check()  # the body is valid: a 400 comes before any 412
        team = self._team(serializer, current=serializer.instance.team)
        fields = {**serializer.validated_data, "team": team}
        setups = fields.pop("setups", None)
        serializer.instance = registration_update(
            registration=serializer.instance, fields=fields, setups=setups
        )
        self._saved = serializer.instance
        self._warnings_add(serializer)

    def _warnings_add(self, serializer) -> None:
        saved = serializer.instance
        serializer.context["warnings"] = application_warnings(
            name=saved.codedeploy_application_name, source=saved.source
        )

    @extend_schema(
        request=TestRequestSerializer,
        responses={200: TestResponseSerializer, **error_responses(429)},
        summary="Send a test notification",
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request, pk=None):
        """Send a sample deployment event through every setup of this registration (or the
        one named by `setup`) and report each result; the delivery history is not touched."""
        registration = self.get_object()
        body = TestRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        setup_id = body.validated_data.get("setup")
        if setup_id is not None and not registration.setups.filter(pk=setup_id).exists():
            known = ", ".join(str(pk) for pk in registration.setups.values_list("pk", flat=True))
            raise exceptions.ValidationError(
                {
                    "setup": [
                        f"registration {registration.pk} has no setup {setup_id}; its setups "
                        f"are {known or 'none'}"
                    ]
                }
            )
        rate_limit_take(user=request.user, action="test")  # raises RateLimited: a 429
        results = registration_test_send(
            registration=registration, setup_id=setup_id, event=body.validated_data.get("event")
        )
        return Response(
            {
                "delivered": all(r.delivered for r in results),
                "results": [r.as_dict() for r in results],
            }
        )

    def perform_destroy(self, instance: Registration) -> None:
        registration_delete(registrations=[instance])  # DynamoDB refuses -> nothing deleted


@extend_schema_view(test=extend_schema(exclude=True))
class RegistrationTestAlias(RegistrationViewSet):
    """`POST /api/registrations/<id>/test` without the trailing slash; documented once, under
    the router's path."""


def exception_handler(exc, context):
    """DRF's handler with clearer words for malformed JSON and wrong content types, and a
    JSON 500 (never a stack trace) for anything unexpected."""
    if isinstance(exc, exceptions.ParseError):
        detail = str(exc.detail).replace("JSON parse error - ", "")
        return Response(
            {"detail": f"The request body is not valid JSON: {detail}"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(
            {
                "detail": f"{exc.detail} Send the body as JSON with "
                "'Content-Type: application/json'."
            },
            status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    if isinstance(exc, RateLimited):
        return Response(
            {"detail": f"{str(exc)[0].upper()}{str(exc)[1:]}.", "code": "rate_limited"},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, RequestDataTooBig):  # Django's, raised when DRF reads request.body
        message = body_too_large_message(size=None, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return Response({"detail": message}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SetupsInvalid):  # raised inside the save's transaction: nothing kept
        exc = exceptions.ValidationError({"notifications": exc.errors})
    if isinstance(exc, RegistrationStoreError):
        return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {
                "detail": "Internal error; it has been logged. Try again, and tell "
                "the service's operators if it persists."
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return response


def not_found(request, exception=None):
    """Django's 404 for a path no route matches (an id that is not a number): JSON under the
    API's paths, as every other API answer is; the HTML page elsewhere."""
    if request.path.startswith("/api/") or request.path == "/registrations":
        return JsonResponse(
            {"detail": "No such API path: check the id in it, and /api/docs/ for the paths."},
            status=404,
        )
    return defaults.page_not_found(request, exception)

"""The REST API's sources: `/api/sources/`. Anyone signed in may list and read them (a
registration names one); only staff may add, change or delete one."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.validators import UniqueValidator

from registrations.api_fields import StrictCharField, StrictModelSerializer
from registrations.api_schema import error_responses
from registrations.sources import (
    EXTERNAL_ID_SHAPE,
    NAME_SHAPE,
    QUEUE_URL_SHAPE,
    REGION_SHAPE,
    ROLE_ARN_SHAPE,
    Source,
    SourceInUse,
    source_delete,
    source_save,
)
from registrations.teams import user_edits_every_team


class SourceSerializer(StrictModelSerializer):
    external_id = StrictCharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=1224,
        help_text="Optional sts:ExternalId for the role; never returned (see external_id_set). "
        "Left out of an update, it is kept.",
    )
    external_id_set = serializers.SerializerMethodField(
        help_text="Whether an external id is stored."
    )

    class Meta:
        model = Source
        fields = (
            "id",
            "name",
            "region",
            "credentials",
            "role_arn",
            "external_id",
            "external_id_set",
            "queue_url",
            "account_id",
            "enabled",
            "is_default",
            "last_checked",
            "check_error",
            "created_at",
            "updated_at",
        )
        # The shapes source_problems() checks, stated in the document (see ApiAutoSchema).
        schema_patterns = {
            "name": NAME_SHAPE,
            "region": REGION_SHAPE,
            "role_arn": ROLE_ARN_SHAPE,
            "external_id": EXTERNAL_ID_SHAPE,
            "queue_url": QUEUE_URL_SHAPE,
        }
        read_only_fields = (
            "id",
            "account_id",
            "is_default",
            "last_checked",
            "check_error",
            "created_at",
            "updated_at",
        )
        extra_kwargs = {
            "name": {
                "validators": [
                    UniqueValidator(
                        queryset=Source.objects.all(),
                        message="a source with this name exists already: choose another name",
                    )
                ]
            }
        }

    def get_external_id_set(self, source: Source) -> bool:
        return bool(source.external_id)


class StaffWrites(permissions.BasePermission):
    message = "only staff may add, change or delete sources; anyone signed in may read them"

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return user_edits_every_team(request.user)


class SourceInUseError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "source_in_use"


@extend_schema_view(destroy=extend_schema(responses={204: None, **error_responses(409)}))
class SourceViewSet(viewsets.ModelViewSet):
    """AWS accounts and regions the service watches. Saving a source checks which account it
    acts in (STS GetCallerIdentity): `account_id` holds the answer, or `check_error` says why
    there is none (a role whose trust policy is not in place yet is saved, not refused, so it
    can be set up in either order)."""

    serializer_class = SourceSerializer
    queryset = Source.objects.all()
    permission_classes = [permissions.IsAuthenticated, StaffWrites]

    def _save(self, serializer, source: Source | None) -> None:
        try:
            serializer.instance = source_save(source=source, fields=dict(serializer.validated_data))
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None

    def perform_create(self, serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer) -> None:
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance: Source) -> None:
        try:
            source_delete(source=instance)
        except SourceInUse as exc:
            raise SourceInUseError(str(exc)) from None

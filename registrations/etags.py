"""Entity tags for registrations, and the If-Match / If-None-Match preconditions.

A registration's ETag is strong and derived from what is stored: its REST document (every
field and setup but the secrets) and when the registration and each setup were last saved,
which changes whenever a secret is written. Two tools that edit one registration at once
send the ETag they read as If-Match; the second write finds it stale and gets 412 instead of
overwriting the first.
"""

from __future__ import annotations

import hashlib
import json

from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status

from registrations.models import Registration
from registrations.serializers import registration_document

STALE = (
    "If-Match: the registration changed since it was read (its ETag is now {current}); GET it "
    "again, apply your change to what it holds now, and send the new ETag"
)

ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The registration's ETag: send it back as If-Match when you change it.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag you read; a registration changed since answers 412. * : it must exist.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="* : create only (412 if the registration exists).",
)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"


def registration_etag(*, registration: Registration) -> str:
    """The registration's strong ETag, quoted as the header carries it."""
    saved = list(registration.setups.order_by("pk").values_list("pk", "updated_at"))
    content = {
        "document": registration_document(registration=registration),
        "saved": [registration.updated_at.isoformat()]
        + [f"{pk}:{when.isoformat()}" for pk, when in saved],
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def preconditions_check(request, *, current: str | None, writing: bool = True) -> None:
    """Raise PreconditionFailed (412) when the request's If-Match or If-None-Match does not
    hold for a registration whose ETag is `current` (None: there is none).

    `If-Match: *` means "it must exist"; `If-None-Match: *` on a write means "create only".
    Weak tags (W/"...") never match: the comparison is strong."""
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        tags = _tags(if_match)
        if current is None:
            raise PreconditionFailed(
                "If-Match: there is no such registration (it was deleted, or never existed); "
                "leave If-Match out to create it"
            )
        if "*" not in tags and current not in tags:
            raise PreconditionFailed(STALE.format(current=current))
    if_none_match = request.headers.get("If-None-Match")
    if writing and if_none_match is not None and current is not None:
        tags = _tags(if_none_match)
        if "*" in tags or current in tags:
            raise PreconditionFailed(
                "If-None-Match: the registration exists already; GET it and update it with "
                f"If-Match: {current}, or leave If-None-Match out to replace it"
            )

"""Schemathesis hooks for the OpenAPI contract test (loaded through SCHEMATHESIS_HOOKS).

One failure is dropped, narrowly: a request the document calls valid, refused with 400
because of a rule the document does not state: one that depends on what is stored or
configured, or ties one field to another. Each such rule is listed below with the message
the API gives; a 400 with any other message (a rule the document could state) still fails
the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

# field -> the messages of rules the document does not state, each with why.
UNSTATED_RULES = {
    # A registration names a source and a team by name: they must exist (and the caller
    # must be in the team); which names exist changes as sources and teams are added.
    "source": r"^source .* does not exist|^'.*' does not exist; name one of /api/sources/",
    "team": r"^team .* does not exist|^team must be one of your teams",
    # Names are unique, and a source's name is fixed once stored: it depends on what is stored.
    "name": r"^a source with this name exists already|^a source's name cannot be changed",
    "codedeploy_application_name": r"' is registered already",
    # A document names each registration once: items equal in source and application name
    # but not in everything else, which uniqueItems (whole items) cannot say.
    "registrations": r"^the document names it twice",
    # A setup's id must be one of this registration's setups.
    "id": r"^this registration has no setup \d+",
    # A test send may name one setup: one of the registration's own, whichever it has now.
    "setup": r"^registration \d+ has no setup \d+; its setups are",
    # Rules across fields (one field required or forbidden by another's value): OpenAPI 3.0
    # has no if/then, and a oneOf per combination would make every generated client's
    # types unusable.
    "credentials": r"^the default source always uses the service's own|"
    r"^a role_arn or external_id is given but credentials is 'own'",
    "role_arn": r"^role_arn is required when credentials is 'role'",
    "application_name": r"^The REST API needs the APM application name",
    "entity_guid": r"^NerdGraph change tracking needs the entity GUID",
    "webhook_url": r"^Give an incoming webhook URL|^This URL ",
    "bot_token": r"^Give an incoming webhook URL or a bot token, not both",
    "channel": r"^With a bot token, name the channel",
    # Where a URL may point is decided by resolving its host (never a private or loopback
    # address) and by NOTIFIER_* settings, not by its text.
    "url": r"^This URL ",
    # Which SNS topics and SES senders a setup may use is configuration
    # (NOTIFIER_SNS_TOPIC_ALLOWED, NOTIFIER_SES_FROM_ALLOWED) and the account's identity.
    "topic": r"^topic: |^topic .* is not one this service may publish to",
    # Django's email address check (quoted local parts, IDNA domains...) is more than a
    # pattern can say, and the number of addresses is NOTIFIER_MAX_RECIPIENTS.
    "recipients": r"^Not an email address|^Give at least one email address|^recipients: at most",
    "from_address": r"is not an address this service may send as",
}
RULES = {field: re.compile(pattern) for field, pattern in UNSTATED_RULES.items()}
# POST /api/registrations/apply names each problem in one line, "<registration>: <field path>:
# <message>" (the registration is source/application, or registrations[<index>] before its
# source is known); the field is the path's last part, and the same rules hold.
APPLIED = re.compile(r"^(?:registrations\[\d+\]|[^:/\s]+/[^:]*): (?:(?P<path>[\w.\[\]]+): )?")
FIELD_IN_PATH = re.compile(r"(\w+)(?:\[\d+\])?$")


def _messages(errors: Any, field: str = "") -> Iterator[tuple[str, str]]:
    """(field, message) for every message in a field-errors body, nested ones included."""
    if isinstance(errors, str):
        applied = APPLIED.match(errors) if field == "non_field_errors" else None
        if applied is None:
            yield field, errors
        else:
            path = FIELD_IN_PATH.search(applied["path"] or "") if applied["path"] else None
            yield (path[1] if path else "registrations"), errors[applied.end() :]
    elif isinstance(errors, list):
        for item in errors:
            yield from _messages(item, field)
    elif isinstance(errors, dict):
        for key, value in errors.items():
            yield from _messages(value, key if not key.endswith("_notification") else field)


def refused_by_stateful_rule(status_code: int, body: bytes) -> bool:
    if status_code != 400:
        return False
    try:
        messages = list(_messages(json.loads(body)))
    except ValueError:
        return False
    return bool(messages) and all(
        field in RULES and RULES[field].search(message) for field, message in messages
    )


def refused_by_precondition(status_code: int, headers: dict[str, Any]) -> bool:
    """412 answers If-Match (the ETag the registration has now) or If-None-Match (whether it
    exists): what is stored, which a document cannot state."""
    sent = {name.lower() for name in headers or {}}
    return status_code == 412 and bool(sent & {"if-match", "if-none-match"})


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    if isinstance(failure, RejectedPositiveData):
        return not (
            refused_by_stateful_rule(response.status_code, response.content)
            or refused_by_precondition(response.status_code, case.headers)
        )
    return True

"""Create-or-replace of a registration by (source, application): the body is the whole truth.

A replacing body gives the registration's every field and every setup. A field it leaves out
goes back to its default (enabled, every deployment group, the kind's default events, no
template), except the team, which stays, and secrets: secrets are write-only, so a body read
back from the API has none. Each setup of the body is matched to a stored setup: by its `id`,
else by kind and the kind's non-secret fields (a Slack setup's channel, a New Relic setup's
application name...), else by kind in order. A matched setup is updated in place and keeps
its stored secrets where the body leaves them out or empty; stored setups left unmatched are
deleted.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from channels.registry import module_for
from channels.secrets import secret_field_names
from registrations.models import NotificationSetup, Registration
from registrations.services import SetupData, registration_create, registration_update

COMMON_FIELDS = ("events", "enabled", "deployment_groups")
REGISTRATION_DEFAULTS = {"enabled": True, "deployment_groups": ""}


def setup_field_names(kind: str) -> tuple[str, ...]:
    """Every field a setup of `kind` has in the REST shape but its id, secrets included."""
    module = module_for(kind)
    parts = getattr(module, "TEMPLATE_PARTS", ("subject", "body"))
    return (*COMMON_FIELDS, *module.SETUP_FIELDS, *(f"{part}_template" for part in parts))


def identity_field_names(kind: str) -> tuple[str, ...]:
    """The kind's own non-secret fields: what tells two setups of one kind apart."""
    secrets = set(secret_field_names(module_for(kind).SETUP_MODEL))
    return tuple(n for n in module_for(kind).SETUP_FIELDS if n not in secrets)


def setup_defaults_filled(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with every non-secret field it leaves out at its default; events default to
    the kind's default events."""
    model = module_for(kind).SETUP_MODEL
    secrets = set(secret_field_names(model))
    filled = dict(fields)
    for name in setup_field_names(kind):
        if name not in filled and name not in secrets:
            filled[name] = model._meta.get_field(name).get_default()
    if not filled.get("events"):
        filled["events"] = list(module_for(kind).DEFAULT_EVENTS)
    return filled


def setup_values(setup: NotificationSetup) -> dict[str, Any]:
    """A stored setup's fields (secrets as their values), as setup_defaults_filled gives them."""
    typed = setup.typed()
    return {name: getattr(typed, name) for name in setup_field_names(typed.kind)}


def setups_matched(
    *, stored: list[models.Model], setups: list[SetupData]
) -> list[tuple[str, dict[str, Any], models.Model | None]]:
    """Each setup of the body (defaults filled in) with the stored setup it replaces, or None.

    `stored` are the registration's typed setups, in id order."""
    wanted = [(kind, setup_defaults_filled(kind, fields)) for kind, fields in setups]
    free = {s.pk: s for s in stored}
    matches: list[models.Model | None] = [None] * len(wanted)

    def take(index: int, setup: models.Model) -> None:
        matches[index] = free.pop(setup.pk)

    for index, (kind, fields) in enumerate(wanted):
        setup = free.get(fields.get("id"))
        if setup is not None and setup.kind == kind:
            take(index, setup)
    for index, (kind, fields) in enumerate(wanted):
        names = identity_field_names(kind)
        for setup in list(free.values()) if matches[index] is None else []:
            if setup.kind == kind and all(getattr(setup, n) == fields.get(n) for n in names):
                take(index, setup)
                break
    for index, (kind, _fields) in enumerate(wanted):
        for setup in list(free.values()) if matches[index] is None else []:
            if setup.kind == kind:
                take(index, setup)
                break
    return [(kind, fields, match) for (kind, fields), match in zip(wanted, matches, strict=True)]


def setups_ready(
    matches: list[tuple[str, dict[str, Any], models.Model | None]],
) -> list[SetupData]:
    """Matched setups (setups_matched) ready for registration_update: a matched setup carries
    the stored setup's id, and secrets left out or empty are dropped so the stored ones stay."""
    out: list[SetupData] = []
    for kind, fields, match in matches:
        fields = dict(fields)
        fields.pop("id", None)
        if match is not None:
            fields["id"] = match.pk
            for name in secret_field_names(module_for(kind).SETUP_MODEL):
                if not fields.get(name):
                    fields.pop(name, None)
        out.append((kind, fields))
    return out


def stored_setups(*, registration: Registration) -> list[models.Model]:
    return [s.typed() for s in registration.setups.order_by("pk")]


def setups_for_replace(*, registration: Registration, setups: list[SetupData]) -> list[SetupData]:
    stored = stored_setups(registration=registration)
    return setups_ready(setups_matched(stored=stored, setups=setups))


def registration_upsert(
    *, existing: Registration | None, fields: dict[str, Any], setups: list[SetupData]
) -> tuple[Registration, bool]:
    """Create the registration, or replace `existing` with `fields` and `setups` (see the
    module's docstring). Returns it and whether it was created. Errors as
    registration_create and registration_update raise them; nothing is saved then."""
    if existing is None:
        return registration_create(setups=setups, **{**REGISTRATION_DEFAULTS, **fields}), True
    fields = {**REGISTRATION_DEFAULTS, **fields}
    fields.pop("source", None)
    fields.pop("codedeploy_application_name", None)
    replaced = setups_for_replace(registration=existing, setups=setups)
    return registration_update(registration=existing, fields=fields, setups=replaced), False

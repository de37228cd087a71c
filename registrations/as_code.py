"""Registrations as code: the YAML document, reading it safely, and `${VAR}` secrets.

The document is `{"registrations": [<the REST API's shape, with source>...]}`. An exported
document never holds a secret: each stored secret is written as a `${VAR}` reference with a
stable, readable name (`${SLACK_STOREFRONT_WEBHOOK_URL}`), which `manage.py registrations
apply` reads from the environment.

Reading is bounded: a size limit, YAML's safe loader only, no anchors or aliases (so no
"billion laughs" expansion), and a nesting limit checked on the event stream before any
object is built.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.conf import settings
from django.contrib.auth.models import Group

from channels.registry import API_KEYS, module_for
from channels.secrets import secret_field_names
from registrations.models import Registration
from registrations.serializers import registration_document
from registrations.sources import Source

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NOT_NAME = re.compile(r"[^A-Z0-9]+")
_DROPPED_WHEN_EMPTY = ("deployment_groups", "subject_template", "body_template")


class _Dumper(yaml.SafeDumper):
    """Writes every value out in full: the reader refuses anchors and aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


class DocumentInvalid(Exception):
    """The document cannot be read or applied; `errors` say where and what to do."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _events_check(text: str | bytes) -> None:
    depth, limit = 0, settings.NOTIFIER_MAX_JSON_DEPTH
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise DocumentInvalid(
                [
                    "YAML anchors and aliases (&name, *name) are not accepted: write each "
                    "registration out in full"
                ]
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limit:
                raise DocumentInvalid(
                    [f"the document nests deeper than {limit} levels; a registration needs 5"]
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def document_load(text: str | bytes) -> Any:
    """Parse a YAML (or JSON, which is YAML) document, within NOTIFIER_MAX_REQUEST_BYTES."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    size = len(text.encode() if isinstance(text, str) else text)
    if limit is not None and size > limit:
        raise DocumentInvalid(
            [
                f"the document is {size} bytes; at most {limit} are read "
                "(NOTIFIER_MAX_REQUEST_BYTES): split it, e.g. one file per team"
            ]
        )
    try:
        _events_check(text)
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (the safe loader)
    except yaml.YAMLError as exc:
        raise DocumentInvalid([f"the document is not valid YAML: {exc}"]) from None


def document_entries(document: Any) -> list[dict[str, Any]]:
    """The registrations of a loaded document, its shape checked."""
    shape = 'give a mapping with a "registrations:" list of registrations'
    if not isinstance(document, dict) or "registrations" not in document:
        raise DocumentInvalid([f"the document has no registrations: {shape}"])
    extra = sorted(str(k) for k in document if k != "registrations")
    if extra:
        raise DocumentInvalid([f"unknown top-level key {', '.join(extra)}: {shape}"])
    entries = document["registrations"]
    if not isinstance(entries, list):
        raise DocumentInvalid([f"registrations must be a list: {shape}"])
    errors = [
        f"registrations[{i}] must be a mapping of a registration's fields"
        for i, entry in enumerate(entries)
        if not isinstance(entry, dict)
    ]
    if errors:
        raise DocumentInvalid(errors)
    return entries


def _walk(value: Any, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def references_substituted(
    entries: list[dict[str, Any]], *, environ: dict[str, str] | None, labels: list[str]
) -> list[dict[str, Any]]:
    """`entries` with each `${VAR}` replaced by the variable's value from `environ`.

    environ=None (the API) refuses references: its caller sends the values. A missing
    variable is an error naming it, the registration and the field; nothing is replaced
    then."""
    errors = []
    for entry, label in zip(entries, labels, strict=True):
        for path, text in _walk(entry, ""):
            for name in REFERENCE.findall(text):
                if environ is None:
                    errors.append(
                        f"{label}: {path}: ${{{name}}} is a reference; the API takes secrets as "
                        "values (only `manage.py registrations apply` reads ${...} from the "
                        "environment)"
                    )
                elif name not in environ:
                    errors.append(f"{label}: {path}: the environment variable {name} is not set")
    if errors:
        raise DocumentInvalid(errors)
    if environ is None:
        return entries

    def replace(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: replace(v) for k, v in value.items()}
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, str):
            return REFERENCE.sub(lambda m: environ[m.group(1)], value)
        return value

    return [replace(entry) for entry in entries]


def variable_name(*parts: str) -> str:
    return _NOT_NAME.sub("_", "_".join(parts).upper()).strip("_") or "SECRET"


def _entry(registration: Registration, taken: set[str]) -> dict[str, Any]:
    document = registration_document(registration=registration)
    entry = {k: v for k, v in document.items() if k not in ("id", "created_at", "updated_at")}
    entry["source"] = registration.source.name
    prefix = () if registration.source.is_default else (registration.source.name,)
    stored = {s.pk: s.typed() for s in registration.setups.all()}
    for item in entry["notifications"]:
        ((key, fields),) = item.items()
        setup = stored[fields.pop("id")]
        for name in _DROPPED_WHEN_EMPTY:
            if fields.get(name) == "":
                fields.pop(name)
        for name in secret_field_names(module_for(API_KEYS[key]).SETUP_MODEL):
            if getattr(setup, name, ""):
                base = variable_name(
                    *prefix, setup.kind, registration.codedeploy_application_name, name
                )
                variable, number = base, 1
                while variable in taken:
                    number += 1
                    variable = f"{base}_{number}"
                taken.add(variable)
                fields[name] = f"${{{variable}}}"
    if entry.get("deployment_groups") == "":
        entry.pop("deployment_groups")
    return entry


def registrations_export(
    *, team: Group | None = None, source: Source | None = None
) -> tuple[str, list[str]]:
    """The YAML document of every registration (of `team`, of `source`), and the names of
    the environment variables its secret references need, in order."""
    rows = Registration.objects.select_related("source", "team").prefetch_related("setups")
    if team is not None:
        rows = rows.filter(team=team)
    if source is not None:
        rows = rows.filter(source=source)
    taken: set[str] = set()
    entries = [
        _entry(r, taken) for r in rows.order_by("source__name", "codedeploy_application_name")
    ]
    text = yaml.dump(
        {"registrations": entries}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return text, [name for _path, v in _walk(entries, "") for name in REFERENCE.findall(v)]

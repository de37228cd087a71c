"""Apply a registrations document: compare it with what is stored, then apply all or nothing.

Every registration of the document is checked first (fields, setups, team rules, secrets);
any error refuses the whole document, naming the registration and the field, and nothing is
written. The writes then run in ONE transaction through registrations.upsert, so a failure
halfway leaves every registration as it was. A registration the document already describes
is not written at all: applying the same document twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from channels.registry import api_key, module_for
from channels.secrets import secret_field_names
from registrations.as_code import DocumentInvalid
from registrations.models import Registration
from registrations.serializers import RegistrationSerializer
from registrations.services import registration_delete
from registrations.sources import Source, source_default
from registrations.teams import user_edits_every_team
from registrations.upsert import (
    REGISTRATION_DEFAULTS,
    registration_upsert,
    setup_field_names,
    setup_values,
    setups_matched,
    setups_ready,
    stored_setups,
)

SECRET_CHANGED = "(changed)"


@dataclass
class Planned:
    label: str
    existing: Registration | None
    fields: dict[str, Any]
    setups: list
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApplyReport:
    added: list[str] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "applied": self.applied,
        }

    def lines(self) -> list[str]:
        out = [f"+ {label} (added)" for label in self.added]
        for change in self.changed:
            out.append(f"~ {change['registration']} (changed)")
            for name, value in change["fields"].items():
                if isinstance(value, dict):
                    value = f"{value['from']!r} -> {value['to']!r}"
                out.append(f"    {name}: {value}")
        out += [f"- {label} (removed)" for label in self.removed]
        if not (self.added or self.changed or self.removed):
            out.append(f"no changes ({self.unchanged} unchanged)")
        else:
            out.append(
                f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} "
                f"removed, {self.unchanged} unchanged"
                + ("" if self.applied else " (dry run: nothing applied)")
            )
        return out


def registration_label(*, source: Source, application: str) -> str:
    return f"{source.name}/{application}"


def _flat(errors: Any, path: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [m for k, v in errors.items() for m in _flat(v, f"{path}.{k}" if path else k)]
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return [f"{path}: {e}" for e in errors]
    if isinstance(errors, list):
        return [m for i, e in enumerate(errors) for m in _flat(e, f"{path}[{i}]")]
    return [f"{path}: {errors}"]


def _setup_changes(matches, stored) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for index, (kind, fields, match) in enumerate(matches):
        prefix = f"notifications[{index}].{api_key(kind)}"
        if match is None:
            changes[prefix] = "added"
            continue
        current = setup_values(match)
        secrets = set(secret_field_names(module_for(kind).SETUP_MODEL))
        for name in setup_field_names(kind):
            if name in secrets:
                if fields.get(name) and fields[name] != current[name]:
                    changes[f"{prefix}.{name}"] = SECRET_CHANGED
            elif fields.get(name) != current[name]:
                changes[f"{prefix}.{name}"] = {"from": current[name], "to": fields.get(name)}
    kept = {m.pk for _k, _f, m in matches if m is not None}
    for setup in stored:
        if setup.pk not in kept:
            changes[f"notifications: {api_key(setup.kind)} {setup.pk}"] = "removed"
    return changes


def _setups_check(planned: Planned) -> list[str]:
    """Run each setup's own validation (the model's, as saving would) without saving."""
    errors = []
    for index, (kind, fields) in enumerate(planned.setups):
        model = module_for(kind).SETUP_MODEL
        fields = dict(fields)
        setup_id = fields.pop("id", None)
        setup = model.objects.get(pk=setup_id) if setup_id else model()
        for name, value in fields.items():
            setattr(setup, name, value)
        try:
            setup.full_clean(exclude=["registration"])
        except ValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            path = f"notifications[{index}].{api_key(kind)}"
            errors += [f"{planned.label}: {m}" for m in _flat(detail, path)]
    return errors


def _team(entry, validated, existing, *, user, scope: Group | None, label: str):
    """The team the registration ends with, and why it may not, if so."""
    if "team" in entry:
        team = validated.get("team")
    elif existing is not None:
        team = existing.team
    else:
        team = scope
        if team is None and user is not None and not user_edits_every_team(user):
            mine = list(user.groups.all())
            team = mine[0] if len(mine) == 1 else None
    owners = [t for t in (team, existing.team if existing else None) if t is not None]
    if scope is not None and (team != scope or (existing and existing.team != scope)):
        named = ", ".join(sorted({t.name for t in owners})) or "no team"
        return team, (
            f"{label}: team: belongs to {named}, outside team {scope.name} that this apply is "
            "limited to (--team, ?team=)"
        )
    if user is not None and not user_edits_every_team(user):
        mine = {g.pk for g in user.groups.all()}
        if team is None or any(t.pk not in mine for t in owners):
            other = ", ".join(sorted({t.name for t in owners if t.pk not in mine})) or "no team"
            return team, (
                f"{label}: team: the registration would belong to {other}, and you may apply "
                "only your own teams' registrations; ask that team or staff, or leave it out"
            )
    return team, None


def _plan_one(entry: dict[str, Any], index: int, *, user, scope) -> tuple[Planned | None, list]:
    name = entry.get("codedeploy_application_name")
    source_name = entry.get("source")
    if not isinstance(name, str) or not isinstance(source_name, str | None) or source_name == "":
        what = (
            "codedeploy_application_name: give a name (text)"
            if not isinstance(name, str)
            else "source: give a source's name (text), or leave source out for the default source"
        )
        return None, [f"registrations[{index}]: {what}"]
    source = Source.objects.filter(name=source_name).first() if source_name else source_default()
    if source is None:
        message = f"source: {source_name!r} does not exist; name one of /api/sources/"
        return None, [f"registrations[{index}]: {message}"]
    name = name.strip()
    label = registration_label(source=source, application=name)
    if "notifications" not in entry:
        return None, [f"{label}: notifications: give the registration's every setup"]
    existing = Registration.objects.filter(source=source, codedeploy_application_name=name).first()
    data = {**entry, "source": source.name}
    serializer = RegistrationSerializer(instance=existing, data=data, context={"request": None})
    if not serializer.is_valid():
        return None, [f"{label}: {m}" for m in _flat(serializer.errors)]
    validated = serializer.validated_data
    team, refused = _team(entry, validated, existing, user=user, scope=scope, label=label)
    fields = {**REGISTRATION_DEFAULTS, **validated, "team": team}
    given = fields.pop("setups", None) or []
    stored = stored_setups(registration=existing) if existing else []
    matches = setups_matched(stored=stored, setups=given)
    planned = Planned(label=label, existing=existing, fields=fields, setups=setups_ready(matches))
    if existing is not None:
        for key in ("enabled", "deployment_groups", "team"):
            before, after = getattr(existing, key), fields[key]
            if before != after:
                show = (lambda t: t.name if t else None) if key == "team" else (lambda v: v)
                planned.changes[key] = {"from": show(before), "to": show(after)}
        planned.changes.update(_setup_changes(matches, stored))
    unchanged = existing is not None and not planned.changes  # stored, so valid already
    return planned, ([refused] if refused else []) + ([] if unchanged else _setups_check(planned))


def _scope(*, user, team: Group | None):
    rows = Registration.objects.select_related("source", "team")
    if team is not None:
        return rows.filter(team=team)
    if user is not None and not user_edits_every_team(user):
        return rows.filter(team__in=user.groups.all())
    return rows


def registrations_apply(
    *,
    entries: list[dict[str, Any]],
    user=None,
    team: Group | None = None,
    prune: bool = False,
    dry_run: bool = False,
) -> ApplyReport:
    """Make the stored registrations what `entries` say (see the module's docstring).

    `user` None acts for staff; a non-staff user applies only their teams' registrations.
    `team` limits the document (every registration must be that team's) and what `prune`
    removes: registrations in scope (that team, else the user's teams, else all) that the
    document does not name. DocumentInvalid lists every error; nothing is applied then."""
    outsider = user is not None and not user_edits_every_team(user)
    if team is not None and outsider and not user.groups.filter(pk=team.pk).exists():
        raise DocumentInvalid([f"team: you are not a member of {team.name}"])
    plans, errors, seen = [], [], set()
    for index, entry in enumerate(entries):
        planned, problems = _plan_one(entry, index, user=user, scope=team)
        errors += problems
        if planned is not None:
            if planned.label in seen:
                errors.append(f"{planned.label}: the document names it twice; keep one")
            seen.add(planned.label)
            plans.append(planned)
    if errors:
        raise DocumentInvalid(errors)
    report = ApplyReport()
    named = {p.existing.pk for p in plans if p.existing is not None}
    pruned = [r for r in _scope(user=user, team=team).exclude(pk__in=named)] if prune else []
    for planned in plans:
        if planned.existing is None:
            report.added.append(planned.label)
        elif planned.changes:
            report.changed.append({"registration": planned.label, "fields": planned.changes})
        else:
            report.unchanged += 1
    report.removed = [
        registration_label(source=r.source, application=r.codedeploy_application_name)
        for r in pruned
    ]
    if dry_run:
        return report
    with transaction.atomic():
        for planned in plans:
            if planned.existing is None or planned.changes:
                registration_upsert(
                    existing=planned.existing, fields=planned.fields, setups=planned.setups
                )
        if pruned:
            registration_delete(registrations=pruned)
    report.applied = True
    return report

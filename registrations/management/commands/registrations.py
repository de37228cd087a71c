"""`manage.py registrations export|apply`: registrations as code (registrations/as_code.py)."""

from __future__ import annotations

import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registrations.apply import registrations_apply
from registrations.as_code import (
    DocumentInvalid,
    document_entries,
    document_load,
    references_substituted,
    registrations_export,
)
from registrations.services import SetupsInvalid
from registrations.sources import Source
from registrations.storage import RegistrationStoreError


def _team(name: str | None) -> Group | None:
    if name is None:
        return None
    team = Group.objects.filter(name=name).first()
    if team is None:
        known = ", ".join(Group.objects.order_by("name").values_list("name", flat=True))
        raise CommandError(f"--team: no team named {name!r}; teams: {known or 'none'}")
    return team


class Command(BaseCommand):
    help = (
        "Registrations as code. `export` writes every registration as YAML (secrets as "
        "${VAR} references); `apply FILE` makes the registrations what FILE says, all or "
        "nothing, after showing the differences."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="write the registrations as YAML")
        export.add_argument("--team", help="only this team's registrations")
        export.add_argument("--source", help="only this source's registrations")
        export.add_argument("-o", "--output", help="write to this file (default: stdout)")
        apply = actions.add_parser("apply", help="apply a YAML (or JSON) file")
        apply.add_argument("file", help="the document; - reads stdin")
        apply.add_argument("--dry-run", action="store_true", help="show the differences only")
        apply.add_argument(
            "--prune",
            action="store_true",
            help="remove registrations in scope (--team, or --as-user's teams) the file omits",
        )
        apply.add_argument("--team", help="every registration must be this team's")
        apply.add_argument("--as-user", help="apply with this user's team rules")

    def handle(self, *args, action: str, **options):
        if action == "export":
            return self._export(**options)
        return self._apply(**options)

    def _export(self, *, team=None, source=None, output=None, **_options):
        found = None
        if source is not None:
            found = Source.objects.filter(name=source).first()
            if found is None:
                known = ", ".join(Source.objects.order_by("name").values_list("name", flat=True))
                raise CommandError(f"--source: no source named {source!r}; sources: {known}")
        text, variables = registrations_export(team=_team(team), source=found)
        if output:
            with open(output, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            self.stdout.write(text, ending="")
        if variables:
            self.stderr.write(
                f"applying it needs {len(variables)} environment variables: {', '.join(variables)}"
            )

    def _apply(self, *, file, dry_run=False, prune=False, team=None, as_user=None, **_options):
        user = None
        if as_user is not None:
            user = get_user_model().objects.filter(username=as_user, is_active=True).first()
            if user is None:
                raise CommandError(f"--as-user: no active user named {as_user!r}")
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, "rb") as source:
                    text = source.read()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            entries = document_entries(document_load(text))
            labels = [
                f"registrations[{i}] ({e.get('codedeploy_application_name', '?')})"
                for i, e in enumerate(entries)
            ]
            entries = references_substituted(entries, environ=dict(os.environ), labels=labels)
            report = registrations_apply(
                entries=entries, user=user, team=_team(team), prune=prune, dry_run=dry_run
            )
        except DocumentInvalid as exc:
            raise CommandError(
                "nothing was applied:\n" + "\n".join(f"  {e}" for e in exc.errors)
            ) from None
        except (RegistrationStoreError, SetupsInvalid, ValidationError) as exc:
            raise CommandError(f"nothing was applied: {exc}") from None
        for line in report.lines():
            self.stdout.write(line)

"""What the history pages accept from a request: the list's filters, its page number and its
cursors. A wrong value is an error that names the field and says what to do."""

from __future__ import annotations

import re
from dataclasses import fields, replace

from django import forms
from django.http import HttpRequest

from notifier.events import STATUSES, Event
from notifier.history.listing import OUTCOME_LABELS, cursor_decode
from notifier.history.sources import SourceNames
from notifier.storage.history_rows import EARLIEST_DATE, LATEST_DATE, HistoryFilters

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")


class HistoryFilterForm(forms.Form):
    """The deployment list's filters. Unknown values are errors that name the field.

    `source` names a source (registrations.sources); it stands for its account and region,
    which the filters carry to the reader."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="A deployment id, a revision (commit, bucket/key) or a creator.",
    )
    application = forms.CharField(label="Application", required=False, max_length=100)
    deployed_by = forms.CharField(
        label="Deployed by",
        required=False,
        max_length=200,
        help_text="Part of a person's name, a role, or e.g. Auto Scaling.",
    )
    deployment_group = forms.CharField(label="Deployment group", required=False, max_length=100)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status")] + [(s, s) for s in STATUSES]
    )
    event = forms.ChoiceField(
        label="Event",
        required=False,
        choices=[("", "Any event")] + [(e.value, e.label) for e in Event],
    )
    kind = forms.ChoiceField(label="Channel", required=False, choices=[("", "Any channel")])
    outcome = forms.ChoiceField(
        label="Delivery outcome",
        required=False,
        choices=[("", "Any outcome")] + list(OUTCOME_LABELS.items()),
    )
    source = forms.ChoiceField(label="Source", required=False, choices=[("", "Any source")])
    account = forms.CharField(
        label="Account", required=False, max_length=12, help_text="A 12-digit AWS account id."
    )
    region = forms.CharField(
        label="Region", required=False, max_length=32, help_text="An AWS region, e.g. eu-west-1."
    )
    since = forms.DateField(
        label="From date", required=False, widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(
        label="To date", required=False, widget=forms.DateInput({"type": "date"})
    )

    def __init__(
        self, *args, kinds=(), applications=(), sources: SourceNames | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any channel"), *kinds]
        self.application_names = list(applications)
        self.sources = sources or SourceNames([])
        self.fields["source"].choices = [("", "Any source")] + [
            (s.name, s.name) for s in self.sources.labels
        ]
        self.fields["source"].error_messages["invalid_choice"] = (
            "no source is named %(value)s; choose one from the list, or Any source"
        )

    def clean_account(self):
        value = self.cleaned_data.get("account", "").strip()
        if value and not _ACCOUNT.match(value):
            raise forms.ValidationError(
                "the account must be a 12-digit AWS account id, e.g. 123456789012; leave it "
                "empty for any account"
            )
        return value

    def clean_region(self):
        value = self.cleaned_data.get("region", "").strip()
        if value and not _REGION.match(value):
            raise forms.ValidationError(
                "the region must be an AWS region code, e.g. eu-west-1; leave it empty for "
                "any region"
            )
        return value

    def _clean_date(self, name: str, words: str):
        value = self.cleaned_data.get(name)
        if value and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise forms.ValidationError(
                f"the {words} must be between {EARLIEST_DATE.isoformat()} and "
                f"{LATEST_DATE.isoformat()}; leave it empty for no limit"
            )
        return value

    def clean_since(self):
        return self._clean_date("since", "from date")

    def clean_until(self):
        return self._clean_date("until", "to date")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "the to date must be on or after the from date")
        source = self.sources.named(data.get("source") or "")
        if source is not None:
            for name in ("account", "region"):
                mine, asked = getattr(source, name), data.get(name)
                if mine and asked and asked != mine:
                    self.add_error(
                        "source",
                        f"the source {source.name} is {name} {mine}, not {asked}; choose the "
                        f"source or the {name}, not both",
                    )
                    data["source"] = ""
                    break
        return data

    def filters(self) -> HistoryFilters:
        if not self.is_bound:
            return HistoryFilters()
        # The valid filters apply even when another is wrong (its error shows beside it).
        self.is_valid()
        data = self.cleaned_data
        filters = HistoryFilters(
            **{f.name: data.get(f.name) or f.default for f in fields(HistoryFilters)}
        )
        source = self.sources.named(filters.source)
        if source is None:
            return filters
        return replace(
            filters,
            account=filters.account or source.account,
            region=filters.region or source.region,
        )


MAX_PAGE_NUMBER = 1_000_000  # 50 million deployments at 50 a page


def page_number(request: HttpRequest) -> tuple[int, str]:
    """The page asked for (pages are numbered only without a history database), and why it
    was refused when it was."""
    raw = request.GET.get("page", "")
    if not raw:
        return 1, ""
    if raw.isascii() and raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= MAX_PAGE_NUMBER:
        return int(raw), ""
    return 1, (
        f"The page must be a whole number from 1 to {MAX_PAGE_NUMBER:,}; showing the newest "
        "deployments instead."
    )


def cursors(request: HttpRequest) -> tuple[str, str, str]:
    """The list's `before` and `after` cursors; a damaged one is dropped, and said so."""
    before, after = request.GET.get("before", ""), request.GET.get("after", "")
    for name, value in (("before", before), ("after", after)):
        if value and cursor_decode(value) is None:
            return (
                "",
                "",
                (
                    f"The page link is damaged or out of range ({name}=…); showing the newest "
                    "deployments instead. Use the Newer and Older links to page."
                ),
            )
    return before, after, ""

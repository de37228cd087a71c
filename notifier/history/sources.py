"""Which source a deployment came from, for the history pages.

A deployment stores the AWS account and region it ran in; a source (registrations.sources)
is an account and a region with a name. The pages look the name up here, once per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from registrations.sources import Source, source_region


@dataclass(frozen=True)
class SourceLabel:
    """A source as the pages show it."""

    name: str
    account: str
    region: str


class SourceNames:
    """Every source's (account, region), read once: build one per request.

    A source whose account is not known yet (its identity was never checked) matches a
    deployment of its region in any account, after the sources whose account is known."""

    def __init__(self, sources: list[Source] | None = None) -> None:
        if sources is None:
            sources = list(Source.objects.order_by("-is_default", "name"))
        self.labels = [
            SourceLabel(name=s.name, account=s.account_id, region=source_region(source=s))
            for s in sources
        ]
        self._exact = {(s.account, s.region): s for s in reversed(self.labels) if s.account}
        self._by_region = {s.region: s for s in reversed(self.labels) if not s.account}

    def find(self, *, account: str, region: str) -> SourceLabel | None:
        """The source of a deployment in `account` and `region`, None when none watches it."""
        return self._exact.get((account, region)) or self._by_region.get(region)

    def name_for(self, *, account: str, region: str) -> str:
        found = self.find(account=account, region=region)
        return found.name if found else ""

    def named(self, name: str) -> SourceLabel | None:
        return next((s for s in self.labels if s.name == name), None)

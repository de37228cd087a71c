"""The CodeDeploy applications of a source, to suggest names when registering one.

`codedeploy_applications` reads CodeDeploy ListApplications with the source's own session,
bounded (a few pages, short timeouts, two tries) and cached per source for a few minutes;
`codedeploy_applications_forget` drops a source's cached list so the next read is fresh.
A list that cannot be read is not an error to the caller: it says why, in words.
https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListApplications.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from django.core.cache import cache

from notifier.sources import CLIENT_LOCK, STS_CONFIG, SourceError, boto3_session_for
from registrations.sources import Source

CACHE_SECONDS = 300
MAX_PAGES = 5  # ListApplications answers at most 100 names a page
MAX_NAMES = 500


@dataclass(frozen=True)
class ApplicationList:
    """A source's application names when read (`fetched_at`), or `error` in words."""

    names: tuple[str, ...] = ()
    fetched_at: datetime | None = None
    error: str = ""
    complete: bool = True  # False: more names than were read

    def knows(self, name: str) -> bool | None:
        """Whether `name` is in the list; None when that cannot be told (unread or partial)."""
        if self.error:
            return None
        if name in self.names:
            return True
        return False if self.complete else None


@dataclass(frozen=True)
class _Read:
    names: list[str] = field(default_factory=list)
    complete: bool = True


def _cache_key(source: Source) -> str:
    return f"codedeploy-applications:{source.pk}"


def _read(source: Source) -> _Read:
    with CLIENT_LOCK:
        client = boto3_session_for(source.config()).client("codedeploy", config=STS_CONFIG)
    names: list[str] = []
    params: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        page = client.list_applications(**params)
        names.extend(page.get("applications", []))
        if len(names) > MAX_NAMES:
            return _Read(sorted(names)[:MAX_NAMES], complete=False)
        if not page.get("nextToken"):
            return _Read(sorted(names))
        params = {"nextToken": page["nextToken"]}
    return _Read(sorted(names), complete=False)


def _error_words(source: Source, exc: Exception) -> str:
    if isinstance(exc, SourceError):
        return str(exc)
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    if code in {"AccessDenied", "AccessDeniedException"}:
        return (
            f"the applications of source {source.name!r} cannot be listed: AWS refused "
            "codedeploy:ListApplications (AccessDenied). Allow that action to the source's "
            "credentials to get suggestions; any name can still be typed"
        )
    reason = f"AWS answered {code}" if code else type(exc).__name__
    return (
        f"the applications of source {source.name!r} cannot be listed ({reason}). Check the "
        "source's credentials and region; any name can still be typed"
    )


def codedeploy_applications(*, source: Source) -> ApplicationList:
    """The CodeDeploy applications `source` can see, cached for CACHE_SECONDS."""
    cached = cache.get(_cache_key(source))
    if cached is not None:
        return cached
    try:
        read = _read(source)
        found = ApplicationList(
            names=tuple(read.names), fetched_at=datetime.now(UTC), complete=read.complete
        )
    except (ClientError, BotoCoreError, SourceError) as exc:
        found = ApplicationList(fetched_at=datetime.now(UTC), error=_error_words(source, exc))
    cache.set(_cache_key(source), found, CACHE_SECONDS)
    return found


def codedeploy_applications_forget(*, source: Source) -> None:
    """Drop `source`'s cached list: the next `codedeploy_applications` reads AWS again."""
    cache.delete(_cache_key(source))


def application_not_found_warning(*, name: str, source: Source) -> str:
    """Words for a name that `source`'s list does not hold, or "" (found or unknowable)."""
    if codedeploy_applications(source=source).knows(name) is not False:
        return ""
    return (
        f"codedeploy_application_name: no CodeDeploy application {name!r} in source "
        f"{source.name!r}; saved anyway: it may be created later"
    )


def application_warnings(*, name: str, source: Source) -> list[dict[str, str]]:
    """The API's `warnings` for a registration of `name` in `source` just saved."""
    warning = application_not_found_warning(name=name, source=source)
    if not warning:
        return []
    return [
        {
            "field": "codedeploy_application_name",
            "code": "application_not_found",
            "message": warning.removeprefix("codedeploy_application_name: "),
        }
    ]

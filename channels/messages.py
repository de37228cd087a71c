"""Message rendering: Django templates fed only by the DeploymentEvent.

Each kind renders its `subject` and `body` from templates/messages/<kind>/<part>.txt, falling
back to templates/messages/default/. A setup may override either part with its own template
text; `template_problems()` is the one validation both the admin and the API run on it.

The context of every template:

- ``event``: the DeploymentEvent (``event.application``, ``event.deployment_group``,
  ``event.deployment_id``, ``event.status``, ``event.creator``, ``event.description``,
  ``event.revision.summary`` / ``.url``, ``event.instances.succeeded`` / ``.failed`` /
  ``.total``..., ``event.error_code``, ``event.error_message``,
  ``event.rollback.rollback_deployment_id`` / ``.message``, ``event.console_url``...);
- ``event.failure``: where a failed or stopped deployment broke, when AWS could say (else
  empty): ``.summary`` (``Failed at ApplicationStart on i-0abc (script start.sh): <message>``),
  ``.lifecycle_event``, ``.target_id``, ``.target_kind`` (Instance, ECS, Lambda,
  CloudFormation), ``.status``, ``.error_code``, ``.script_name``, ``.message``, ``.log_tail``
  (redacted, at most 20 lines and 2 KiB), ``.log_tail_short`` (its last 5 lines),
  ``.failed_targets`` / ``.failed_targets_text`` (``3``, or ``200+``), ``.lifecycle_events``
  (each with ``.name``, ``.status``, ``.seconds``);
- ``event_name`` (``failed``), ``event_label`` (``Failed``), ``duration`` (``1 min 34 s``),
  ``is_failure`` (failed or stopped).

Filters available without {% load %}: ``duration``, ``mrkdwn`` / ``mrkdwn_label`` (Slack
escaping), ``markdown`` (Teams escaping), ``link_url``, ``oneline``.

A setup's template keeps to the restricted dialect of channels.message_dialect; every render
(override or built-in) runs within its time and size budget. A render that fails raises
MessageTemplateError, a ChannelError that is never retried.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template import Engine, Template, TemplateDoesNotExist, TemplateSyntaxError

from channels import message_budget as budget
from channels import message_dialect as dialect
from channels.base import ChannelError, ErrorCode
from channels.message_filters import duration
from notifier.codedeploy import normalise
from notifier.events import EVENT_LABELS, DeploymentEvent, Event
from notifier.targets import failure_from_targets

PARTS = ("subject", "body")
SUBJECT_MAX = 500
BODY_MAX = 20000
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_FILES = {
    Event.STARTED: "deployment-inprogress-autoscaling.json",
    Event.READY: "deployment-ready-bluegreen.json",
    Event.SUCCEEDED: "deployment-succeeded-github.json",
    Event.FAILED: "deployment-failed-with-rollback.json",
    Event.STOPPED: "deployment-stopped-manual.json",
}
SAMPLE_TARGETS = {Event.FAILED: "deployment-target-failed-hook.json"}  # where it broke
SAMPLE_REGION = "us-east-1"
SAMPLE_ACCOUNT = "123456789012"
_BUILTINS = ["channels.message_filters"]


@functools.cache
def _engine(*, html: bool, with_files: bool) -> Engine:
    # debug=True makes Django attach the line and reason of a failure (template_debug).
    return Engine(
        dirs=[Path(settings.BASE_DIR) / "templates"] if with_files else [],
        autoescape=html,
        debug=True,
        builtins=_BUILTINS,
    )


class MessageTemplateError(ChannelError):
    """A message that cannot be rendered: out of the dialect, over its budget, or broken.
    The same event would fail the same way again, so it is never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ErrorCode.BAD_CONFIG, retryable=False)


def context_for(event: DeploymentEvent) -> dict[str, Any]:
    return {
        "event": event,
        "event_name": event.event.value,
        "event_label": EVENT_LABELS[event.event],
        "duration": _duration(event.duration_seconds),
        "is_failure": event.event in (Event.FAILED, Event.STOPPED),
    }


def _duration(seconds: float | None) -> str:
    return duration(seconds)


def default_template(kind: str, part: str, *, html: bool = False) -> Template:
    """The kind's built-in template: trusted (not held to the dialect), but rendered within
    the budget like any other."""
    engine = _engine(html=html, with_files=True)
    suffix = "html" if html else "txt"
    names = [f"messages/{kind}/{part}.{suffix}", f"messages/default/{part}.{suffix}"]
    return budget.guard(engine.select_template(names))


@functools.lru_cache(maxsize=256)
def compile_override(text: str) -> Template:
    """A setup's template, compiled and held to the dialect (DialectError otherwise)."""
    # Overrides get an engine with no template directories: {% include %} cannot reach files.
    template = _engine(html=False, with_files=False).from_string(text)
    dialect.check(template)
    return budget.guard(template)


def _tidy(text: str, part: str) -> str:
    if part == "subject":
        return " ".join(text.split())
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _override(setup: Any, part: str) -> str:
    return (getattr(setup, f"{part}_template", "") or "").strip() if setup else ""


def _whose(setup: Any, part: str, *, override: bool) -> str:
    if override:
        return f"the {part} template of setup '{setup}'"
    kind = getattr(setup, "kind", "") if setup else ""
    return f"the default {part} template" + (f" of {kind}" if kind else "")


def _render(template: Template, context: dict[str, Any], *, whose: str, html: bool) -> str:
    try:
        return budget.render_within_budget(template, context, autoescape=html)
    except budget.BudgetExceeded as exc:
        raise MessageTemplateError(f"{whose} {exc.reason}; simplify it") from None
    except Exception as exc:
        raise MessageTemplateError(f"{whose} fails to render: {_where(exc)}") from None


def render(kind: str, part: str, event: DeploymentEvent, setup: Any = None) -> str:
    """The setup's override of `part` if it has one, else the kind's default template, within
    the render budget. MessageTemplateError (permanent) when it cannot be rendered."""
    override = _override(setup, part)
    whose = _whose(setup, part, override=bool(override))
    if override:
        template = _compiled(override, part=part, whose=whose)
    else:
        template = default_template(kind, part)
    return _tidy(_render(template, context_for(event), whose=whose, html=False), part)


def _compiled(text: str, *, part: str, whose: str) -> Template:
    limit = SUBJECT_MAX if part == "subject" else BODY_MAX
    if len(text) > limit:
        raise MessageTemplateError(
            f"{whose} is {len(text)} characters long; at most {limit} are allowed: shorten it"
        )
    try:
        return compile_override(text)
    except dialect.DialectError as exc:
        raise MessageTemplateError(f"{whose} is not allowed: {exc}; change it") from None
    except Exception as exc:
        raise MessageTemplateError(f"{whose} does not compile: {_where(exc)}; fix it") from None


def render_html(kind: str, event: DeploymentEvent, setup: Any = None) -> str:
    """The HTML alternative of the body (email): the kind's HTML template, or the override's
    text turned into paragraphs."""
    override = _override(setup, "body")
    context = context_for(event)
    if override:
        context["text"] = render(kind, "body", event, setup)
        template = budget.guard(
            _engine(html=True, with_files=True).get_template("messages/override.html")
        )
    else:
        template = default_template(kind, "body", html=True)
    whose = _whose(setup, "body", override=bool(override))
    return _render(template, context, whose=f"{whose} (HTML)", html=True).strip()


# --- validation -----------------------------------------------------------------------------


def _where(exc: Exception) -> str:
    debug = getattr(exc, "template_debug", None)
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, TemplateDoesNotExist):
        reason = f"{{% include %}} of {reason!r}: a setup's template cannot include files"
    elif debug and debug.get("message"):
        reason = debug["message"]
    if debug and not (isinstance(exc, dialect.DialectError) and exc.line):
        return f"line {debug['line']}: {reason}"
    return reason


def template_problems(*, kind: str, subject: str = "", body: str = "") -> dict[str, str]:
    """Field-keyed problems of a setup's template overrides: the one check the admin form and
    the API both run. Each override must keep to the dialect (channels.message_dialect) and
    render every sample deployment within the render budget."""
    problems: dict[str, str] = {}
    for part, text, limit in (("subject", subject, SUBJECT_MAX), ("body", body, BODY_MAX)):
        field = f"{part}_template"
        text = (text or "").strip()
        if not text:
            continue
        if len(text) > limit:
            problems[field] = f"is {len(text)} characters long; at most {limit} are allowed"
            continue
        try:
            template = compile_override(text)
        except dialect.DialectError as exc:
            problems[field] = str(exc)
            continue
        except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
            problems[field] = f"does not compile: {_where(exc)}"
            continue
        for event in Event:
            sample = sample_event(event)
            try:
                output = budget.render_within_budget(
                    template, context_for(sample), autoescape=False
                )
                rendered = _tidy(output, part)
            except budget.BudgetExceeded as exc:
                problems[field] = f"{exc.reason} for the {event.value} sample; simplify it"
                break
            except Exception as exc:
                problems[field] = f"fails to render the {event.value} sample: {_where(exc)}"
                break
            if part == "subject" and not rendered:
                problems[field] = f"renders to nothing for the {event.value} sample"
                break
    return problems


# --- samples --------------------------------------------------------------------------------


@functools.cache
def _sample(event: Event) -> DeploymentEvent:
    data = json.loads((SAMPLES_DIR / SAMPLE_FILES[event]).read_text())
    info = data["deploymentsInfo"][0]
    sample = normalise(info, event=event, region=SAMPLE_REGION, account=SAMPLE_ACCOUNT)
    if event in SAMPLE_TARGETS:
        targets = json.loads((SAMPLES_DIR / SAMPLE_TARGETS[event]).read_text())
        failure = failure_from_targets(targets["deploymentTargets"], failed_targets=1)
        sample = sample.with_failure(failure)
    return sample


def sample_event(
    event: Event | str, *, application: str = "", deployment_group: str = ""
) -> DeploymentEvent:
    """A realistic deployment for previews and test sends (shapes from AWS's documentation)."""
    sample = _sample(Event(event))
    changes: dict[str, Any] = {}
    if application:
        changes["application"] = application
    if deployment_group:
        changes["deployment_group"] = deployment_group
    return replace(sample, **changes) if changes else sample

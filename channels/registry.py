"""The explicit registry of channel kinds: kind -> the module that implements it."""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

KINDS: dict[str, str] = {
    "newrelic": "channels.newrelic",
    "webhook": "channels.webhook",
    "slack": "channels.slack",
    "teams": "channels.teams",
    "pagerduty": "channels.pagerduty",
    "email": "channels.email",
    "ses": "channels.ses",
    "sns": "channels.sns",
}


def api_key(kind: str) -> str:
    """The key a setup of this kind has in the REST shape: `newrelic_notification`."""
    return f"{kind}_notification"


API_KEYS = {api_key(kind): kind for kind in KINDS}


@functools.cache
def module_for(kind: str) -> ModuleType:
    try:
        path = KINDS[kind]
    except KeyError:
        raise LookupError(
            f"unknown notification kind {kind!r}; known: {', '.join(KINDS)}"
        ) from None
    return importlib.import_module(path)


def load_all() -> list[ModuleType]:
    return [module_for(kind) for kind in KINDS]


def label_for(kind: str) -> str:
    try:
        return module_for(kind).LABEL
    except LookupError:
        return kind


def short_label_for(kind: str) -> str:
    try:
        module = module_for(kind)
    except LookupError:
        return kind
    return getattr(module, "SHORT_LABEL", module.LABEL)


def kind_for_model(model: type) -> str:
    for kind in KINDS:
        if module_for(kind).SETUP_MODEL is model:
            return kind
    raise LookupError(f"{model.__name__} is not the setup model of any registered kind")

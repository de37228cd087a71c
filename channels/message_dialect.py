"""The restricted dialect of a setup's message templates, and the budget of every render.

A setup's template is Django template language cut down to what a message needs, checked
when it is compiled by walking its nodes (`check()`):

- tags: ``if``/``elif``/``else``, ``for``/``empty`` (only over a list the deployment holds,
  never over text; at most MAX_LOOP_DEPTH loops deep), ``with`` and ``comment``;
- filters: ALLOWED_FILTERS, with their arguments written out, texts at most
  MAX_ARGUMENT_LENGTH characters and counts within NUMBER_ARGUMENTS;
- variables: the names of the message context and the fields of the deployment, no methods.

Every render runs within a budget (channels.message_budget). A thread cannot be stopped from
outside, so the dialect is what keeps any one node short: no filter may produce more than the
output budget (`bounded()`), and no loop can run over text.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.template import Template
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import CommentNode, ForNode, IfNode, WithNode

from channels.message_budget import BudgetExceeded, size_text
from notifier.events import DeploymentEvent, Event

ALLOWED_TAGS = ("if", "for", "with", "comment")
ALLOWED_FILTERS = (
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "capfirst",
    "length",
    "first",
    "last",
    "join",
    "yesno",
    "pluralize",
    "date",
    "time",
    "truncatechars",
    "truncatewords",
    "cut",
    "urlencode",
    "duration",
    "mrkdwn",
    "mrkdwn_label",
    "markdown",
    "link_url",
    "oneline",
)
# Filters whose argument may be a variable (``default:event.revision.url``); all others take
# a written-out argument.
VARIABLE_ARGUMENTS = frozenset({"default", "default_if_none"})
NUMBER_ARGUMENTS = {"truncatechars": 1000, "truncatewords": 200}
MAX_ARGUMENT_LENGTH = 200
MAX_LOOP_DEPTH = 2
_TAG_OF = {IfNode: "if", ForNode: "for", WithNode: "with", CommentNode: "comment"}
_FORLOOP_FIELDS = {
    "counter": int,
    "counter0": int,
    "revcounter": int,
    "revcounter0": int,
    "first": bool,
    "last": bool,
}


class DialectError(Exception):
    """A template that leaves the dialect: `line` and a sentence saying what to change."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


# --- what the template sees -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ListOf:
    """A list the deployment holds, of `item`s: the only thing a {% for %} may loop over."""

    item: Any


class _Forloop:
    """The type of ``forloop`` inside a loop."""


TEXT = str  # what a filtered value or a written-out text is: it has no fields
CONTEXT_TYPES: dict[str, Any] = {
    "event": DeploymentEvent,
    "event_name": str,
    "event_label": str,
    "duration": str,
    "is_failure": bool,
    "True": bool,
    "False": bool,
    "None": type(None),
}


def _type_of(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple) or annotation in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return ListOf(_type_of(args[0]) if args else TEXT)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _type_of(args[0]) if len(args) == 1 else TEXT
    if dataclasses.is_dataclass(annotation):
        return annotation
    return annotation if annotation in (int, float, bool, str, datetime, date, Event) else TEXT


@functools.cache
def fields_of(cls: type) -> dict[str, Any]:
    """The fields (and properties) a template may read on a dataclass of the deployment."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: _type_of(hints[f.name]) for f in dataclasses.fields(cls)}
    for name, value in vars(cls).items():
        if isinstance(value, property) and not name.startswith("_"):
            fields[name] = _type_of(typing.get_type_hints(value.fget).get("return", str))
    return fields


# --- the check ----------------------------------------------------------------------------


def _line(node: Node) -> int | None:
    token = getattr(node, "token", None)
    return getattr(token, "lineno", None)


def _describe(kind: Any) -> str:
    if isinstance(kind, ListOf):
        return "a list"
    if dataclasses.is_dataclass(kind):
        return "a group of fields"
    return {bool: "yes/no", int: "a number", float: "a number"}.get(kind, "text")


class _Checker:
    def __init__(self) -> None:
        self.expressions: list[FilterExpression] = []

    def variable(self, variable: Variable, names: dict[str, Any], line: int | None) -> Any:
        if variable.literal is not None:
            return type(variable.literal) if isinstance(variable.literal, int | float) else TEXT
        lookups = variable.lookups or ()
        root = lookups[0]
        if root not in names:
            known = ", ".join(n for n in names if n not in ("True", "False", "None"))
            raise DialectError(
                f"{root} is not something a message template knows (it knows {known})",
                line=line,
            )
        kind = names[root]
        path = root
        for part in lookups[1:]:
            if isinstance(kind, ListOf) and part.isdigit():
                kind = kind.item
            elif kind is _Forloop and part in _FORLOOP_FIELDS:
                kind = _FORLOOP_FIELDS[part]
            elif kind is _Forloop and part == "parentloop":
                kind = _Forloop
            elif dataclasses.is_dataclass(kind) and part in fields_of(kind):
                kind = fields_of(kind)[part]
            else:
                if dataclasses.is_dataclass(kind):
                    what = f"{path} has no field {part} (it has {', '.join(fields_of(kind))})"
                else:
                    what = f"{path} is {_describe(kind)} and has no field {part}"
                raise DialectError(what, line=line)
            path = f"{path}.{part}"
        return kind

    def expression(self, expression: FilterExpression, names: dict[str, Any], line) -> Any:
        self.expressions.append(expression)
        var = expression.var
        kind = self.variable(var, names, line) if isinstance(var, Variable) else TEXT
        for func, args in expression.filters:
            name = getattr(func, "_filter_name", getattr(func, "__name__", "?"))
            if name not in ALLOWED_FILTERS:
                raise DialectError(
                    f"the filter {name} is not allowed in a message template "
                    f"(allowed: {', '.join(ALLOWED_FILTERS)})",
                    line=line,
                )
            if name == "join" and not isinstance(kind, ListOf):
                raise DialectError(
                    f"the filter join works on a list, and this is {_describe(kind)}", line=line
                )
            for lookup, arg in args:
                self.argument(name, lookup, arg, names, line)
            kind = int if name == "length" else TEXT
        return kind

    def argument(self, name: str, lookup: bool, arg: Any, names, line) -> None:
        literal = arg
        if lookup:
            if arg.literal is None:
                if name not in VARIABLE_ARGUMENTS:
                    raise DialectError(
                        f"the argument of {name} must be written out (a number or a quoted "
                        "text), not a variable",
                        line=line,
                    )
                self.variable(arg, names, line)
                return
            literal = arg.literal
        if name in NUMBER_ARGUMENTS:
            bound = NUMBER_ARGUMENTS[name]
            try:
                number = int(literal)
            except (TypeError, ValueError):
                number = -1
            if not 0 < number <= bound:
                raise DialectError(
                    f"{name} takes a number from 1 to {bound}, not {str(literal)[:20]}", line=line
                )
        elif isinstance(literal, str) and len(literal) > MAX_ARGUMENT_LENGTH:
            raise DialectError(
                f"the argument of {name} is {len(literal)} characters long; at most "
                f"{MAX_ARGUMENT_LENGTH} are allowed",
                line=line,
            )

    def condition(self, condition: Any, names, line) -> None:
        if isinstance(getattr(condition, "value", None), FilterExpression):
            self.expression(condition.value, names, line)
        for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
            if part is not None:
                self.condition(part, names, line)

    def nodes(self, nodelist, names: dict[str, Any], loops: int) -> None:
        for node in nodelist:
            line = _line(node)
            if isinstance(node, TextNode):
                continue
            if type(node) is VariableNode:
                self.expression(node.filter_expression, names, line)
            elif type(node) is IfNode:
                for condition, body in node.conditions_nodelists:
                    if condition is not None:
                        self.condition(condition, names, line)
                    self.nodes(body, names, loops)
            elif type(node) is ForNode:
                self.loop(node, names, loops, line)
            elif type(node) is WithNode:
                inner = dict(names)
                for name, expression in node.extra_context.items():
                    inner[name] = self.expression(expression, names, line)
                self.nodes(node.nodelist, inner, loops)
            elif type(node) is CommentNode:
                continue
            else:
                token = getattr(node, "token", None)
                tag = token.contents.split()[0] if token and token.contents else type(node).__name__
                raise DialectError(
                    f"the tag {tag} is not allowed in a message template "
                    f"(allowed: {', '.join(ALLOWED_TAGS)})",
                    line=line,
                )

    def loop(self, node: ForNode, names: dict[str, Any], loops: int, line) -> None:
        if loops >= MAX_LOOP_DEPTH:
            raise DialectError(
                f"loops may be nested at most {MAX_LOOP_DEPTH} deep in a message template",
                line=line,
            )
        kind = self.expression(node.sequence, names, line)
        if not isinstance(kind, ListOf):
            raise DialectError(
                f"{{% for %}} loops only over a list the deployment holds, and "
                f"{node.sequence.token} is {_describe(kind)}",
                line=line,
            )
        inner = {**names, "forloop": _Forloop}
        for name in node.loopvars:
            inner[name] = kind.item if len(node.loopvars) == 1 else TEXT
        self.nodes(node.nodelist_loop, inner, loops + 1)
        self.nodes(node.nodelist_empty, names, loops)


def check(template: Template) -> None:
    """Raise DialectError unless `template` keeps to the dialect; then bound its filters."""
    checker = _Checker()
    checker.nodes(template.nodelist, dict(CONTEXT_TYPES), 0)
    for expression in checker.expressions:
        expression.filters = [(bounded(func), args) for func, args in expression.filters]


@functools.cache
def bounded(func: Callable) -> Callable:
    """`func` that refuses to loop over text and to return more than the output budget, so no
    single filter can flood a render."""
    name = getattr(func, "_filter_name", "")

    @functools.wraps(func)
    def filter_within_budget(value, *args, **kwargs):
        if name == "join" and isinstance(value, str):
            raise DialectError("the filter join works on a list, not on text")
        result = func(value, *args, **kwargs)
        limit = settings.NOTIFIER_TEMPLATE_MAX_BYTES
        if isinstance(result, str) and len(result) > limit:
            raise BudgetExceeded(f"rendered more than {size_text(limit)}")
        return result

    return filter_within_budget

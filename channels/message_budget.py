"""The budget of every message render: time and size, checked around every node.

Every render, of a setup's template or of a kind's built-in one, runs within a `Budget`:
NOTIFIER_TEMPLATE_TIME_LIMIT_MS of the rendering thread's CPU time and
NOTIFIER_TEMPLATE_MAX_BYTES of output, checked before and after every node (`guard()`).
A thread cannot be stopped from outside, so the restricted dialect (channels.message_dialect)
is what keeps any one node short.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.template import Context, Template
from django.template.base import Node, TextNode, VariableNode


class BudgetExceeded(Exception):
    """A render that went over its time or size budget; `reason` completes "the template ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def size_text(limit: int) -> str:
    """A byte limit as people read it: "64 KiB", or "1000 bytes"."""
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"


class Budget:
    """Time (CPU time of the rendering thread, so a busy machine does not fail a template)
    and output size of one render."""

    def __init__(self, *, time_limit_ms: float, max_bytes: int) -> None:
        self.time_limit_ms = time_limit_ms
        self.max_bytes = max_bytes
        self.deadline = time.thread_time() + time_limit_ms / 1000
        self.used = 0

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            raise BudgetExceeded(f"took longer than {self.time_limit_ms:g} ms to render")

    def spend(self, text: str) -> None:
        self.used += len(text) if text.isascii() else len(text.encode())
        if self.used > self.max_bytes:
            raise BudgetExceeded(f"rendered more than {size_text(self.max_bytes)}")


class BudgetContext(Context):
    """A Context that carries the render's Budget to the guarded nodes."""

    budget: Budget | None = None


def new_budget() -> Budget:
    return Budget(
        time_limit_ms=settings.NOTIFIER_TEMPLATE_TIME_LIMIT_MS,
        max_bytes=settings.NOTIFIER_TEMPLATE_MAX_BYTES,
    )


_guarding = threading.Lock()


def _all_nodes(nodelist) -> Iterator[Node]:
    for node in nodelist:
        yield node
        for attr in node.child_nodelists:
            yield from _all_nodes(getattr(node, attr, None) or [])


def guard(template: Template) -> Template:
    """Make every node of `template` check the render's budget before and after it renders
    (text and variables count their output). Idempotent; templates are shared by threads."""
    if getattr(template, "_guarded", False):
        return template
    with _guarding:
        if getattr(template, "_guarded", False):
            return template
        for node in _all_nodes(template.nodelist):
            node.render_annotated = _guarded(node, node.render_annotated)
        template._guarded = True
    return template


def _guarded(node: Node, render_annotated: Callable[[Context], str]) -> Callable[[Context], str]:
    leaf = isinstance(node, TextNode | VariableNode)

    def render_within_budget(context: Context) -> str:
        budget = getattr(context, "budget", None)
        if budget is None:
            return render_annotated(context)
        budget.check_time()
        output = render_annotated(context)
        if leaf:
            budget.spend(str(output))
        budget.check_time()
        return output

    return render_within_budget


def render_within_budget(template: Template, context: dict[str, Any], *, autoescape: bool) -> str:
    """Render a guarded template; BudgetExceeded when it goes over its budget."""
    budget_context = BudgetContext(context, autoescape=autoescape)
    budget_context.budget = new_budget()
    return guard(template).render(budget_context)

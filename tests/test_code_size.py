"""No module over MAX_MODULE_LINES lines and no function over MAX_FUNCTION_LINES lines in the
service's packages, unless ALLOWED names it with the reason.

A function's lines run from its `def` to its last line (decorators left out, docstring and
nested functions in); a method is named Class.method. Migrations are generated: left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("notifier", "registrations", "channels")
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60

# "path::Class.function" (that function) or "path" (the module and every function in it) ->
# why it may be longer. An entry that allows nothing over the limits fails the run: remove it.
ALLOWED: dict[str, str] = {
    "notifier/history.py": "being split into notifier/history/",
    "notifier/views.py": "being split into notifier/history/",
}


def modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function and method in `tree`, nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node.end_lineno - node.lineno + 1
            yield from functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def oversized() -> dict[str, int]:
    """Every module and function over its limit: its name -> its lines."""
    found: dict[str, int] = {}
    for path in modules():
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found[name] = lines
        for function, length in functions(ast.parse(text)):
            if length > MAX_FUNCTION_LINES:
                found[f"{name}::{function}"] = length
    return found


def allowed_by(entry: str, name: str) -> bool:
    return name == entry or name.partition("::")[0] == entry


def test_it_finds_no_module_or_function_over_the_limits():
    over = {
        name: lines
        for name, lines in oversized().items()
        if not any(allowed_by(entry, name) for entry in ALLOWED)
    }
    assert not over, (
        f"over the limits ({MAX_MODULE_LINES} lines a module, {MAX_FUNCTION_LINES} a "
        "function): "
        + "; ".join(f"{name} has {lines} lines" for name, lines in sorted(over.items()))
        + ". Split it, or add it to ALLOWED in tests/test_code_size.py with the reason."
    )


def test_it_allows_only_what_is_still_over_the_limits():
    found = oversized()
    stale = sorted(entry for entry in ALLOWED if not any(allowed_by(entry, n) for n in found))
    assert not stale, f"remove from ALLOWED, now within the limits: {', '.join(stale)}"


def test_it_measures_functions_and_methods_by_their_qualified_names():
    tree = ast.parse(
        "def top():\n    def inner():\n        pass\n    return inner\n\n"
        "class Thing:\n    @property\n    def value(self):\n        return 1\n"
    )
    assert dict(functions(tree)) == {"top": 4, "top.inner": 2, "Thing.value": 2}

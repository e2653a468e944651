"""Warnings about parameters put into shell command lines.

A string ``command`` runs through ``/bin/sh -c``: a parameter interpolated as it is lets a value
such as ``x; rm -rf /`` or ``$(...)`` run as shell syntax. ``| quote`` makes the value one word,
but only outside quotes: inside ``"..."`` or ``'...'`` the quotes it adds are literal characters
and ``$(...)`` in the value still runs. Parameters that cannot carry shell syntax (integers,
numbers, booleans, enum choices the author wrote) are not warned about.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes

from runbook_engine.preflight.findings import Finding
from runbook_engine.preflight.template_types import known_type
from runbook_engine.spec.yamlmarks import Path
from runbook_engine.templating import environment, is_template, references, strings_in

_QUOTING = frozenset({"quote", "shquote"})
#: filters whose result cannot hold shell syntax
_SAFE_FILTERS = frozenset({"int", "float", "length", "count"})
#: parameter types whose values can hold shell syntax
_FREE_TEXT = frozenset({"string", "list"})


def _expressions(source: str) -> Iterator[tuple[str, str]]:
    """Each ``{{ expression }}`` of ``source`` with the shell quoting in force where it
    stands: ``""`` (none), ``"'"`` or ``'"'``."""
    state = ""
    escaped = False
    expression: list[str] | None = None
    for _line, kind, value in environment().lexer.tokeniter(source, None):
        if kind == "variable_begin":
            expression = []
        elif kind == "variable_end" and expression is not None:
            yield "".join(expression), state
            expression = None
        elif expression is not None:
            expression.append(value)
        elif kind == "data":
            for char in value:
                if escaped:
                    escaped = False
                elif char == "\\" and state != "'":
                    escaped = True
                elif state == "" and char in "'\"":
                    state = char
                elif char == state:
                    state = ""


def _outer_filter(expression: str) -> str | None:
    try:
        tree = environment().parse("{{ " + expression + " }}")
    except (jinja2.TemplateSyntaxError, RecursionError):
        return None
    output = tree.body[0] if tree.body else None
    if isinstance(output, nodes.Output) and len(output.nodes) == 1:
        node = output.nodes[0]
        if isinstance(node, nodes.Filter):
            return node.name
    return None


def _free_text_params(expression: str, declared: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for chain in references("{{ " + expression + " }}", "params"):
        spec = declared.get(chain[0])
        kind = spec.get("type", "string") if isinstance(spec, Mapping) else None
        if kind in _FREE_TEXT and chain[0] not in names:
            names.append(chain[0])
    return names


def _secret_params(source: str, declared: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for chain in references(source, "params"):
        spec = declared.get(chain[0])
        if isinstance(spec, Mapping) and spec.get("secret") is True and chain[0] not in names:
            names.append(chain[0])
    return names


def secret_argv_warnings(
    value: Any, where: Path, field: str, declared: Mapping[str, Any]
) -> list[Finding]:
    """Warnings for secret parameters put into a command line (string or list), run here or
    over SSH: a process's arguments are readable by every user of its host (``ps``) while it
    runs, and sshd may log a remote one, while its environment is neither; ``env:`` hands the
    value over that way (``ssh.*`` send it over the session's stdin, never in a command)."""
    out: list[Finding] = []
    seen: list[str] = []
    for text in strings_in(value):
        if not is_template(text):
            continue
        for name in _secret_params(text, declared):
            if name in seen:
                continue
            seen.append(name)
            var = name.upper()
            out.append(
                Finding(
                    where,
                    f"params.{name} is secret and is put into the command line {field}: every "
                    "user of the host it runs on can read it (`ps`) while the command runs; "
                    "pass it in "
                    f'the environment instead: `env: {{{var}: "{{{{ params.{name} }}}}"}}` '
                    f'and "${var}" in the command',
                    warning=True,
                )
            )
    return out


def shell_warnings(
    value: Any,
    where: Path,
    field: str,
    declared: Mapping[str, Any],
    loop_items: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Warnings for the shell command line ``value`` (a ``with:`` value at ``where``).

    ``loop_items``: in a ``for_each`` step whose list comes from free-text parameters, the
    item's name (``item``, or its ``as``) and the parameter it comes from: an item is a
    parameter's value too."""
    if not isinstance(value, str) or not is_template(value):
        return []
    known = known_type(value, declared)
    if known is not None and all(isinstance(s, list) for s in known.samples):
        return []  # one expression giving a list: the list form, run without a shell
    out: list[Finding] = []
    try:
        found = list(_expressions(value))
    except jinja2.TemplateSyntaxError:
        return []  # reported by the format checks
    for expression, quoting in found:
        outer = _outer_filter(expression)
        shown = expression.strip()
        if outer in _QUOTING:
            if quoting:
                out.append(
                    Finding(
                        where,
                        f"`{{{{ {shown} }}}}` is inside {quoting}...{quoting} in {field}: the "
                        "quotes `| quote` adds are literal there and do not protect the value; "
                        "remove the surrounding quotes",
                        warning=True,
                    )
                )
            continue
        if outer in _SAFE_FILTERS:
            continue
        for name in _free_text_params(expression, declared):
            out.append(
                Finding(
                    where,
                    f"params.{name} is put into the shell command line {field} without "
                    f"`| quote`: a value with spaces, `;` or `$(...)` would run as shell "
                    f"syntax; write `{{{{ params.{name} | quote }}}}` or give {field} as a list",
                    warning=True,
                )
            )
        for name in sorted(_names(expression) & set(loop_items or {})):
            source = (loop_items or {})[name]
            out.append(
                Finding(
                    where,
                    f"`{name}` (an item of params.{source}) is put into the shell command line "
                    f"{field} without `| quote`: a value with spaces, `;` or `$(...)` would run "
                    f"as shell syntax; write `{{{{ {name} | quote }}}}` or give {field} as a list",
                    warning=True,
                )
            )
    return out


def _names(expression: str) -> set[str]:
    # an unknown filter is found only when the tree is walked: a broken template is reported
    # by the template checks, with its line, not here
    try:
        tree = environment().parse("{{ " + expression + " }}")
        return set(meta.find_undeclared_variables(tree))
    except (jinja2.TemplateSyntaxError, RecursionError):
        return set()


def loop_item_sources(step: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, str]:
    """For a ``for_each`` step whose list reads free-text parameters, its item's name and the
    first such parameter; empty otherwise (the items are then not known to be text)."""
    for_each = step.get("for_each")
    if not isinstance(for_each, str):
        return {}
    alias = step.get("as") if isinstance(step.get("as"), str) else "item"
    inner = for_each.strip()
    if inner.startswith("{{") and inner.endswith("}}"):
        inner = inner[2:-2]
    sources = _free_text_params(inner, declared)
    return {str(alias): sources[0]} if sources else {}

"""Which rendered values come from secret parameters.

A template that reads a secret parameter makes a value that is as secret as the parameter:
``{{ params.token | upper }}``, ``{{ params.token[::-1] }}`` and ``{{ params.token[:8] }}``
carry it in a form that exact-text masking cannot find. So the reading is watched while a
template renders, and what each ``{{ expression }}`` that read a secret evaluated to is kept
as a secret text of its own.

How the reading is seen: parameters reach templates as ``SecretParams`` (a dict that knows which
of its keys are secret); the template environment reports every attribute and item access to
``noticed``, and each ``{{ ... }}`` output is compiled wrapped in ``begin``/``end`` calls, so a
read is attributed to the output it happened in. A read outside any output (``{% set %}``,
a macro argument) cannot be attributed: then everything that template rendered counts as
derived. Reads in an ``{% if %}`` test only choose text the author wrote and count for nothing.
Outside a ``watch()`` the hooks cost one context-variable lookup.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

__all__ = [
    "SecretParams",
    "begin",
    "close_test",
    "end",
    "finish",
    "mark_outputs",
    "noticed",
    "params_copy",
    "template_scope",
    "watch",
    "whole",
]


class SecretParams(dict[str, Any]):
    """A run's parameters as templates see them: a plain mapping that also knows which of its
    keys are secret, so that reading one can be noticed."""

    def __init__(self, values: Mapping[str, Any], secret: frozenset[str]) -> None:
        super().__init__(values)
        self.secret = frozenset(name for name in secret if name in values)

    def copy(self) -> SecretParams:  # dict.copy would drop the secret names
        return SecretParams(self, self.secret)


def params_copy(params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``params`` for one template context (templates must not change the run's own
    mapping), keeping the secret names when there are any."""
    if isinstance(params, SecretParams):
        return params.copy()
    return dict(params)


@dataclass
class _Template:
    """One template being rendered: the outputs open in it, and whether a secret was read
    outside all of them."""

    frames: list[bool] = field(default_factory=list)
    loose: bool = False


@dataclass
class _Watch:
    found: list[Any] = field(default_factory=list)
    templates: list[_Template] = field(default_factory=list)

    def read(self) -> None:
        if not self.templates:
            return
        template = self.templates[-1]
        if template.frames:
            template.frames[-1] = True
        else:
            template.loose = True


_ACTIVE: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar(
    "runbook_secret_watch", default=None
)


@contextmanager
def watch() -> Iterator[list[Any]]:
    """Collect, into the list yielded, every value rendered inside the block that was derived
    from a secret parameter. Watches nest: an inner one's findings are the outer one's too."""
    outer = _ACTIVE.get()
    current = _Watch()
    token = _ACTIVE.set(current)
    try:
        yield current.found
    finally:
        _ACTIVE.reset(token)
        if outer is not None:
            outer.found.extend(current.found)


@contextmanager
def template_scope() -> Iterator[_Template | None]:
    """Around the rendering of one template; the caller passes the result to ``finish``."""
    active = _ACTIVE.get()
    if active is None:
        yield None
        return
    template = _Template()
    active.templates.append(template)
    try:
        yield template
    finally:
        active.templates.pop()


def finish(template: _Template | None, value: Any) -> Any:
    """The rendered ``value`` of a template; all of it is derived when a secret was read where
    no single output could be blamed."""
    active = _ACTIVE.get()
    if template is not None and template.loose and active is not None:
        active.found.append(value)
        active.read()  # a template rendered inside another one's output taints that output
    return value


def noticed(obj: Any, key: Any) -> None:
    """Called by the template environment for ``obj.key`` and ``obj[key]``."""
    if not isinstance(obj, SecretParams) or not obj.secret:
        return
    active = _ACTIVE.get()
    if active is None:
        return
    if key in obj.secret or not isinstance(key, str) or key not in obj:
        # a secret key, or a method (``items``, ``values``, ``get``) that can reach them all
        active.read()


def whole(value: Any) -> Any:
    """``params`` used as a whole (``{{ params }}``, ``{{ params | to_json }}``)."""
    if isinstance(value, SecretParams) and value.secret:
        active = _ACTIVE.get()
        if active is not None:
            active.read()
    return value


def begin() -> None:
    active = _ACTIVE.get()
    if active is not None and active.templates:
        active.templates[-1].frames.append(False)


def end(_begun: None, value: Any) -> Any:
    active = _ACTIVE.get()
    if active is None or not active.templates or not active.templates[-1].frames:
        return value
    frames = active.templates[-1].frames
    if frames.pop():
        active.found.append(value)
        if frames:
            frames[-1] = True  # an output nested in another one (a macro call) taints it too
    return value


def close_test(_begun: None, value: Any) -> Any:
    """The end of an ``{% if %}`` test: what it read picks text, it does not become text."""
    active = _ACTIVE.get()
    if active is not None and active.templates and active.templates[-1].frames:
        active.templates[-1].frames.pop()
    return value


def _call(name: str, *args: nodes.Expr) -> nodes.Call:
    target = nodes.ImportedName(f"{__name__}.{name}")
    return nodes.Call(target, list(args), [], None, None)


def _framed(expr: nodes.Expr, closing: str) -> nodes.Call:
    return _call(closing, _call("begin"), expr)


class _Marker(NodeTransformer):
    def visit_Output(self, node: nodes.Output) -> nodes.Output:
        node.nodes = [
            child if isinstance(child, nodes.TemplateData) else _framed(self._expr(child), "end")
            for child in node.nodes
            if isinstance(child, nodes.Expr)
        ]
        return node

    def visit_If(self, node: nodes.If) -> nodes.If:
        node.test = _framed(self._expr(node.test), "close_test")
        node.body = [self.visit(child) for child in node.body]
        node.elif_ = [self.visit(child) for child in node.elif_]
        node.else_ = [self.visit(child) for child in node.else_]
        return node

    def visit_CondExpr(self, node: nodes.CondExpr) -> nodes.CondExpr:
        node.test = _framed(self._expr(node.test), "close_test")
        node.expr1 = self._expr(node.expr1)
        if node.expr2 is not None:
            node.expr2 = self._expr(node.expr2)
        return node

    def visit_Getattr(self, node: nodes.Getattr) -> nodes.Getattr:
        if not isinstance(node.node, nodes.Name):
            node.node = self._expr(node.node)
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Getitem:
        if not isinstance(node.node, nodes.Name):
            node.node = self._expr(node.node)
        node.arg = self._expr(node.arg)
        return node

    def visit_Name(self, node: nodes.Name) -> nodes.Node:
        # reached only where the name is not the base of ``.x`` or ``[x]`` (handled above)
        if node.name == "params" and node.ctx == "load":
            return _call("whole", node)
        return node

    def _expr(self, node: nodes.Node) -> nodes.Expr:
        result = self.visit(node)
        assert isinstance(result, nodes.Expr)  # the transformer maps expressions to expressions
        return result


def mark_outputs(tree: nodes.Template) -> nodes.Template:
    """``tree`` with every output and ``if`` test wrapped for the watch (see the module doc)."""
    result = _Marker().visit(tree)
    assert isinstance(result, nodes.Template)
    return result

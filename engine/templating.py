"""Templates in runbooks: Jinja2, sandboxed, strict, with native types.

* Sandboxed: ``{{ ''.__class__ }}`` and friends raise instead of reaching Python internals.
* Strict: a misspelt name is an error that names the field, never an empty string.
* Native: a field that is a single expression keeps the expression's type (``"{{ 3 }}"`` is the
  integer 3), so numbers and lists flow into actions without string round-trips.
* Data stays data: values (parameters, outputs) are inserted, never parsed again as templates or
  as Python literals, so a parameter ``{{ 7*7 }}`` stays that text and ``"[1]"`` stays a string.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from itertools import chain
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.sandbox import SandboxedEnvironment

from runbook_engine.errors import TemplateError

_MARKERS = ("{{", "{%", "{#")


def is_template(value: str) -> bool:
    return any(marker in value for marker in _MARKERS)


def _native_concat(values: Iterable[Any]) -> Any:
    head = list(chain([], values))
    if not head:
        return None
    if len(head) == 1:
        # one expression: keep its type; unlike jinja2.nativetypes, never literal_eval a string
        value = head[0]
        if isinstance(value, jinja2.Undefined):
            # native rendering skips str(), which is where StrictUndefined normally raises
            str(value)
        return value
    return "".join(str(v) for v in head)


class _CodeGenerator(NativeCodeGenerator):
    def _output_child_to_const(self, node: nodes.Expr, frame: Any, finalize: Any) -> Any:
        # Jinja folds constant expressions into text ("{{ 3 }}" -> "3") and relies on
        # literal_eval to get the type back; we never literal_eval, so evaluate them at run time.
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


def quote(value: Any) -> str:
    """Shell-quote a value (lists are quoted item by item and joined with spaces)."""
    if isinstance(value, list | tuple):
        return " ".join(shlex.quote(str(v)) for v in value)
    return shlex.quote("" if value is None else str(value))


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class _NativeTemplate(jinja2.Template):
    def render(self, *args: Any, **kwargs: Any) -> Any:
        ctx = self.new_context(dict(*args, **kwargs))
        try:
            return _native_concat(self.root_render_func(ctx))
        except Exception:
            return self.environment.handle_exception()


class SandboxedNativeEnvironment(SandboxedEnvironment):
    code_generator_class = _CodeGenerator
    template_class = _NativeTemplate
    concat = staticmethod(_native_concat)


@lru_cache(maxsize=1)
def environment() -> SandboxedNativeEnvironment:
    # keep_trailing_newline: a file.write content "...\n" must keep its last newline
    env = SandboxedNativeEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["quote"] = quote
    env.filters["shquote"] = quote
    env.filters["to_json"] = _to_json
    return env


@lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    return environment().from_string(source)


def check_syntax(source: str) -> str | None:
    """None when ``source`` compiles, else the syntax error in one line."""
    try:
        _compile(source)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (template line {exc.lineno})"
    except RecursionError:  # jinja2 parses nested expressions recursively
        return "template syntax error: the expression nests too deeply"
    return None


def condition_source(expr: str) -> str:
    """``if`` fields may omit the braces: ``params.force`` means ``{{ params.force }}``."""
    return expr if is_template(expr) else "{{ " + expr + " }}"


def render(value: Any, context: Mapping[str, Any], *, field: str = "") -> Any:
    """Render every string in ``value`` (recursing into lists and dicts)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        try:
            return _compile(value).render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", field=field) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{exc.message} in {value!r}", field=field) from None
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"refused by the sandbox: {exc}", field=field) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateError(f"{type(exc).__name__}: {exc} in {value!r}", field=field) from None
    if isinstance(value, list):
        return [render(v, context, field=f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {
            k: render(v, context, field=f"{field}.{k}" if field else k) for k, v in value.items()
        }
    return value


def evaluate_condition(expr: str, context: Mapping[str, Any], *, field: str = "if") -> bool:
    value = render(condition_source(expr), context, field=field)
    if isinstance(value, str):
        # a condition rendered through text ("{{ a }} and {{ b }}") or a literal word
        return value.strip().lower() not in ("", "false", "no", "off", "0", "none")
    return bool(value)


# --------------------------------------------------------------------------- static analysis


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)


def references(source: str, root: str) -> list[list[str]]:
    """Every constant access chain on the name ``root`` in a template.

    ``{{ steps.a.outputs.x }}`` and ``{{ steps['a'].outputs['x'] }}`` both give
    ``["a", "outputs", "x"]`` for root ``steps``. Found on the syntax tree, not by regex.
    Templates that do not parse give nothing (syntax errors are reported separately)."""
    try:
        tree = environment().parse(source)
    except (jinja2.TemplateSyntaxError, RecursionError):
        return []
    found: list[list[str]] = []

    def key(node: nodes.Node) -> str | None:
        if isinstance(node, nodes.Getattr):
            return node.attr
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            return str(node.arg.value)
        return None

    def visit(node: nodes.Node, chain_: list[str]) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            k = key(node)
            if k is not None:
                visit(node.node, [k, *chain_])
                return
        if isinstance(node, nodes.Name) and node.name == root and chain_:
            found.append(chain_)
            return
        for child in node.iter_child_nodes():
            visit(child, [])

    visit(tree, [])
    return found

"""Templates in runbooks: Jinja2, sandboxed, strict, with native types.

* Sandboxed: ``{{ ''.__class__ }}`` and friends raise instead of reaching Python internals.
* Strict: a misspelt name is an error that names the field, never an empty string.
* Native: a field that is a single expression keeps the expression's type (``"{{ 3 }}"`` is the
  integer 3), so numbers and lists flow into actions without string round-trips.
* Data stays data: values (parameters, outputs) are inserted, never parsed again as templates or
  as Python literals, so a parameter ``{{ 7*7 }}`` stays that text and ``"[1]"`` stays a string.
* JSON out: what a template produces is converted to JSON data as it is rendered
  (``template_values``), so a generator or a set never reaches an action or the event log.
* Bounded: a render has a time budget and size limits (``template_limits``), so a template
  cannot hang a run or fill memory.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from itertools import chain
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

import runbook_engine.secret_taint as taint
from runbook_engine.errors import TemplateError
from runbook_engine.template_limits import (
    MAX_SIZE,
    TemplateLimit,
    Ticking,
    budget,
    check_binop,
    check_call,
    check_size,
    check_time,
    guard_filter,
    safe_range,
)
from runbook_engine.template_values import NotJSON, json_value

_MARKERS = ("{{", "{%", "{#")


def is_template(value: str) -> bool:
    return any(marker in value for marker in _MARKERS)


def _native_concat(values: Iterable[Any]) -> Any:
    head = _bounded_output(values)
    if not head:
        return None
    if len(head) == 1:
        # one expression: keep its type; unlike jinja2.nativetypes, never literal_eval a string
        value = head[0]
        if isinstance(value, jinja2.Undefined):
            # native rendering skips str(), which is where StrictUndefined normally raises
            str(value)
        return value
    return _join_text(head)


def _bounded_output(values: Iterable[Any]) -> list[Any]:
    """The output chunks of a template, with the clock and the size checked chunk by chunk:
    a loop that only prints never runs past the budget nor builds more than ``MAX_SIZE``."""
    head: list[Any] = []
    size = 0
    for chunk in chain([], values):
        check_time()
        size += len(chunk) if isinstance(chunk, str) else 1
        if size > MAX_SIZE:
            raise TemplateLimit(f"the template's output is longer than {MAX_SIZE:,} characters")
        head.append(chunk)
    return head


def _join_text(values: Iterable[Any]) -> str:
    """``"".join`` of the values as text (the ``~`` operator, and output of several parts),
    refused past ``MAX_SIZE`` characters."""
    parts = [str(v) for v in values]
    if sum(len(p) for p in parts) > MAX_SIZE:
        raise TemplateLimit(f"the template would build text longer than {MAX_SIZE:,} characters")
    return "".join(parts)


class _CodeGenerator(NativeCodeGenerator):
    def _output_child_to_const(self, node: nodes.Expr, frame: Any, finalize: Any) -> Any:
        # Jinja folds constant expressions into text ("{{ 3 }}" -> "3") and relies on
        # literal_eval to get the type back; we never literal_eval, so evaluate them at run time.
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def visit_Const(self, node: nodes.Const, frame: Any) -> None:
        # Jinja writes a folded float as str(value), which for nan and inf is not Python
        value = node.as_const(frame.eval_ctx)
        if isinstance(value, float) and not math.isfinite(value):
            self.write(f"float({str(value)!r})")
        else:
            super().visit_Const(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        # ``a ~ b`` joins through the environment, which refuses text past the size limit
        self.write("environment.join_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


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
            # what a secret parameter's reading made is collected for masking (secret_taint)
            with taint.template_scope() as scope:
                return taint.finish(scope, _native_concat(self.root_render_func(ctx)))
        except Exception:
            return self.environment.handle_exception()


#: the filter every ``for`` loop's iterable goes through, so that each iteration checks the clock
_TICKING = "__ticking"


class SandboxedNativeEnvironment(SandboxedEnvironment):
    """The sandbox with native types and the limits of ``template_limits`` built in: operators
    that can build large values are intercepted, every call and filter checks the clock and
    the size of what it returns, and every loop checks the clock at each iteration."""

    code_generator_class = _CodeGenerator
    template_class = _NativeTemplate
    concat = staticmethod(_native_concat)
    join_text = staticmethod(_join_text)
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def call(
        __self,  # the base class's names, which keep keyword arguments free
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        check_call(__obj, args, kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        for loop in source.find_all(nodes.For):
            ticking = nodes.Filter(loop.iter, _TICKING, [], [], None, None, lineno=loop.lineno)
            loop.iter = ticking.set_environment(self)
        return super()._generate(source, name, filename, defer_init)

    def getattr(self, obj: Any, attribute: str) -> Any:
        taint.noticed(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        taint.noticed(obj, argument)
        return super().getitem(obj, argument)


@lru_cache(maxsize=1)
def environment() -> SandboxedNativeEnvironment:
    # keep_trailing_newline: a file.write content "...\n" must keep its last newline
    env = SandboxedNativeEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["quote"] = quote
    env.filters["shquote"] = quote
    env.filters["to_json"] = _to_json
    env.filters = {name: guard_filter(name, f) for name, f in env.filters.items()}
    env.filters[_TICKING] = Ticking
    env.globals["range"] = safe_range
    # lipsum writes n paragraphs of filler in one call, far past any limit, and has no use here
    del env.globals["lipsum"]
    return env


@lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    env = environment()
    return env.from_string(taint.mark_outputs(env.parse(source)))


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


def render(
    value: Any, context: Mapping[str, Any], *, field: str = "", timeout: float | None = None
) -> Any:
    """Render every string in ``value`` (recursing into lists and dicts) into JSON data,
    within ``timeout`` seconds (capped at ``template_limits.RENDER_SECONDS``) for all of it."""
    with budget(timeout):
        return _render(value, context, field)


def _render(value: Any, context: Mapping[str, Any], field: str) -> Any:
    if isinstance(value, str):
        if not is_template(value):
            return value
        try:
            return json_value(_compile(value).render(context))
        except (TemplateLimit, NotJSON) as exc:
            raise TemplateError(f"{exc} in {_excerpt(value)}", field=field) from None
        except RecursionError:
            raise TemplateError(
                f"the template recurses too deeply in {_excerpt(value)}", field=field
            ) from None
        except MemoryError:
            raise TemplateError(
                f"the template ran out of memory in {_excerpt(value)}", field=field
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", field=field) from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{exc.message} in {value!r}", field=field) from None
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"refused by the sandbox: {exc}", field=field) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateError(f"{type(exc).__name__}: {exc} in {value!r}", field=field) from None
    if isinstance(value, list):
        return [_render(v, context, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _render(v, context, f"{field}.{k}" if field else k) for k, v in value.items()}
    return value


def _excerpt(source: str) -> str:
    """The template named in an error, shortened: the error must not be as big as the run."""
    return repr(source if len(source) <= 200 else source[:200] + "...")


def evaluate_condition(
    expr: str, context: Mapping[str, Any], *, field: str = "if", timeout: float | None = None
) -> bool:
    value = render(condition_source(expr), context, field=field, timeout=timeout)
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

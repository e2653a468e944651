"""The action registry: which action names exist and which class implements each, and the
inventory sources (``ec2:...`` patterns) that select hosts outside the inventory file.

The engine's own actions and third-party plugins arrive the same way, through the
``runbook_engine.actions`` entry-point group, and pass the same checks when they are registered
(at the first use of the registry), so a broken plugin is found before an incident rather than
in the one step that uses it mid-incident. A broken plugin is set aside by name; the others
keep working.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import inspect
import logging
import re
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from runbook_engine.errors import RunbookError
from runbook_engine.plugin.contract import Action, ActionParams, InventorySource

__all__ = [
    "ENTRY_POINT_GROUP",
    "INVENTORY_SOURCE_GROUP",
    "BrokenPlugin",
    "PluginError",
    "Registry",
    "UnknownActionError",
    "builtin_actions",
    "default_registry",
]

log = logging.getLogger("runbook.plugins")

#: the entry-point group that provides actions (the engine's own, and third parties')
ENTRY_POINT_GROUP = "runbook_engine.actions"
#: the entry-point group of host sources: the name is a pattern prefix (``ec2`` for ``ec2:...``)
INVENTORY_SOURCE_GROUP = "runbook_engine.inventory_sources"
#: the distribution whose entry points are the built-ins
_OWN_DISTRIBUTION = "runbook-engine"

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

A = TypeVar("A", bound=type[Action])


class PluginError(RunbookError):
    """An action plugin is invalid, clashes with another, or cannot be loaded."""


class UnknownActionError(PluginError, KeyError):
    """No action has the requested name. Also a ``KeyError``, for mapping-style callers."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError's own __str__ would show the message as a quoted repr.
        return str(self.args[0])


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that could not be registered, and why."""

    entry_point: str
    source: str
    message: str

    def provides(self, action: str) -> bool:
        """Could ``action`` have come from this entry point? Entry points are named after
        their action (``acme.restart``) or the prefix of their module's actions (``acme``)."""
        return action == self.entry_point or action.startswith(self.entry_point + ".")


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The group's entry points, the engine's own first, so a third-party plugin that takes a
    built-in name is the one refused."""
    found = list(importlib.metadata.entry_points(group=group))
    return sorted(found, key=lambda ep: not _is_builtin(ep))


def _is_builtin(entry_point: importlib.metadata.EntryPoint) -> bool:
    dist = entry_point.dist
    return dist is not None and dist.name == _OWN_DISTRIBUTION


def _describe(entry_point: importlib.metadata.EntryPoint) -> str:
    if _is_builtin(entry_point):
        return "built-in"
    dist = entry_point.dist
    return (
        f"entry point {entry_point.name!r} = {entry_point.value!r} of distribution "
        f"{dist.name if dist is not None else '<unknown>'}"
        f"{f' {dist.version}' if dist is not None else ''}"
    )


class Registry:
    """Action classes by name. Thread-safe; registration is normally done once at start-up."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Action]] = {}
        self._origins: dict[str, str] = {}
        self._sources: dict[str, InventorySource] = {}
        self._lock = threading.RLock()
        #: entry points set aside by ``load_entry_points(strict=False)``
        self.broken: list[BrokenPlugin] = []

    def register(self, action_cls: A, *, origin: str = "") -> A:
        """Validate ``action_cls`` and add it; returns it, so this also works as a decorator.

        ``origin`` (e.g. the entry point) is shown in error messages. Registering the same
        class again is a no-op; another class under a taken name raises ``PluginError``.
        """
        _validate(action_cls)
        where = f" ({origin})" if origin else ""
        with self._lock:
            existing = self._classes.get(action_cls.name)
            if existing is action_cls:
                return action_cls
            if existing is not None:
                before = self._origins[action_cls.name]
                raise PluginError(
                    f"action name {action_cls.name!r} is taken: {_qualname(existing)}"
                    f"{f' ({before})' if before else ''} is already registered under it, "
                    f"cannot also register {_qualname(action_cls)}{where}"
                )
            self._classes[action_cls.name] = action_cls
            self._origins[action_cls.name] = origin
        return action_cls

    def get(self, name: str) -> Action:
        """A new instance of the action called ``name``.

        Raises ``UnknownActionError`` (a ``PluginError`` and a ``KeyError``) suggesting the
        closest known name, or naming the broken plugin that would have provided it.
        """
        return self.get_class(name)()

    def get_class(self, name: str) -> type[Action]:
        """The class of the action called ``name`` (e.g. to validate parameters early)."""
        with self._lock:
            found = self._classes.get(name)
            known = sorted(self._classes)
        if found is not None:
            return found
        for broken in self.broken:
            if broken.provides(name):
                raise UnknownActionError(
                    name, f"action {name!r} is unavailable: its plugin is broken: {broken.message}"
                )
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
        elif known:
            hint = f"known actions: {', '.join(known)}"
        else:
            hint = "no actions are registered"
        raise UnknownActionError(name, f"unknown action {name!r}; {hint}")

    def origin(self, name: str) -> str:
        """Where the action called ``name`` came from (``built-in`` or its entry point)."""
        with self._lock:
            return self._origins.get(name, "")

    def names(self) -> list[str]:
        """All registered names, sorted."""
        with self._lock:
            return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._classes

    def __len__(self) -> int:
        with self._lock:
            return len(self._classes)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def load_entry_points(
        self, group: str = ENTRY_POINT_GROUP, *, strict: bool = True
    ) -> list[str]:
        """Register the actions that installed distributions declare in the entry-point
        ``group``; returns the names registered.

        Each entry point refers to an ``Action`` subclass, or to a module whose ``ACTIONS`` list
        holds them. Import failures and invalid plugins raise ``PluginError`` naming the entry
        point and its distribution; with ``strict=False`` they are kept in ``broken`` instead
        and the other entry points still register.
        """
        loaded: list[str] = []
        for entry_point in _entry_points(group):
            source = _describe(entry_point)
            try:
                loaded.extend(self._load_one(entry_point, source))
            except PluginError as exc:
                if strict:
                    raise
                self.broken.append(BrokenPlugin(entry_point.name, source, str(exc)))
        return loaded

    def _load_one(self, entry_point: importlib.metadata.EntryPoint, source: str) -> list[str]:
        try:
            target = entry_point.load()
        except Exception as exc:  # anything a plugin's import raises is the plugin's fault
            raise PluginError(f"cannot load {source}: {type(exc).__name__}: {exc}") from exc
        classes = _actions_of(target, source)
        for action_cls in classes:
            _validate_named(action_cls, source)
        names: list[str] = []
        for action_cls in classes:
            try:
                self.register(action_cls, origin=source)
            except PluginError as exc:
                if source in str(exc):
                    raise
                raise PluginError(f"{exc} (from {source})") from exc
            names.append(action_cls.name)
        return names

    # ------------------------------------------------------------------ inventory sources

    def add_inventory_source(self, prefix: str, source: InventorySource) -> None:
        """Make ``PREFIX:...`` host patterns select hosts through ``source``."""
        with self._lock:
            self._sources[prefix] = source

    def inventory_source_for(self, pattern: str) -> InventorySource | None:
        """The source that owns ``pattern`` (``ec2:tag:Role=web`` → the ``ec2`` source), or
        None for an inventory pattern. Sources from entry points are imported when first
        asked for: a pattern that does not use one costs nothing."""
        prefix, colon, _ = pattern.strip().partition(":")
        if not colon:
            return None
        with self._lock:
            found = self._sources.get(prefix)
        if found is not None:
            return found
        for entry_point in _entry_points(INVENTORY_SOURCE_GROUP):
            if entry_point.name != prefix:
                continue
            try:
                loaded = entry_point.load()
            except Exception as exc:  # the source's import failure is the source's fault
                raise PluginError(
                    f"cannot load inventory source {_describe(entry_point)}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not callable(loaded):
                raise PluginError(f"inventory source {entry_point.value!r} is not callable")
            source = cast(InventorySource, loaded)
            self.add_inventory_source(prefix, source)
            return source
        return None

    def inventory_prefixes(self) -> list[str]:
        """The pattern prefixes that have a source (installed or added)."""
        with self._lock:
            added = set(self._sources)
        return sorted(added | {ep.name for ep in _entry_points(INVENTORY_SOURCE_GROUP)})


def _validate_named(action_cls: object, source: str) -> None:
    try:
        _validate(action_cls)
    except PluginError as exc:
        # validation messages name the class; add where it came from
        raise PluginError(f"{exc} (from {source})") from exc


def _actions_of(target: object, source: str) -> list[type[Action]]:
    if isinstance(target, types.ModuleType):
        actions = getattr(target, "ACTIONS", None)
        if not isinstance(actions, list | tuple):
            raise PluginError(
                f"{source}: module {target.__name__} has no ACTIONS list of Action classes"
            )
        return list(actions)
    if isinstance(target, type) and issubclass(target, Action):
        return [target]
    raise PluginError(
        f"{source}: refers to {target!r}, which is neither an Action subclass "
        f"nor a module with an ACTIONS list"
    )


def _validate(action_cls: object) -> None:
    """Raise ``PluginError`` unless ``action_cls`` honours the plugin contract."""
    if not (isinstance(action_cls, type) and issubclass(action_cls, Action)):
        raise PluginError(f"{action_cls!r} is not a subclass of runbook_engine.Action")
    label = _qualname(action_cls)

    name = action_cls.name
    if not isinstance(name, str) or not _NAME.match(name):
        raise PluginError(
            f"{label}: invalid action name {name!r}; names are lower-case dotted identifiers "
            f"such as 'shell.command' or 'k8s.rollout_restart'"
        )

    params = action_cls.Params
    if not (isinstance(params, type) and issubclass(params, ActionParams)):
        raise PluginError(
            f"{label}: Params must be a subclass of runbook_engine.ActionParams, got {params!r}"
        )
    if params.model_config.get("extra") != "forbid":
        raise PluginError(
            f"{label}: {params.__name__} must keep extra='forbid' so a mistyped parameter "
            f"is an error instead of being ignored"
        )
    if not isinstance(action_cls.idempotent, bool):
        raise PluginError(f"{label}: idempotent must be True or False")
    if not isinstance(action_cls.effects, bool):
        raise PluginError(f"{label}: effects must be True or False")
    if not action_cls.effects and not action_cls.idempotent:
        # its start is not made durable first, so after a crash it may simply run again
        raise PluginError(f"{label}: an action without effects must be idempotent")

    if action_cls.run is Action.run:
        raise PluginError(f"{label}: run(self, params, ctx) is not implemented")
    _check_signature(label, action_cls, "run", ("params", "ctx"))
    if action_cls.has_undo():
        _check_signature(label, action_cls, "undo", ("params", "result", "ctx"))

    if inspect.isabstract(action_cls):
        missing = ", ".join(sorted(getattr(action_cls, "__abstractmethods__", ())))
        raise PluginError(f"{label}: abstract methods not implemented: {missing}")
    try:
        inspect.signature(action_cls).bind()
    except TypeError as exc:
        raise PluginError(f"{label}: must be constructible without arguments ({exc})") from exc
    except ValueError:
        pass  # no introspectable signature (C-implemented __init__); nothing to check


def _check_signature(
    label: str, action_cls: type[Action], method: str, args: tuple[str, ...]
) -> None:
    """The runtime calls ``method`` positionally as ``(instance, *args)``; check it can."""
    raw = inspect.getattr_static(action_cls, method)
    if isinstance(raw, staticmethod | classmethod) or not callable(raw):
        raise PluginError(
            f"{label}: {method} must be a plain method {method}(self, {', '.join(args)})"
        )
    function: Callable[..., Any] = raw
    try:
        signature = inspect.signature(function)
    except ValueError:
        return  # no introspectable signature; the call itself will tell
    try:
        signature.bind(*([None] * (len(args) + 1)))
    except TypeError as exc:
        raise PluginError(
            f"{label}: {method}{signature} does not match {method}(self, {', '.join(args)}): {exc}"
        ) from exc


def builtin_actions() -> tuple[type[Action], ...]:
    """The action classes this distribution declares in its own entry points (imports them)."""
    out: list[type[Action]] = []
    for entry_point in _entry_points(ENTRY_POINT_GROUP):
        if _is_builtin(entry_point):
            out.extend(_actions_of(entry_point.load(), _describe(entry_point)))
    return tuple(out)


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry: every action of the ``runbook_engine.actions`` entry points,
    the engine's own first, each validated now (computed once per process).

    A plugin that fails to load or validate does not break the others: it is kept in
    ``Registry.broken``, logged once, and naming one of its actions says why it is missing.
    """
    registry = Registry()
    registry.load_entry_points(strict=False)
    for broken in registry.broken:
        log.warning("action plugin unavailable: %s", broken.message)
    return registry

"""The action registry: which action names exist and which class implements each.

Plugins are checked when they are registered (at start-up), so a broken or clashing plugin
stops the engine before an incident rather than failing the one step that uses it mid-incident.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import inspect
import re
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from actions.base import Action, ActionParams
from engine.errors import RunbookError

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "PluginError",
    "Registry",
    "UnknownActionError",
    "builtin_actions",
    "default_registry",
]

#: the entry-point group third-party distributions use to provide actions
ENTRY_POINT_GROUP = "runbook_engine.actions"

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


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class Registry:
    """Action classes by name. Thread-safe; registration is normally done once at start-up."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Action]] = {}
        self._origins: dict[str, str] = {}
        self._lazy: dict[str, str] = {}
        self._lock = threading.RLock()

    def register_lazy(self, name: str, target: str, *, origin: str = "built-in") -> None:
        """Know ``name`` now, import ``"module:Class"`` when it is first used.

        Built-ins are registered this way so that a runbook of shell steps does not pay for
        importing boto3 or paramiko; they are validated on first use and by the test suite."""
        with self._lock:
            if name in self._classes or name in self._lazy:
                raise PluginError(f"action name {name!r} is taken")
            self._lazy[name] = target
            self._origins[name] = origin

    def _resolve(self, name: str) -> type[Action] | None:
        with self._lock:
            target = self._lazy.pop(name, None)
            if target is None:
                return self._classes.get(name)
            origin = self._origins.pop(name, "built-in")
        module_name, _, attr = target.partition(":")
        try:
            action_cls: type[Action] = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:
            raise PluginError(f"cannot load action {name!r} from {target}: {exc}") from exc
        if getattr(action_cls, "name", None) != name:
            raise PluginError(
                f"{target} is registered as {name!r} but is named "
                f"{getattr(action_cls, 'name', None)!r}"
            )
        return self.register(action_cls, origin=origin)  # validates it like any plugin

    def register(self, action_cls: A, *, origin: str = "") -> A:
        """Validate ``action_cls`` and add it; returns it, so this also works as a decorator.

        ``origin`` (e.g. the entry point) is shown in error messages. Registering the same
        class again is a no-op; another class under a taken name raises ``PluginError``.
        """
        _validate(action_cls)
        where = f" ({origin})" if origin else ""
        with self._lock:
            if action_cls.name in self._lazy:
                target = self._lazy[action_cls.name].replace(":", ".")
                raise PluginError(
                    f"action name {action_cls.name!r} is taken: {target} "
                    f"({self._origins[action_cls.name]}) is already registered under it, "
                    f"cannot also register {_qualname(action_cls)}{where}"
                )
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
        closest known name.
        """
        return self.get_class(name)()

    def get_class(self, name: str) -> type[Action]:
        """The class of the action called ``name`` (e.g. to validate parameters early)."""
        found = self._resolve(name)
        if found is not None:
            return found
        with self._lock:
            known = sorted({*self._classes, *self._lazy})
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
        elif known:
            hint = f"known actions: {', '.join(known)}"
        else:
            hint = "no actions are registered"
        raise UnknownActionError(name, f"unknown action {name!r}; {hint}")

    def names(self) -> list[str]:
        """All registered names, sorted."""
        with self._lock:
            return sorted({*self._classes, *self._lazy})

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._classes or name in self._lazy

    def __len__(self) -> int:
        with self._lock:
            return len(self._classes) + len(self._lazy)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register the actions that installed distributions declare in the entry-point
        ``group``; returns the names registered.

        Each entry point refers to an ``Action`` subclass, or to a module whose ``ACTIONS`` list
        holds them. Import failures and invalid plugins raise ``PluginError`` naming the entry
        point and its distribution.
        """
        loaded: list[str] = []
        for entry_point in importlib.metadata.entry_points(group=group):
            dist = entry_point.dist
            source = (
                f"entry point {entry_point.name!r} = {entry_point.value!r} of distribution "
                f"{dist.name if dist is not None else '<unknown>'}"
                f"{f' {dist.version}' if dist is not None else ''}"
            )
            try:
                target = entry_point.load()
            except Exception as exc:  # anything a plugin's import raises is the plugin's fault
                raise PluginError(f"cannot load {source}: {type(exc).__name__}: {exc}") from exc
            for action_cls in _actions_of(target, source):
                try:
                    self.register(action_cls, origin=source)
                except PluginError as exc:
                    # Validation messages name the class; add where it came from.
                    if source in str(exc):
                        raise
                    raise PluginError(f"{exc} (from {source})") from exc
                loaded.append(action_cls.name)
        return loaded


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
    """Raise ``PluginError`` unless ``action_cls`` honours the contract in ``actions.base``."""
    if not (isinstance(action_cls, type) and issubclass(action_cls, Action)):
        raise PluginError(f"{action_cls!r} is not a subclass of actions.base.Action")
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
            f"{label}: Params must be a subclass of actions.base.ActionParams, got {params!r}"
        )
    if params.model_config.get("extra") != "forbid":
        raise PluginError(
            f"{label}: {params.__name__} must keep extra='forbid' so a mistyped parameter "
            f"is an error instead of being ignored"
        )
    if not isinstance(action_cls.idempotent, bool):
        raise PluginError(f"{label}: idempotent must be True or False")

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


#: the engine's own actions, imported on first use (see ``Registry.register_lazy``)
BUILTINS: dict[str, str] = {
    "log": "actions.core:LogAction",
    "sleep": "actions.core:SleepAction",
    "assert": "actions.core:AssertAction",
    "fail": "actions.core:FailAction",
    "shell.command": "actions.shell:ShellCommandAction",
    "http.request": "actions.http:HttpRequestAction",
    "file.write": "actions.file:FileWriteAction",
    "aws.call": "actions.aws.call:AwsCallAction",
    "aws.wait": "actions.aws.wait:AwsWaitAction",
    "aws.assert": "actions.aws.assertion:AwsAssertAction",
    "scaling.asg": "actions.aws.scaling_asg:ScalingAsgAction",
    "scaling.ecs": "actions.aws.scaling_ecs:ScalingEcsAction",
    "ec2.instances": "actions.aws.ec2:Ec2InstancesAction",
    "ssh.command": "actions.ssh.command:SshCommandAction",
    "ssh.script": "actions.ssh.script:SshScriptAction",
    "ssh.upload": "actions.ssh.upload:SshUploadAction",
    "ssh.download": "actions.ssh.download:SshDownloadAction",
}


def builtin_actions() -> tuple[type[Action], ...]:
    """The action classes that ship with the engine (imports them all)."""
    out: list[type[Action]] = []
    for target in BUILTINS.values():
        module_name, _, attr = target.partition(":")
        out.append(getattr(importlib.import_module(module_name), attr))
    return tuple(out)


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry: built-in actions plus installed plugins (computed once).

    Raises ``PluginError`` if a plugin is broken; nothing is cached then, so a fixed
    installation is picked up by the next call.
    """
    registry = Registry()
    for name, target in BUILTINS.items():
        registry.register_lazy(name, target)
    registry.load_entry_points()
    return registry

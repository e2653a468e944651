"""Registry: plugins are validated when registered, and lookups explain their failures."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from runbook_engine.errors import RunbookError
from runbook_engine.plugin import (
    Action,
    ActionContext,
    ActionParams,
    PluginError,
    Registry,
    Result,
    UnknownActionError,
    builtin_actions,
    default_registry,
)


class PingParams(ActionParams):
    target: str = "localhost"


class Ping(Action):
    name = "net.ping"
    Params = PingParams

    def run(self, params: PingParams, ctx: ActionContext) -> Result:
        return {"target": params.target}


def make_action(name: str = "demo.action", **attrs: Any) -> type[Action]:
    """A valid Action class, with ``attrs`` overriding or adding class attributes."""

    def run(self: Action, params: Any, ctx: ActionContext) -> Result:
        return {}

    namespace: dict[str, Any] = {"name": name, "Params": PingParams, "run": run}
    namespace.update(attrs)
    return type("Demo", (Action,), namespace)


def test_register_get_names_contains() -> None:
    registry = Registry()
    assert registry.register(Ping) is Ping
    assert "net.ping" in registry
    assert "net.pong" not in registry
    assert registry.names() == ["net.ping"]
    assert len(registry) == 1
    action = registry.get("net.ping")
    assert isinstance(action, Ping)
    assert registry.get_class("net.ping") is Ping


def test_register_works_as_a_decorator() -> None:
    registry = Registry()

    @registry.register
    class Restart(Action):
        name = "svc.restart"
        Params = PingParams

        def run(self, params: PingParams, ctx: ActionContext) -> Result:
            return {}

    assert registry.get_class("svc.restart") is Restart


def test_plugin_error_is_a_runbook_error() -> None:
    assert issubclass(PluginError, RunbookError)


@pytest.mark.parametrize(
    "name", ["", "Upper", "1abc", "a..b", "a.", ".a", "a-b", "a b", "a.1b", "_a", "ä"]
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(PluginError, match="invalid action name"):
        Registry().register(make_action(name))


@pytest.mark.parametrize("name", ["log", "shell.command", "k8s.rollout_restart", "a.b.c9"])
def test_valid_names(name: str) -> None:
    registry = Registry()
    registry.register(make_action(name))
    assert name in registry


def test_not_an_action_subclass() -> None:
    class Lookalike:
        name = "look.alike"

    with pytest.raises(PluginError, match=r"not a subclass of runbook_engine\.Action"):
        Registry().register(Lookalike)  # type: ignore[type-var]


class PlainModel(BaseModel):
    target: str = ""


class LaxParams(ActionParams):
    model_config = ConfigDict(extra="allow")


@pytest.mark.parametrize("params", [PlainModel, dict, "PingParams", None])
def test_params_must_be_an_action_params_model(params: object) -> None:
    with pytest.raises(
        PluginError, match=r"Params must be a subclass of runbook_engine\.ActionParams"
    ):
        Registry().register(make_action(Params=params))


def test_params_must_forbid_unknown_keys() -> None:
    with pytest.raises(PluginError, match="extra='forbid'"):
        Registry().register(make_action(Params=LaxParams))


def test_run_must_be_overridden() -> None:
    class NoRun(Action):
        name = "no.run"
        Params = PingParams

    with pytest.raises(PluginError, match=r"run\(self, params, ctx\) is not implemented"):
        Registry().register(NoRun)


def test_run_signature_is_checked() -> None:
    def run(self: Action, params: Any) -> Result:
        return {}

    with pytest.raises(PluginError, match="does not match run"):
        Registry().register(make_action(run=run))


def test_idempotent_must_be_a_bool() -> None:
    with pytest.raises(PluginError, match="idempotent"):
        Registry().register(make_action(idempotent="yes"))


def _undo_too_few(self: Action, params: Any) -> None:
    return None


def _undo_extra_required(self: Action, params: Any, result: Any, ctx: Any, force: bool) -> None:
    return None


@pytest.mark.parametrize(
    "undo",
    [
        _undo_too_few,
        _undo_extra_required,
        staticmethod(lambda params, result, ctx: None),
    ],
)
def test_incompatible_undo_is_refused(undo: object) -> None:
    with pytest.raises(PluginError, match="undo"):
        Registry().register(make_action(undo=undo))


def _undo_varargs(self: Action, *args: Any) -> None:
    return None


def _undo_with_default(
    self: Action, params: Any, result: Any, ctx: Any, force: bool = False
) -> None:
    return None


@pytest.mark.parametrize("undo", [_undo_varargs, _undo_with_default])
def test_compatible_undo_is_accepted(undo: object) -> None:
    cls = make_action(undo=undo)
    Registry().register(cls)
    assert cls.has_undo()


def test_constructor_must_take_no_arguments() -> None:
    def __init__(self: Action, endpoint: str) -> None:
        self.endpoint = endpoint  # type: ignore[attr-defined]  # a made-up attribute

    with pytest.raises(PluginError, match="constructible without arguments"):
        Registry().register(make_action(__init__=__init__))


def test_duplicate_name_names_both_classes() -> None:
    registry = Registry()
    registry.register(Ping, origin="built-in")

    class OtherPing(Action):
        name = "net.ping"
        Params = PingParams

        def run(self, params: PingParams, ctx: ActionContext) -> Result:
            return {}

    with pytest.raises(PluginError, match=r"'net\.ping' is taken") as excinfo:
        registry.register(OtherPing, origin="entry point x")
    message = str(excinfo.value)
    assert f"{__name__}.Ping (built-in)" in message
    assert "OtherPing (entry point x)" in message
    assert registry.get_class("net.ping") is Ping


def test_registering_the_same_class_twice_is_harmless() -> None:
    registry = Registry()
    registry.register(Ping)
    registry.register(Ping)
    assert registry.names() == ["net.ping"]


def test_unknown_action_suggests_the_closest_name() -> None:
    registry = Registry()
    for cls in builtin_actions():
        registry.register(cls)
    with pytest.raises(UnknownActionError) as excinfo:
        registry.get("shell.comand")
    assert str(excinfo.value) == "unknown action 'shell.comand'; did you mean 'shell.command'?"
    assert excinfo.value.name == "shell.comand"
    # Callers that treat the registry as a mapping can catch KeyError.
    assert isinstance(excinfo.value, KeyError)
    assert isinstance(excinfo.value, PluginError)


def test_unknown_action_without_a_close_match_lists_known_names() -> None:
    registry = Registry()
    registry.register(Ping)
    with pytest.raises(KeyError, match=r"unknown action 'zzz'; known actions: net\.ping"):
        registry.get("zzz")
    with pytest.raises(PluginError, match="no actions are registered"):
        Registry().get("zzz")


def test_builtins_register_and_instantiate() -> None:
    registry = Registry()
    for cls in builtin_actions():
        registry.register(cls)
    assert registry.names() == sorted(cls.name for cls in builtin_actions())
    idempotent = {name: registry.get(name).idempotent for name in registry}
    assert idempotent == {
        "assert": True,
        "aws.assert": True,
        "aws.call": False,
        "aws.wait": True,
        "ec2.instances": False,
        "fail": True,
        "file.write": True,
        "http.request": False,
        "log": True,
        "scaling.asg": False,
        "scaling.ecs": False,
        "shell.command": False,
        "sleep": True,
        "ssh.command": False,
        "ssh.download": True,
        "ssh.script": False,
        "ssh.upload": False,
    }


def test_builtins_arrive_through_the_entry_point_group_and_are_validated_at_once() -> None:
    """One mechanism: the engine's own actions are entry points of its distribution, loaded
    and checked when the registry is first used, exactly like a third-party plugin's."""
    default_registry.cache_clear()
    try:
        registry = default_registry()
        assert registry.broken == []
        for cls in builtin_actions():
            assert registry.origin(cls.name) == "built-in"
            assert registry.get_class(cls.name) is cls
    finally:
        default_registry.cache_clear()


def test_default_registry_is_cached_and_has_the_builtins() -> None:
    default_registry.cache_clear()
    try:
        registry = default_registry()
        assert registry is default_registry()
        assert {"log", "sleep", "assert", "fail", "shell.command", "http.request"} <= set(
            registry.names()
        )
    finally:
        default_registry.cache_clear()


def test_an_action_without_effects_must_be_idempotent() -> None:
    with pytest.raises(PluginError, match="without effects must be idempotent"):
        Registry().register(make_action("pure.once", effects=False, idempotent=False))
    Registry().register(make_action("pure.again", effects=False, idempotent=True))
    with pytest.raises(PluginError, match="effects must be True or False"):
        Registry().register(make_action("odd.effects", effects="no"))

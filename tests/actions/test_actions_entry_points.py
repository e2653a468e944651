"""Loading plugins from entry points of (fake, but real on disk) installed distributions."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbook_engine.plugin import ENTRY_POINT_GROUP, PluginError, Registry, default_registry
from runbook_engine.plugin.contract import ActionContext

#: make(distribution, module source, entry point lines) -> module name
MakeDist = Callable[[str, str, list[str]], str]

_PLUGIN = """
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result


class RestartParams(ActionParams):
    service: str


class Restart(Action):
    name = "{prefix}.restart"
    Params = RestartParams
    idempotent = True

    def run(self, params: RestartParams, ctx: ActionContext) -> Result:
        return {{"restarted": params.service}}


class Drain(Action):
    name = "{prefix}.drain"
    Params = RestartParams

    def run(self, params: RestartParams, ctx: ActionContext) -> Result:
        return {{"drained": params.service}}


ACTIONS = [Restart, Drain]
"""


@pytest.fixture
def group() -> str:
    """A private entry-point group, so plugins installed in the venv cannot interfere."""
    return f"runbook_engine_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Write ``<module>.py`` and ``<dist>-1.0.dist-info`` (METADATA, entry_points.txt) into a
    directory on ``sys.path``, as pip would install them."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(dist: str, source: str, entry_points: list[str]) -> str:
        module = f"{dist.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(
            "\n".join(line.format(module=module) for line in entry_points) + "\n"
        )
        importlib.invalidate_caches()
        modules.append(module)
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


def test_entry_point_to_a_class(make_dist: MakeDist, group: str, ctx: ActionContext) -> None:
    make_dist(
        "acme-actions",
        _PLUGIN.format(prefix="acme"),
        [
            f"[{group}]",
            "restart = {module}:Restart",
        ],
    )
    registry = Registry()
    assert registry.load_entry_points(group) == ["acme.restart"]
    action = registry.get("acme.restart")
    params = action.Params.model_validate({"service": "api"})
    assert action.run(params, ctx) == {"restarted": "api"}


def test_entry_point_to_a_module_with_actions(make_dist: MakeDist, group: str) -> None:
    make_dist("acme-actions", _PLUGIN.format(prefix="acme"), [f"[{group}]", "acme = {module}"])
    registry = Registry()
    assert sorted(registry.load_entry_points(group)) == ["acme.drain", "acme.restart"]


def test_broken_import_names_entry_point_and_distribution(make_dist: MakeDist, group: str) -> None:
    make_dist(
        "broken-plugin",
        "raise RuntimeError('boom: missing SDK')\n",
        [f"[{group}]", "broken = {module}:Thing"],
    )
    with pytest.raises(PluginError) as excinfo:
        Registry().load_entry_points(group)
    message = str(excinfo.value)
    assert "entry point 'broken'" in message
    assert "distribution broken-plugin 1.0" in message
    assert "RuntimeError: boom: missing SDK" in message
    assert isinstance(excinfo.value.__cause__, RuntimeError)


def test_missing_module_is_a_plugin_error(make_dist: MakeDist, group: str) -> None:
    make_dist("ghost-plugin", "", [f"[{group}]", "ghost = no_such_module_xyz:Ghost"])
    with pytest.raises(PluginError, match=r"'ghost'.*ghost-plugin.*ModuleNotFoundError"):
        Registry().load_entry_points(group)


def test_entry_point_to_something_else(make_dist: MakeDist, group: str) -> None:
    make_dist("odd-plugin", "VALUE = 3\n", [f"[{group}]", "odd = {module}:VALUE"])
    with pytest.raises(PluginError, match="neither an Action subclass nor a module"):
        Registry().load_entry_points(group)


def test_module_without_actions_list(make_dist: MakeDist, group: str) -> None:
    make_dist("bare-plugin", "VALUE = 3\n", [f"[{group}]", "bare = {module}"])
    with pytest.raises(PluginError, match="has no ACTIONS list"):
        Registry().load_entry_points(group)


def test_invalid_plugin_class_says_where_it_came_from(make_dist: MakeDist, group: str) -> None:
    make_dist(
        "caps-plugin",
        _PLUGIN.format(prefix="Acme"),
        [f"[{group}]", "restart = {module}:Restart"],
    )
    with pytest.raises(PluginError, match=r"invalid action name 'Acme\.restart'.*caps-plugin"):
        Registry().load_entry_points(group)


def test_plugin_clashing_with_a_builtin_is_refused(make_dist: MakeDist) -> None:
    source = """
    from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result


    class MyLogParams(ActionParams):
        message: str


    class MyLog(Action):
        name = "log"
        Params = MyLogParams

        def run(self, params: MyLogParams, ctx: ActionContext) -> Result:
            return {}
    """
    module = make_dist("shadow-plugin", source, [f"[{ENTRY_POINT_GROUP}]", "log = {module}:MyLog"])
    default_registry.cache_clear()
    try:
        registry = default_registry()
    finally:
        default_registry.cache_clear()
    # the built-in keeps its name; the plugin that wanted it is set aside, by name
    assert registry.get_class("log").__module__ == "runbook_engine.actions.core"
    [broken] = registry.broken
    assert broken.entry_point == "log"
    assert "runbook_engine.actions.core.LogAction (built-in)" in broken.message
    assert f"{module}.MyLog" in broken.message
    assert "shadow-plugin" in broken.message


def test_a_broken_plugin_is_named_and_the_others_still_work(
    make_dist: MakeDist, caplog: pytest.LogCaptureFixture
) -> None:
    make_dist(
        "broken-plugin",
        "raise RuntimeError('boom: missing SDK')\n",
        [f"[{ENTRY_POINT_GROUP}]", "acme = {module}"],
    )
    default_registry.cache_clear()
    try:
        registry = default_registry()
    finally:
        default_registry.cache_clear()
    assert "shell.command" in registry
    assert "acme.restart" not in registry
    assert [b.entry_point for b in registry.broken] == ["acme"]
    assert "broken-plugin 1.0" in caplog.text
    assert "RuntimeError: boom: missing SDK" in caplog.text
    with pytest.raises(PluginError, match=r"'acme\.restart' is unavailable: its plugin is broken"):
        registry.get("acme.restart")


def test_default_registry_includes_installed_plugins(make_dist: MakeDist) -> None:
    make_dist(
        "acme-actions", _PLUGIN.format(prefix="acme"), [f"[{ENTRY_POINT_GROUP}]", "acme = {module}"]
    )
    default_registry.cache_clear()
    try:
        registry = default_registry()
        assert "acme.restart" in registry
        assert "shell.command" in registry
    finally:
        default_registry.cache_clear()

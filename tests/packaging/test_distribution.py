"""What pip installs: one import package, and plugins from real installed distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: the build tools come from the test venv, no download
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(REPO))
    [built] = out.glob("runbook_engine-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = archive.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"runbook_engine"}
    assert "runbook_engine/actions/ssh/command.py" in names
    assert "runbook_engine/store/migrations/env.py" in names
    assert "runbook_engine/py.typed" in names


def test_a_fresh_venv_exposes_runbook_engine_only(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    _pip("--python", str(python), "install", "--no-deps", str(wheel))
    probe = textwrap.dedent(
        """
        import importlib.metadata, importlib.util, json
        import runbook_engine
        print(json.dumps({
            "engine": importlib.util.find_spec("engine") is not None,
            "actions": importlib.util.find_spec("actions") is not None,
            "root_error": runbook_engine.RunbookError.__module__,
            "builtins": sorted(
                ep.name for ep in importlib.metadata.entry_points(group="runbook_engine.actions")
            ),
            "top_level": sorted(
                importlib.metadata.distribution("runbook-engine")
                .read_text("top_level.txt").split()
            ),
        }))
        """
    )
    # a clean environment and a neutral cwd: nothing of the checkout may leak in
    found = subprocess.run(
        [str(python), "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
    )
    import json

    report = json.loads(found.stdout)
    assert report["engine"] is False
    assert report["actions"] is False
    assert report["root_error"] == "runbook_engine.errors"
    assert report["top_level"] == ["runbook_engine"]
    assert {"log", "shell.command", "ssh.command", "aws.call"} <= set(report["builtins"])


_PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "1.0"

[project.entry-points."runbook_engine.actions"]
"{entry}" = "{module}:ACTIONS_MODULE"
"""


@pytest.fixture
def install_plugin(tmp_path: Path) -> tuple[Path, object]:
    """pip-installs a plugin distribution built from source into a directory the ``runbook``
    command of the test venv then sees on its path."""
    site = tmp_path / "site"

    def install(name: str, module: str, entry: str, source: str) -> None:
        project = tmp_path / name
        project.mkdir()
        (project / "pyproject.toml").write_text(
            _PLUGIN_PYPROJECT.format(name=name, module=module, entry=entry).replace(
                ":ACTIONS_MODULE", ""
            )
        )
        (project / f"{module}.py").write_text(textwrap.dedent(source))
        _pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(project))

    return site, install


def _runbook(site: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "runbook"), *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=120,
    )


def test_a_broken_installed_plugin_is_named_and_the_builtins_still_run(
    install_plugin: tuple[Path, object], workdir: Path
) -> None:
    site, install = install_plugin
    install(  # type: ignore[operator]
        "acme-broken",
        "acme_broken",
        "acme",
        "import acme_sdk_that_is_not_installed\n",
    )
    install(  # type: ignore[operator]
        "acme-good",
        "acme_good",
        "acme2",
        """
        from runbook_engine import Action, ActionContext, ActionParams, Result

        class PingParams(ActionParams):
            target: str

        class Ping(Action):
            name = "acme2.ping"
            Params = PingParams
            idempotent = True

            def run(self, params: PingParams, ctx: ActionContext) -> Result:
                ctx.log(f"pong from {params.target}")
                return {"pong": params.target}

        ACTIONS = [Ping]
        """,
    )
    (workdir / "ok.yaml").write_text(
        "apiVersion: runbook/v1\nname: ok\nversion: 1\nsteps:\n"
        "  - {id: hello, action: log, with: {message: hi}}\n"
        "  - {id: ping, action: acme2.ping, with: {target: db1}}\n"
    )
    done = _runbook(site, workdir, "run", "ok.yaml", "--yes", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert '"status": "succeeded"' in done.stdout
    # the broken one is reported by name, with its distribution and the import error
    assert "entry point 'acme'" in done.stderr
    assert "acme-broken 1.0" in done.stderr
    assert "acme_sdk_that_is_not_installed" in done.stderr
    assert "Traceback" not in done.stderr

    listed = _runbook(site, workdir, "actions", "--output", "json")
    assert listed.returncode == 1  # a plugin is broken
    import json

    report = json.loads(listed.stdout)
    origins = {row["name"]: row["origin"] for row in report["actions"]}
    assert origins["log"] == "built-in"
    assert "distribution acme-good 1.0" in origins["acme2.ping"]
    assert [b["entry_point"] for b in report["broken"]] == ["acme"]

    (workdir / "uses.yaml").write_text(
        "apiVersion: runbook/v1\nname: uses\nversion: 1\nsteps:\n"
        "  - {id: x, action: acme.restart, with: {service: api}}\n"
    )
    refused = _runbook(site, workdir, "run", "uses.yaml", "--yes")
    assert refused.returncode == 2
    assert "'acme.restart' is unavailable: its plugin is broken" in refused.stderr
    assert "Traceback" not in refused.stderr

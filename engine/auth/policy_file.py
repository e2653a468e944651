"""The policy file (``RUNBOOK_POLICY``): who administers the engine, and who may view and run
runbooks whose own ``permissions`` leave a list empty.

    admins: [alice@example.com, "@platform"]
    defaults:
      view: ["@staff"]      # empty or absent: anyone authenticated
      run: ["@oncall"]      # for runbooks without permissions.run; absent: anyone

A runbook's own ``permissions.run`` always wins over the default: the people who wrote a
runbook decide who runs it. Approvers are not defaulted here: the approvers a step waits for
are written into its run log when it asks (the runtime reads the runbook alone), and the check
must agree with what the log and the prompt said.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runbook_engine.errors import RunbookError

ENV_VAR = "RUNBOOK_POLICY"


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    view: list[str] = Field(default_factory=list)
    run: list[str] = Field(default_factory=list)


class _PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admins: list[str] = Field(default_factory=list)
    defaults: _Defaults = Field(default_factory=_Defaults)


@dataclass(frozen=True)
class Policy:
    """The policy file as read; the empty policy (no file) adds nothing to the runbooks."""

    admins: tuple[str, ...] = ()
    view: tuple[str, ...] = ()
    run: tuple[str, ...] = ()
    source: str = ""

    @classmethod
    def read(cls, path: str | Path) -> Policy:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            doc = _PolicyDocument.model_validate(data)
        except (OSError, yaml.YAMLError) as exc:
            raise RunbookError(f"cannot read policy file {path}: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
            )
            raise RunbookError(f"policy file {path}: {problems}") from None
        return cls(tuple(doc.admins), tuple(doc.defaults.view), tuple(doc.defaults.run), str(path))


_cache: dict[tuple[str, float], Policy] = {}


def current_policy() -> Policy:
    """The policy of ``RUNBOOK_POLICY`` (read again when the file changes), else the empty
    one. A named file that cannot be read is an error, never an empty policy: a typo must
    not open every runbook to everyone."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return Policy()
    try:
        mtime = Path(path).stat().st_mtime
    except OSError as exc:
        raise RunbookError(f"cannot read policy file {path} ({ENV_VAR}): {exc}") from None
    key = (path, mtime)
    if key not in _cache:
        _cache.clear()
        _cache[key] = Policy.read(path)
    return _cache[key]

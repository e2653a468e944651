"""``file.write``: write a local file atomically, and put the old content back on rollback.

Typical use: flip a maintenance flag, change a config file before a reload. The previous content
(or its absence) is kept in the step's result, so the automatic undo needs no rollback block."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook_engine.errors import ActionError, ActionInputError
from runbook_engine.plugin.contract import Action, ActionContext, ActionParams, Result

#: files larger than this are not kept for undo (the step fails instead of losing the original)
MAX_UNDO_BYTES = 1_000_000


class FileWriteParams(ActionParams):
    path: str
    content: str
    mode: str | None = None  # octal text such as "0644"; default: keep the existing mode


def _atomic_write(path: Path, data: bytes, mode: int | None) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileWriteAction(Action):
    name = "file.write"
    Params = FileWriteParams
    idempotent = True  # writing the same content again leaves the same file
    description = "Write a local file atomically; rollback restores the previous content."

    def run(self, params: FileWriteParams, ctx: ActionContext) -> Result:
        path = Path(params.path)
        if not path.parent.is_dir():
            raise ActionInputError(f"{path.parent} is not a directory")
        if path.is_dir():
            raise ActionInputError(f"{path} is a directory")
        mode = int(params.mode, 8) if params.mode else None
        previous: dict[str, Any] = {"existed": path.exists()}
        if previous["existed"]:
            if path.stat().st_size > MAX_UNDO_BYTES:
                raise ActionInputError(
                    f"{path} is larger than {MAX_UNDO_BYTES} bytes; "
                    "refusing to overwrite what could not be restored"
                )
            previous["content_b64"] = base64.b64encode(path.read_bytes()).decode()
            previous["mode"] = oct(path.stat().st_mode & 0o7777)
        try:
            _atomic_write(path, params.content.encode(), mode)
        except OSError as exc:
            raise ActionError(f"cannot write {path}: {exc.strerror}", retryable=False) from None
        ctx.log(f"wrote {len(params.content.encode())} bytes to {path}")
        return {"path": str(path), "bytes": len(params.content.encode()), "previous": previous}

    def undo(
        self, params: FileWriteParams, result: Mapping[str, Any], ctx: ActionContext
    ) -> Result | None:
        path = Path(params.path)
        previous = result.get("previous") or {}
        try:
            if not previous.get("existed"):
                path.unlink(missing_ok=True)
                ctx.log(f"removed {path} (it did not exist before)")
                return {"path": str(path), "restored": "absent"}
            data = base64.b64decode(previous.get("content_b64", ""))
            _atomic_write(path, data, int(previous["mode"], 8) if previous.get("mode") else None)
        except OSError as exc:
            raise ActionError(f"cannot restore {path}: {exc.strerror}", retryable=False) from None
        ctx.log(f"restored {path} ({len(data)} bytes)")
        return {"path": str(path), "restored": "previous content"}

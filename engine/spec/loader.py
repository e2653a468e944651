"""Read a runbook file: YAML → marked data → every problem at once, or a validated Runbook."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runbook_engine.errors import ParameterError, Problem, RunbookInvalid
from runbook_engine.spec.checks import check_document
from runbook_engine.spec.errors_map import problems_from_validation
from runbook_engine.spec.models import Runbook
from runbook_engine.spec.params import resolve_params
from runbook_engine.spec.yamlmarks import YAMLSyntaxError, load_marked

MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class LoadedRunbook:
    """A validated runbook and the exact text it came from."""

    runbook: Runbook
    source: str
    file: str
    document: dict[str, Any]
    digest: str

    @property
    def ref(self) -> str:
        return f"{self.runbook.name}@{self.runbook.version}"


def canonical_json(document: Any) -> str:
    """The canonical form: key order, comments and YAML style do not change a version's digest."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def digest_of(document: Any) -> str:
    # surrogatepass: a YAML escape such as "\ud800" yields a lone surrogate, which utf-8 refuses
    text = canonical_json(document).encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(text).hexdigest()


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a single string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def load_text(text: str, file: str = "<string>") -> LoadedRunbook:
    """Validate ``text``; raise RunbookInvalid listing every problem found."""
    if len(text.encode(errors="replace")) > MAX_BYTES:
        raise RunbookInvalid(
            [Problem(file, None, None, "", f"file is larger than {MAX_BYTES} bytes")]
        )
    try:
        marked = load_marked(text)
    except YAMLSyntaxError as exc:
        line = exc.mark.line if exc.mark else None
        col = exc.mark.column if exc.mark else None
        raise RunbookInvalid([Problem(file, line, col, "", f"YAML syntax error: {exc}")]) from None
    data = marked.data
    if not isinstance(data, dict):
        kind = _yaml_kind(data)
        raise RunbookInvalid(
            [
                Problem(
                    file,
                    1,
                    1,
                    "",
                    f"a runbook is a mapping (apiVersion, name, steps, ...), not {kind}",
                )
            ]
        )
    problems = check_document(marked, file)
    runbook: Runbook | None = None
    try:
        # by_name=False: the Python names `with_`, `if_`, `api_version` are not keys of the format
        runbook = Runbook.model_validate(data, by_name=False)
    except ValidationError as exc:
        problems = problems_from_validation(exc, marked, file) + problems
    if runbook is not None:
        for i, sched in enumerate(runbook.schedule):
            try:
                resolve_params(runbook, sched.params, from_text=False)
            except ParameterError as exc:
                if exc.name not in runbook.parameters:
                    continue  # unknown names are reported by check_document
                where = marked.mark(("schedule", i, "params"))
                problems.append(
                    Problem(
                        file,
                        where.line if where else None,
                        where.column if where else None,
                        f"schedule[{i}].params",
                        str(exc),
                    )
                )
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise RunbookInvalid(problems)
    assert runbook is not None  # no problems means validation succeeded
    return LoadedRunbook(runbook, text, file, data, digest_of(data))


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_limited(path: Path) -> bytes:
    """The bytes of a runbook file, never more than ``MAX_BYTES`` of them in memory.

    The size is checked before reading (a 500 MB file costs nothing), and what is read stops
    one byte past the limit (a file growing meanwhile). Only regular files are read: a symlink
    to ``/dev/zero`` or a named pipe would never end, or block. The file is opened without
    blocking and checked on the open descriptor, so it cannot be swapped in between."""
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise RunbookInvalid(
            [Problem(file, None, None, "", f"cannot read: {exc.strerror}")]
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            message = f"{_kind(info.st_mode)}, not a regular file: not read"
            raise RunbookInvalid([Problem(file, None, None, "", message)])
        if info.st_size > MAX_BYTES:
            message = f"file is larger than {MAX_BYTES} bytes ({info.st_size} bytes): not read"
            raise RunbookInvalid([Problem(file, None, None, "", message)])
        raw = b""
        while len(raw) <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - len(raw))):
            raw += chunk
    except OSError as exc:
        raise RunbookInvalid(
            [Problem(file, None, None, "", f"cannot read: {exc.strerror}")]
        ) from None
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise RunbookInvalid(
            [Problem(file, None, None, "", f"file is larger than {MAX_BYTES} bytes")]
        )
    return raw


def load_file(path: str | Path) -> LoadedRunbook:
    p = Path(path)
    raw = read_limited(p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunbookInvalid(
            [Problem(str(p), None, None, "", f"not UTF-8 text: {exc.reason}")]
        ) from None
    return load_text(text, str(p))

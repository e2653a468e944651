"""The versioned catalog: which runbooks exist, in which versions, and where they came from.

Runbooks are found in ``./runbooks`` and in every directory of ``RUNBOOK_PATH`` (``:``-separated).
A version is identified by name, integer version and the sha256 digest of its canonical form.
The store keeps an immutable copy of every version that ran, so ``name@3`` still resolves after
the file moved on to version 4.

One bad file never stops the others from loading: a file that is invalid, too large or not a
regular file, or that claims a version another file holds with other content, is listed in
``problems`` (shown as a warning) and the scan goes on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from runbook_engine.errors import CatalogError, Problem, RunbookError, RunbookInvalid
from runbook_engine.spec.loader import LoadedRunbook, load_file, load_text
from runbook_engine.store import Store

ENV_PATH = "RUNBOOK_PATH"
SUFFIXES = (".yaml", ".yml")


def search_path() -> list[Path]:
    dirs = [Path("runbooks")]
    extra = os.environ.get(ENV_PATH, "")
    dirs.extend(Path(p) for p in extra.split(os.pathsep) if p.strip())
    seen: set[Path] = set()
    out: list[Path] = []
    for d in dirs:
        resolved = d.resolve()
        if resolved not in seen:
            seen.add(resolved)
            out.append(d)
    return out


def parse_ref(ref: str) -> tuple[str, int | None]:
    name, sep, version = ref.partition("@")
    if not sep:
        return name, None
    if not version.isdigit():
        raise CatalogError(f"{ref!r}: expected NAME@VERSION with an integer version")
    return name, int(version)


@dataclass
class Catalog:
    dirs: list[Path] = field(default_factory=search_path)
    _versions: dict[str, dict[int, LoadedRunbook]] = field(default_factory=dict, init=False)
    #: name and version that two files claim with different content: why neither is used
    _conflicts: dict[tuple[str, int], str] = field(default_factory=dict, init=False)
    problems: list[Problem] = field(default_factory=list, init=False)
    _scanned: bool = field(default=False, init=False)

    def files(self) -> list[Path]:
        """Every runbook file name in the search path; whether each is a regular file is
        checked when it is opened (``load_file``), so that one that is not is reported."""
        out: list[Path] = []
        for d in self.dirs:
            if d.is_dir():
                out.extend(sorted(p for p in d.iterdir() if p.suffix in SUFFIXES))
        return out

    def scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for path in self.files():
            try:
                loaded = load_file(path)
            except RunbookInvalid as exc:
                self.problems.extend(exc.problems)
                continue
            except RunbookError as exc:  # any other refusal stops this file, not the scan
                self.problems.append(Problem(str(path), None, None, "", str(exc)))
                continue
            self._add(loaded)

    def _add(self, loaded: LoadedRunbook) -> None:
        rb = loaded.runbook
        versions = self._versions.setdefault(rb.name, {})
        other = versions.get(rb.version)
        if other is not None and other.digest != loaded.digest:
            message = (
                f"{other.file} and {loaded.file} both claim {rb.name} version {rb.version} "
                f"with different content; bump `version` in the one you changed"
            )
            # neither is run: which one was meant is not known; the other runbooks still load
            self._conflicts[(rb.name, rb.version)] = message
            self.problems.append(Problem(loaded.file, None, None, "", message))
            return
        versions.setdefault(rb.version, loaded)

    def latest(self) -> list[LoadedRunbook]:
        self.scan()
        return [v[max(v)] for _, v in sorted(self._versions.items())]

    def versions(self, name: str) -> dict[int, LoadedRunbook]:
        """Every version of ``name`` the files hold, by number."""
        self.scan()
        return dict(self._versions.get(name, {}))

    def names(self) -> list[str]:
        self.scan()
        return sorted(self._versions)

    def resolve(self, ref: str, store: Store | None = None) -> LoadedRunbook:
        """``name``, ``name@3`` or a path to a runbook file."""
        if ref.endswith(SUFFIXES) or os.sep in ref:
            return load_file(ref)
        name, version = parse_ref(ref)
        self.scan()
        versions = self._versions.get(name, {})
        wanted = max(versions) if version is None and versions else version
        if wanted is not None and (name, wanted) in self._conflicts:
            raise CatalogError(self._conflicts[(name, wanted)])
        if version is None and versions:
            return versions[max(versions)]
        if version is not None and version in versions:
            return versions[version]
        if store is not None:
            stored = (
                store.get_version(name, version)
                if version is not None
                else max(store.list_versions(name), key=lambda v: v.version, default=None)
            )
            if stored is not None:
                return load_text(stored.source, f"<store {stored.name}@{stored.version}>")
        known = ", ".join(self.names()) or "none"
        if versions:
            have = ", ".join(str(v) for v in sorted(versions))
            raise CatalogError(f"runbook {name} has no version {version} (files have {have})")
        import difflib

        hint = difflib.get_close_matches(name, self.names(), n=1)
        if hint:
            raise CatalogError(f"no runbook named {name!r}; did you mean {hint[0]!r}?")
        where = ", ".join(str(d) for d in self.dirs)
        raise CatalogError(f"no runbook named {name!r} in {where} (known: {known})")

"""Host name ranges, as Ansible writes them: ``web[01:20]``, ``db-[a:c]``, ``n[0:10:2]``.

Both inventories and host patterns use them, so ``web[01:03]`` means web01, web02, web03 in a
file and on the command line alike. Bounds are inclusive; a zero-padded start keeps the width.
"""

from __future__ import annotations

import re

from runbook_engine.inventory.errors import InventoryError

__all__ = ["MAX_EXPANSION", "expand", "has_range"]

#: a typo such as ``web[1:1000000]`` must fail, not allocate a million hosts
MAX_EXPANSION = 100_000

_RANGE = re.compile(r"\[([^\[\]:]*):([^\[\]:]*)(?::([^\[\]:]*))?\]")


def has_range(name: str) -> bool:
    return _RANGE.search(name) is not None


def expand(name: str) -> list[str]:
    """Every name ``name`` stands for, in order; a name without a range is itself."""
    match = _RANGE.search(name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    out: list[str] = []
    for item in _items(name, match.group(1), match.group(2), match.group(3)):
        out.extend(expand(head + item + tail))
        if len(out) > MAX_EXPANSION:
            raise InventoryError(f"{name!r} expands to more than {MAX_EXPANSION} names")
    return out


def _items(name: str, start: str, end: str, step_text: str | None) -> list[str]:
    step = _step(name, step_text)
    if start.isdigit() and end.isdigit():
        first, last = int(start), int(end)
        if first > last:
            raise InventoryError(f"range in {name!r} runs backwards ({start} > {end})")
        # "01" pads every number to the width of the end ("01:20" -> 01..20); "1" does not.
        width = len(end) if start.startswith("0") and len(start) > 1 else 0
        if last - first > MAX_EXPANSION * step:
            raise InventoryError(f"{name!r} expands to more than {MAX_EXPANSION} names")
        return [str(n).zfill(width) for n in range(first, last + 1, step)]
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        if start > end:
            raise InventoryError(f"range in {name!r} runs backwards ({start} > {end})")
        return [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    raise InventoryError(
        f"invalid range in {name!r}: use [START:END] with numbers (01:20) or letters (a:f)"
    )


def _step(name: str, text: str | None) -> int:
    if text is None or text == "":
        return 1
    if not text.isdigit() or int(text) == 0:
        raise InventoryError(f"invalid range step {text!r} in {name!r}: a positive integer")
    return int(text)

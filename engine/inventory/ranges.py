"""Host name ranges, as Ansible writes them: ``web[01:20]``, ``db-[a:c]``, ``n[0:10:2]``.

Inventories use them to define many hosts in one line. Bounds are inclusive; a zero-padded
start (``01``) pads every number to its width, and then the end must be as wide, as Ansible
requires. Letter ranges run through ``a``..``z`` then ``A``..``Z``. Several ranges in one name
multiply, the leftmost varying slowest.

Two deliberate refusals where Ansible is silent: a numeric range that runs backwards (Ansible
makes no hosts of it) and one that would make more than ``MAX_EXPANSION`` names.
"""

from __future__ import annotations

import string

from runbook_engine.inventory.errors import InventoryError

__all__ = ["MAX_EXPANSION", "expand", "has_range"]

#: a typo such as ``web[1:1000000]`` must fail, not allocate a million hosts
MAX_EXPANSION = 100_000


def has_range(name: str) -> bool:
    """Whether ``name`` contains a ``[start:end]`` range (an opening bracket, as for Ansible)."""
    return "[" in name


def expand(name: str) -> list[str]:
    """Every name ``name`` stands for, in order; a name without a range is itself."""
    if "[" not in name:
        return [name]
    start = name.index("[")
    end = name.find("]", start)
    if end < 0 or "]" in name[:start]:
        raise InventoryError(f"invalid range in {name!r}: a range is [START:END] in brackets")
    head, bounds, tail = name[:start], name[start + 1 : end], name[end + 1 :]
    out: list[str] = []
    for item in _items(name, bounds):
        out.extend(expand(head + item + tail))
        if len(out) > MAX_EXPANSION:
            raise InventoryError(f"{name!r} expands to more than {MAX_EXPANSION} names")
    return out


def _items(name: str, bounds: str) -> list[str]:
    parts = bounds.split(":")
    if len(parts) not in (2, 3):
        raise InventoryError(f"invalid range in {name!r}: use [START:END] or [START:END:STEP]")
    first = parts[0] or "0"
    last = parts[1]
    if not last:
        raise InventoryError(f"invalid range in {name!r}: the range has no end")
    step = _step(name, parts[2] if len(parts) == 3 else "")
    if first in string.ascii_letters and last in string.ascii_letters:
        low, high = string.ascii_letters.index(first), string.ascii_letters.index(last)
        if low > high:
            raise InventoryError(f"range in {name!r} runs backwards ({first} > {last})")
        return list(string.ascii_letters[low : high + 1 : step])
    if not (first.isdigit() and last.isdigit()):
        raise InventoryError(
            f"invalid range in {name!r}: use [START:END] with numbers (01:20) or letters (a:f)"
        )
    width = 0
    if first.startswith("0") and len(first) > 1:
        width = len(first)
        if len(last) != width:
            raise InventoryError(
                f"invalid range in {name!r}: a zero-padded range has bounds of equal width"
            )
    low, high = int(first), int(last)
    if low > high:
        raise InventoryError(f"range in {name!r} runs backwards ({first} > {last})")
    if (high - low) // step >= MAX_EXPANSION:
        raise InventoryError(f"{name!r} expands to more than {MAX_EXPANSION} names")
    return [str(n).zfill(width) for n in range(low, high + 1, step)]


def _step(name: str, text: str) -> int:
    if text == "":
        return 1
    if not text.isdigit() or int(text) == 0:
        raise InventoryError(f"invalid range step {text!r} in {name!r}: a positive integer")
    return int(text)

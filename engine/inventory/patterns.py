"""Host patterns: which hosts a step (or ``runbook hosts``) is about.

A pattern is a comma-separated list of terms (or a YAML list of them)::

    all  *                 every host in the inventory
    web                    a group (its child groups included) or a host
    web01,db1              several
    web[01:20]             a range of names
    web*  ~web\\d+          a glob, a regular expression (both over hosts and groups)
    !db   &prod            exclude, intersect (a pattern of only these starts from all)
    127.0.1.5  deploy@db1:2222   a host not in the inventory, written literally

Terms are applied as in Ansible: the union of the plain terms, in order, then the
intersections, then the exclusions. A term that matches nothing is an error, exclusions too:
a misspelt ``!prod-db`` must not silently leave the production database in a rollout.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Sequence

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.literal import parse_literal
from runbook_engine.inventory.model import ALL, Host, Inventory
from runbook_engine.inventory.ranges import expand, has_range

__all__ = ["select", "split_pattern"]


def split_pattern(pattern: str | Sequence[str]) -> list[str]:
    """The terms of a pattern: commas separate, blanks around them do not matter."""
    items = [pattern] if isinstance(pattern, str) else list(pattern)
    terms = [term.strip() for item in items for term in str(item).split(",")]
    return [term for term in terms if term]


def select(inventory: Inventory, pattern: str | Sequence[str]) -> list[Host]:
    """The hosts ``pattern`` matches, in inventory order (literal hosts in pattern order).

    Raises ``InventoryError`` for an empty pattern, a term that matches nothing, or a
    pattern whose result is empty.
    """
    terms = split_pattern(pattern)
    if not terms:
        raise InventoryError("the host pattern is empty")
    plain = [t for t in terms if t[0] not in "!&"]
    narrowing = [t for t in terms if t[0] in "!&"]
    if not plain:
        plain = [ALL]
    chosen: dict[str, Host] = {}
    for term in plain:
        for host in _match(inventory, term):
            chosen.setdefault(host.name, host)
    for term in narrowing:
        names = {host.name for host in _match(inventory, term[1:].strip())}
        if term[0] == "&":
            chosen = {n: h for n, h in chosen.items() if n in names}
        else:
            chosen = {n: h for n, h in chosen.items() if n not in names}
    if not chosen:
        raise InventoryError(f"host pattern {_show(terms)} matches no hosts")
    return list(chosen.values())


def _match(inventory: Inventory, term: str) -> list[Host]:
    if not term:
        raise InventoryError("an empty term after '!' or '&' in the host pattern")
    names = _inventory_names(inventory, term)
    if names is not None:  # [] is an existing group that happens to be empty
        return [inventory.host(name) for name in names]
    literals = _literals(inventory, term)
    if literals:
        return literals
    raise InventoryError(_no_match(inventory, term))


def _inventory_names(inventory: Inventory, term: str) -> list[str] | None:
    """Hosts of the inventory the term names; None when the term names nothing in it."""
    if term in (ALL, "*"):
        return inventory.host_names
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise InventoryError(
                f"invalid regular expression in host pattern {term!r}: {exc}"
            ) from None
        return _by_name(inventory, lambda name: regex.match(name) is not None) or None
    if has_range(term):
        wanted = expand(term)
        found = [n for w in wanted for n in _exact(inventory, w)]
        # A range is either all inventory names or all literal hosts; a mix is a typo.
        return list(dict.fromkeys(found)) or None
    if any(c in term for c in "*?["):
        return _by_name(inventory, lambda name: fnmatch.fnmatchcase(name, term)) or None
    if inventory.has_group(term) or inventory.has_host(term):
        return _exact(inventory, term)
    return None


def _exact(inventory: Inventory, name: str) -> list[str]:
    hosts: list[str] = []
    if inventory.has_group(name):
        hosts.extend(inventory.group_hosts(name))
    if inventory.has_host(name) and name not in hosts:
        hosts.append(name)
    return hosts


def _by_name(inventory: Inventory, matches: Callable[[str], bool]) -> list[str]:
    hosts = [h for h in inventory.host_names if matches(h)]
    for group in inventory.group_names:
        if matches(group):
            hosts.extend(inventory.group_hosts(group))
    order = {name: i for i, name in enumerate(inventory.host_names)}
    return sorted(set(hosts), key=order.__getitem__)


def _literals(inventory: Inventory, term: str) -> list[Host]:
    out: list[Host] = []
    for name in expand(term):
        variables = parse_literal(name)
        if variables is None:
            return []
        out.append(inventory.literal(name, variables))
    return out


def _no_match(inventory: Inventory, term: str) -> str:
    message = f"host pattern term {term!r} matches no host or group in {inventory.source}"
    close = difflib.get_close_matches(term, [*inventory.group_names, *inventory.host_names], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if not inventory.host_names:
        hint += (
            " (the inventory is empty: give --inventory or RUNBOOK_INVENTORY, or name hosts"
            " by address, e.g. 10.0.0.5 or deploy@web01:22)"
        )
    return message + hint


def _show(terms: list[str]) -> str:
    return repr(",".join(terms))

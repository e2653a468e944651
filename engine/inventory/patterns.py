"""Host patterns: which hosts a step (or ``runbook hosts``) is about, with Ansible's grammar.

A pattern is a list of terms, separated by commas (or, without commas, by colons, as
``webservers:!atlanta``), or given as a YAML list::

    all  *                 every host
    web                    a group (with its child groups) or a host
    web,db  web:db         several
    web:!atlanta           exclude
    web:&staging           intersect
    web*  *.example.com    globs, over group names and host names
    ~(web|db).*            a regular expression (matched from the start of the name)
    web[0]  web[-1]        a subscript of what a term matches: the first, the last host
    web[1:3]  web[2:]      a slice, both ends inclusive

Terms are applied as Ansible applies them: the plain terms in order (union), then every
``&`` term, then every ``!`` term; a pattern of only ``&`` and ``!`` terms starts from ``all``.
The hosts come out in Ansible's order (``ansible PATTERN --list-hosts``).

Deliberately stricter than Ansible, which warns and goes on: a term that matches nothing is an
error naming it, with a suggestion, exclusions too (a misspelt ``!prod-db`` must not leave the
production database in a rollout), and so is a pattern that selects no host at all.

Two additions, for terms Ansible would match nothing with: a term naming hosts by a range
(``web0[1:4]``, when no group ``web0`` exists) selects those inventory hosts, and a plain term
that is an address or a name with a dot (``10.0.0.5``, ``db.example.com``, with ``user@``
and ``:port`` allowed: ``deploy@db.example.com:2222``) is a host outside the inventory, with
a warning.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import re
from collections.abc import Callable, Iterable, Sequence

from runbook_engine.inventory.addresses import parse_address
from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.literal import literal_host
from runbook_engine.inventory.model import Host, Inventory
from runbook_engine.inventory.ranges import expand, has_range
from runbook_engine.inventory.subscripts import apply_subscript, split_subscript

__all__ = ["order_terms", "select", "split_pattern"]

log = logging.getLogger(__name__)

Warn = Callable[[str], None]

# Anything but blanks, colons and brackets, or a whole bracketed expression: Ansible's rule
# for cutting a comma-less pattern at its colons while keeping "web[1:3]" whole.
_COLON_TERM = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB = frozenset("*?[")


def split_pattern(pattern: str | Sequence[str]) -> list[str]:
    """The terms of a pattern, as Ansible splits it.

    With a comma, commas separate. Without, a pattern that is one host with a port or a range
    (``10.0.0.1:22``, ``2001:db8::1``, ``web[1:3]``) stays whole, and anything else is cut at
    its colons (``web:!db``). ``user@host:port`` stays whole too (Ansible has no users in
    patterns; it would cut it in two).
    """
    if not isinstance(pattern, str):
        return [term for item in pattern for term in split_pattern(str(item))]
    if "," in pattern:
        terms = pattern.split(",")
    elif _one_host(pattern.strip()):
        terms = [pattern]
    else:
        terms = _COLON_TERM.findall(pattern)
    return [term.strip() for term in terms if term.strip()]


def _one_host(text: str) -> bool:
    if parse_address(text, allow_ranges=True) is not None:
        return True
    user, at, rest = text.rpartition("@")
    return bool(at and user and ":" not in user and parse_address(rest) is not None)


def order_terms(terms: Iterable[str]) -> list[str]:
    """Plain terms first, then ``&`` ones, then ``!`` ones; ``all`` when there are no plain."""
    plain: list[str] = []
    both: list[str] = []
    not_: list[str] = []
    for term in terms:
        if term.startswith("!"):
            not_.append(term)
        elif term.startswith("&"):
            both.append(term)
        else:
            plain.append(term)
    return [*(plain or ["all"]), *both, *not_]


def select(
    inventory: Inventory, pattern: str | Sequence[str], *, warn: Warn | None = None
) -> list[Host]:
    """The hosts ``pattern`` matches, in Ansible's order (literal hosts where they are named).

    Raises ``InventoryError`` for an empty pattern, a term that matches nothing, or a pattern
    whose result is empty. ``warn`` receives warnings (default: the ``logging`` module).
    """
    say = warn if warn is not None else log.warning
    terms = split_pattern(pattern)
    if not terms:
        raise InventoryError("the host pattern is empty")
    matcher = _Matcher(inventory, say)
    chosen: list[str] = []
    for term in order_terms(terms):
        if inventory.has_host(term):  # a plain host name: no matching needed
            chosen.append(term)
            continue
        op = term[0] if term[0] in "!&" else ""
        names = matcher.match(term[1:] if op else term, plain=not op)
        if op == "!":
            excluded = set(names)
            chosen = [h for h in chosen if h not in excluded]
        elif op == "&":
            kept = set(names)
            chosen = [h for h in chosen if h in kept]
        else:
            chosen.extend(names)
    result = list(dict.fromkeys(chosen))
    if not result:
        raise InventoryError(f"host pattern {','.join(terms)!r} matches no hosts")
    return [matcher.literals.get(name) or inventory.host(name) for name in result]


class _Matcher:
    def __init__(self, inventory: Inventory, warn: Warn) -> None:
        self.inventory = inventory
        self.warn = warn
        self.literals: dict[str, Host] = {}

    def match(self, term: str, *, plain: bool) -> list[str]:
        """The host names one term (without its ``!`` or ``&``) matches, in order."""
        if not term:
            raise InventoryError("an empty term after '!' or '&' in the host pattern")
        expr, subscript = split_subscript(term)
        found = self._enumerate(expr)
        if found:
            if subscript is not None and subscript.dashed:
                self.warn(f"host pattern {term!r}: write [x:y], not [x-y], for a slice")
            try:
                selected = apply_subscript(found, subscript)
            except IndexError:
                raise InventoryError(
                    f"host pattern term {term!r}: {expr!r} matches {len(found)} host(s), so"
                    f" there is no host {subscript}"
                ) from None
            if not selected:
                raise InventoryError(
                    f"host pattern term {term!r}: the slice {subscript} selects none of the"
                    f" {len(found)} host(s) {expr!r} matches"
                )
            return selected
        if term in self.literals:  # "!10.0.0.5" after a literal 10.0.0.5
            return [term]
        ranged = self._range(term)
        if ranged is not None:
            return ranged
        if plain:
            literal = self._literal(term)
            if literal is not None:
                return literal
        raise InventoryError(self._no_match(expr))

    def _enumerate(self, expr: str) -> list[str]:
        """Ansible's matching: groups whose name matches give their hosts; host names are
        matched too when no group matched or the term is a regex, a glob or has a dot."""
        inventory = self.inventory
        matches = _matcher(expr)
        if matches is None:  # a plain word: dictionary look-ups, not a scan
            groups = [expr] if inventory.has_group(expr) else []
            found = [h for g in groups for h in inventory.group_hosts(g)]
            if (not groups or "." in expr) and inventory.has_host(expr):
                found.append(expr)
            return found
        groups = [g for g in inventory.group_names if matches(g)]
        found = [h for g in groups for h in inventory.group_hosts(g)]
        found.extend(h for h in inventory.host_names if matches(h))
        return found

    def _range(self, term: str) -> list[str] | None:
        """``web0[1:4]`` as the inventory hosts web01..web04, when all of them exist."""
        if term.startswith("~") or not has_range(term):
            return None
        try:
            names = expand(term)
        except InventoryError:
            return None
        if names and all(self.inventory.has_host(n) for n in names):
            return names
        return None

    def _literal(self, term: str) -> list[str] | None:
        if term.startswith("~") or "*" in term or "?" in term:
            return None
        if literal_host(term) is not None:  # "[2001:db8::1]:22" is no range
            names = [term]
        else:
            try:
                names = expand(term)
            except InventoryError:
                return None
        hosts: list[Host] = []
        for name in names:
            variables = literal_host(name)
            if variables is None:
                return None
            hosts.append(self.inventory.literal(name, variables))
        for host in hosts:
            self.literals[host.name] = host
        shown = term if len(names) == 1 else f"{term} ({len(names)} hosts)"
        self.warn(f"{shown} is not in the inventory: connecting to it as written")
        return names

    def _no_match(self, expr: str) -> str:
        inventory = self.inventory
        message = f"host pattern term {expr!r} matches no host or group in {inventory.source}"
        known = [*inventory.group_names, *inventory.host_names]
        # "root@web1" is most likely web01 with a user: compare the host part only
        close = difflib.get_close_matches(expr.lstrip("~").rpartition("@")[2], known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if not inventory.host_names:
            hint += (
                " (the inventory is empty: give --inventory or RUNBOOK_INVENTORY, or name hosts"
                " by address, e.g. 10.0.0.5 or deploy@web01.example.com:22)"
            )
        return message + hint


def _matcher(expr: str) -> Callable[[str], bool] | None:
    """How a regex (``~...``) or a glob term matches a name; None for a plain word."""
    if expr.startswith("~"):
        try:
            regex = re.compile(expr[1:])
        except re.error as exc:
            raise InventoryError(
                f"invalid regular expression in host pattern {expr!r}: {exc}"
            ) from None
    elif _GLOB.intersection(expr):
        regex = re.compile(fnmatch.translate(expr))
    else:
        return None
    return lambda name: regex.match(name) is not None

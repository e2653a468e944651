"""Generated inventories (INI or YAML, with group_vars and host_vars) and generated patterns:
the engine and Ansible must agree on every one. Deterministic: the same examples every run."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inventory.differential import assert_same_hosts, assert_same_vars, load_both

GROUPS = [f"g{i}" for i in range(5)]
HOSTS = ["h0", "h1", "h2.example.com", "h3.example.com", "h4", "db5", "db6.example.com"]
VALUES = st.one_of(st.integers(-5, 500), st.sampled_from(["a", "b c", "True", "yes", "x-1"]))
KEYS = st.sampled_from(["color", "size", "ansible_user", "ansible_port", "role"])


@dataclass
class Spec:
    members: dict[str, list[str]]  # group -> hosts
    children: dict[str, list[str]]  # group -> child groups (only later groups: no cycles)
    group_vars: dict[str, dict[str, Any]]
    host_vars: dict[str, dict[str, Any]]
    priority: dict[str, int]
    ports: dict[str, int]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # group_vars/NAME.yml
    yaml_form: bool = False


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    members = {g: draw(st.lists(st.sampled_from(HOSTS), unique=True, max_size=4)) for g in GROUPS}
    children = {
        g: draw(st.lists(st.sampled_from(GROUPS[i + 1 :]), unique=True, max_size=2))
        if i + 1 < len(GROUPS)
        else []
        for i, g in enumerate(GROUPS)
    }
    gvars = {g: draw(st.dictionaries(KEYS, VALUES, max_size=2)) for g in GROUPS}
    hvars = {h: draw(st.dictionaries(KEYS, VALUES, max_size=2)) for h in HOSTS}
    for variables in (*gvars.values(), *hvars.values()):
        if "ansible_port" in variables:
            variables["ansible_port"] = abs(int(hash(str(variables["ansible_port"])) % 9000)) + 1
    priority = draw(st.dictionaries(st.sampled_from(GROUPS), st.integers(0, 3), max_size=2))
    ports = draw(st.dictionaries(st.sampled_from(HOSTS), st.integers(1, 9999), max_size=2))
    files = draw(
        st.dictionaries(
            st.sampled_from([*GROUPS, "all"]), st.dictionaries(KEYS, VALUES, max_size=2), max_size=3
        )
    )
    return Spec(members, children, gvars, hvars, priority, ports, files, draw(st.booleans()))


def _ini_value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def write_ini(spec: Spec, path: Path) -> None:
    lines: list[str] = []
    defined: set[str] = set()
    for group in GROUPS:
        lines.append(f"[{group}]")
        defined.add(group)
        for host in spec.members[group]:
            port = f":{spec.ports[host]}" if host in spec.ports else ""
            assigns = " ".join(f"{k}={_ini_value(v)}" for k, v in spec.host_vars[host].items())
            lines.append(f"{host}{port} {assigns}".rstrip())
        if spec.group_vars[group] or group in spec.priority:
            lines.append(f"[{group}:vars]")
            lines.extend(f"{k}={_ini_value(v)}" for k, v in spec.group_vars[group].items())
            if group in spec.priority:
                lines.append(f"ansible_group_priority={spec.priority[group]}")
    for group in GROUPS:
        if spec.children[group]:
            lines.append(f"[{group}:children]")
            lines.extend(spec.children[group])
    lines.append("[ungrouped]")
    lines.extend(h for h in HOSTS if not any(h in m for m in spec.members.values()))
    path.write_text("\n".join(lines) + "\n")


def write_yaml(spec: Spec, path: Path) -> None:
    def body(group: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        hosts = {}
        for host in spec.members[group]:
            key = f"{host}:{spec.ports[host]}" if host in spec.ports else host
            hosts[key] = dict(spec.host_vars[host]) or None
        if hosts:
            out["hosts"] = hosts
        variables = dict(spec.group_vars[group])
        if group in spec.priority:
            variables["ansible_group_priority"] = spec.priority[group]
        if variables:
            out["vars"] = variables
        if spec.children[group]:
            out["children"] = dict.fromkeys(spec.children[group])
        return out

    loose = {h: None for h in HOSTS if not any(h in m for m in spec.members.values())}
    data: dict[str, Any] = {"all": {"hosts": loose or None}}
    data.update({g: body(g) for g in GROUPS})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def patterns(spec: Spec) -> st.SearchStrategy[str]:
    names = [*GROUPS, *HOSTS, "all", "ungrouped"]
    atoms = st.one_of(
        st.sampled_from(names),
        st.sampled_from(["g*", "h*", "*.example.com", "db?", "~h[0-2]", "~(g1|db).*", "~.*"]),
        st.builds(lambda g, i: f"{g}[{i}]", st.sampled_from(GROUPS), st.integers(-2, 3)),
        st.builds(lambda g, i: f"{g}[{i}:]", st.sampled_from(GROUPS), st.integers(0, 2)),
        st.builds(
            lambda g, i, j: f"{g}[{i}:{j}]",
            st.sampled_from(GROUPS),
            st.integers(0, 2),
            st.integers(0, 3),
        ),
    )
    term = st.builds(lambda op, a: op + a, st.sampled_from(["", "", "!", "&"]), atoms)
    return st.builds(
        lambda sep, ts: sep.join(ts),
        st.sampled_from([",", ":"]),
        st.lists(term, min_size=1, max_size=4),
    )


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_inventories_read_as_ansible_reads_them(data: st.DataObject) -> None:
    spec = data.draw(specs())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / ("inventory.yml" if spec.yaml_form else "inventory.ini")
        (write_yaml if spec.yaml_form else write_ini)(spec, source)
        if spec.files:
            (root / "group_vars").mkdir()
            for name, variables in spec.files.items():
                (root / "group_vars" / f"{name}.yml").write_text(yaml.safe_dump(variables))
        ours, ansible = load_both(source)
        assert_same_vars(ours, ansible)
        for pattern in data.draw(st.lists(patterns(spec), min_size=3, max_size=6)):
            assert_same_hosts(source, ours, ansible, pattern)

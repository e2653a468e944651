"""The digest of a runbook version: a sha256 of the canonical form of its data, so key order,
comments, quoting and YAML style do not change it, and any change of content does."""

from __future__ import annotations

import hashlib
import json

import pytest

from runbook_engine.spec import canonical_json, digest_of, load_text

from ._samples import FULL, MINIMAL

SAME_AS_MINIMAL = [
    # keys in another order, comments, other quoting, flow style, other indentation
    """\
# say hello
steps:
    -   action: "log"   # the built-in
        id: 'say'
        with:
            message: "hello"
version: 1
name: "hello"
apiVersion: 'runbook/v1'
""",
    '{"apiVersion": "runbook/v1", "name": "hello", "version": 1,'
    ' "steps": [{"id": "say", "action": "log", "with": {"message": "hello"}}]}\n',
    """\
apiVersion: runbook/v1
name: hello
version: 0x1
steps:
  - {with: {message: hello}, action: log, id: say}
""",
]


def test_digest_format() -> None:
    loaded = load_text(MINIMAL)
    assert loaded.digest == digest_of(loaded.document)
    expected = hashlib.sha256(canonical_json(loaded.document).encode()).hexdigest()
    assert loaded.digest == f"sha256:{expected}"


def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == (
        '{"a":[1,{"c":null,"d":"é"}],"b":1}'
    )


@pytest.mark.parametrize("text", SAME_AS_MINIMAL)
def test_same_content_in_another_form_has_the_same_digest(text: str) -> None:
    assert load_text(text).digest == load_text(MINIMAL).digest


def test_trailing_whitespace_and_blank_lines_do_not_count() -> None:
    text = "\n\n" + MINIMAL.replace("\n", "   \n") + "\n\n# end\n"
    assert load_text(text).digest == load_text(MINIMAL).digest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("version: 1", "version: 2"),
        ("message: hello", "message: hello!"),
        ("message: hello", "message: 'hello '"),
        ("action: log", "action: log\n    timeout: 5s"),
        ("    with: {message: hello}\n", "    with: {message: hello}\n    retry: {attempts: 1}\n"),
    ],
)
def test_changed_content_changes_the_digest(old: str, new: str) -> None:
    changed = MINIMAL.replace(old, new)
    assert changed != MINIMAL
    assert load_text(changed).digest != load_text(MINIMAL).digest


def test_writing_a_default_explicitly_is_a_change() -> None:
    # the digest is of the document as written: the stored source must match it exactly
    explicit = MINIMAL.replace("action: log", "action: log\n    on_failure: rollback")
    assert load_text(explicit).digest != load_text(MINIMAL).digest


def test_step_order_matters() -> None:
    two = MINIMAL + "  - id: bye\n    action: log\n"
    swapped = MINIMAL.replace("steps:\n", "steps:\n  - id: bye\n    action: log\n")
    assert load_text(two).digest != load_text(swapped).digest


def test_full_document_digest_is_stable() -> None:
    first, second = load_text(FULL), load_text(FULL)
    assert first.digest == second.digest
    assert json.loads(canonical_json(first.document)) == first.document


def test_digest_of_a_lone_surrogate_escape() -> None:
    # YAML allows "\ud800"; utf-8 does not: the digest must still be computed
    loaded = load_text(MINIMAL.replace("message: hello", 'message: "\\ud800"'))
    assert loaded.digest.startswith("sha256:")

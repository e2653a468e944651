"""One server for a module of hook tests (starting one per test would cost more than the
tests); each test looks at the runs of its own runbook or alerts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hooks.serving import Serving, start_serving, write_env


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    root = tmp_path_factory.mktemp("hooks")
    with pytest.MonkeyPatch.context() as mp:
        write_env(root, mp)
        served = start_serving(root)
        try:
            yield served
        finally:
            served.server.stop()

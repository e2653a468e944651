"""AWS tests run against moto in server mode on loopback, reached the way any boto3 program
reaches an endpoint: ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>`` for the fault proxy).
The code under test has no test-only path: it builds ordinary boto3 clients.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry
from runbook_engine.plugin.contract import ActionContext
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.aws.aws_helpers import Fault, FaultProxy, aws_registry


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for the session; tests keep apart by unique names (and regions)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    with pytest.MonkeyPatch.context() as mp:
        # moto reads this when it creates an EC2 backend; the default AMI catalogue costs seconds
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """boto3 pointed at moto with dummy credentials; nothing from the developer's ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    return moto_url


@pytest.fixture
def registry() -> Registry:
    return aws_registry()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open("sqlite:///" + str(tmp_path / "runs.db"))
    yield opened
    opened.close()


@pytest.fixture
def engine(store: Store, registry: Registry) -> Engine:
    return Engine(store=store, registry=registry, directory=Directory())


@pytest.fixture
def ctx() -> Iterator[ActionContext]:
    """An action context like the runtime's; its resources are closed as at run end."""
    context = ActionContext(run_id="run-aws-1", step_id="step-1", log=lambda line: None)
    yield context
    for resource in context.resources.values():
        resource.close()


@pytest.fixture
def cli_with_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI with the AWS actions registered, as the patch to builtin_actions would do."""
    from runbook_engine import plugin
    from runbook_engine.cli import _common, run_cmds

    original = _common.make_engine

    def make_engine(store: Any, **kwargs: Any) -> Any:
        made = original(store, **kwargs)
        made.registry = aws_registry()
        return made

    monkeypatch.setattr(run_cmds, "make_engine", make_engine)
    monkeypatch.setattr(plugin, "default_registry", aws_registry)


@pytest.fixture
def fault_proxy(aws: str) -> Iterator[Callable[..., FaultProxy]]:
    made: list[FaultProxy] = []

    def make(*faults: Fault) -> FaultProxy:
        proxy = FaultProxy(aws, list(faults))
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()

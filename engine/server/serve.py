"""``runbook serve``: the Slack app and the executor in one process, on one store.

Start-up: open the store, check the bot token (``auth.test``), start the notifier, the HTTP
listener (and Socket Mode when ``SLACK_APP_TOKEN`` is set), the sweeper, whose first pass
resumes the runs a previous server left in flight, and the store watcher, which acts on what
other processes write (``watcher``). Stop (SIGTERM/SIGINT): stop accepting
requests, let runs reach a recorded point (no new step starts; steps in flight finish, up to
``grace`` seconds), flush Slack updates, close the store.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import Any

from slack_bolt import App
from slack_bolt.error import BoltError

from runbook_engine.api import API_PREFIX, ApiContext, build_api
from runbook_engine.auth.audit import AuditTrail, slack_via
from runbook_engine.auth.authenticate import Authenticator
from runbook_engine.auth.oidc import OidcSettings, OidcVerifier
from runbook_engine.auth.slack_identity import SlackIdentities
from runbook_engine.errors import RunbookError
from runbook_engine.hooks import Hooks
from runbook_engine.metrics import Metrics
from runbook_engine.runtime.bus import Subscriber
from runbook_engine.schedule import SCHEDULE_REQUESTER
from runbook_engine.server.draining import DrainableStore
from runbook_engine.server.executor import RunExecutor
from runbook_engine.server.http import EVENTS_PATH, HttpServer, SlackEndpoint, build_asgi
from runbook_engine.server.scheduling import ScheduleLoop
from runbook_engine.server.socket_mode import GuardedSocketModeHandler
from runbook_engine.server.sweeper import Sweeper
from runbook_engine.server.vault import SecretVault
from runbook_engine.server.watcher import StoreWatcher
from runbook_engine.service import Engine
from runbook_engine.slack.app import build_app
from runbook_engine.slack.client import make_client
from runbook_engine.slack.groups import UserGroups
from runbook_engine.slack.interactions import Interactions
from runbook_engine.slack.notifier import SlackNotifier
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.web.app import build_web

log = logging.getLogger("runbook.server")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    grace: float = 30.0  # seconds runs get to reach a recorded point on shutdown
    sweep_interval: float = 5.0
    update_interval: float = 1.0  # at most one update of a run message per this many seconds
    db: str | None = None  # store URL or SQLite path; None: RUNBOOK_DB or the default
    request_timeout: float = 30.0  # seconds a request may take until its response starts


class Server:
    def __init__(self, settings: SlackSettings | None, options: ServeOptions | None = None) -> None:
        """``settings`` None: no Slack, only the executor, schedules, /healthz and /metrics."""
        self.settings = settings
        self.options = options or ServeOptions()
        self.store = DrainableStore.open_drainable(self.options.db)
        self.vault = SecretVault()
        # Prometheus: runs, step durations, errors by action family; approvals waiting on scrape
        self.metrics = Metrics()
        self.metrics.watch_store(self.store)
        self.jobs = ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack-job")
        self.notifier: SlackNotifier | None = None
        self.app: App | None = None
        self.interactions: Interactions | None = None
        self.socket_mode: GuardedSocketModeHandler | None = None
        subscribers: list[Subscriber] = [self.metrics]
        if settings is not None:
            self.client = make_client(settings)
            self.notifier = SlackNotifier(
                self.client,
                self.store,
                secrets=self.vault.texts,
                min_interval=self.options.update_interval,
            )
            subscribers.insert(0, self.notifier)
        # Slack and the API hand the engine principals, which carry their own proof; a bare
        # name here is the server's own (schedules), or a Slack user id from an older caller
        trail = AuditTrail(self.store, via=slack_via, source="slack")
        self.engine = Engine(
            store=self.store, subscribers=subscribers, audit=trail, keep_secrets=self.vault.keep
        )
        self.executor = RunExecutor(self.engine, self.vault)
        try:
            if settings is not None and self.notifier is not None:
                # Slack user ids become the people they are (RUNBOOK_SLACK_USERS, else their
                # profile email): a bad mapping file stops the server here, not at a click
                identities = SlackIdentities.from_env(self.client.users_info)
                self.interactions = Interactions(
                    self.engine,
                    self.executor,
                    self.client,
                    UserGroups(self.client),
                    self.notifier,
                    identities=identities,
                )
                # App() calls auth.test: a wrong token stops the server here, not at a command
                self.app = build_app(settings, self.client, self.interactions, self.jobs)
            oidc = OidcSettings.from_env()
            self.authenticator = Authenticator(
                self.store, oidc=OidcVerifier(oidc) if oidc is not None else None
            )
            self.context = ApiContext(self.engine, self.executor, self.authenticator)
            self.api = build_api(self.context)
            # the console drives the same engine through the same context as the API
            self.web = build_web(self.context)
            self.hooks = Hooks(self.executor, self.authenticator)
            slack = SlackEndpoint(self.app, settings.signing_secret if settings else "")
            self.http = HttpServer(
                self.options.host,
                self.options.port,
                build_asgi(
                    self.api,
                    slack,
                    self.health,
                    self.metrics,
                    request_timeout=self.options.request_timeout,
                    hooks=self.hooks.app,
                    web=self.web,
                ),
            )
        except BoltError as exc:
            self._abort()
            raise RunbookError(f"Slack refused SLACK_BOT_TOKEN: {exc}") from None
        except RunbookError:
            self._abort()  # a setting is wrong (OIDC): said by the error
            raise
        except OSError as exc:
            self._abort()
            where = f"{self.options.host}:{self.options.port}"
            raise RunbookError(f"cannot listen on {where}: {exc}") from None
        if settings is not None and settings.app_token and self.app is not None:
            # the same payload checks and de-duplication as the HTTP path
            self.socket_mode = GuardedSocketModeHandler(self.app, settings.app_token)
        self.sweeper = Sweeper(
            self.engine, self.executor, self.notifier, interval=self.options.sweep_interval
        )
        # other processes' writes wake the sweeper's catch-up at once (decisions from the CLI,
        # runs it drives); the periodic sweep stays as the safety net
        self.watcher = StoreWatcher(self.store, self.sweeper.catch_up)
        # runbooks' `schedule:` entries fire here; each tick once, even beside workers
        self.schedules = ScheduleLoop(
            self.engine, lambda tick: self.executor.resume(tick.run_id, by=SCHEDULE_REQUESTER)
        )
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def _abort(self) -> None:
        """Undo a half-finished start-up."""
        if self.notifier is not None:
            self.notifier.close(timeout=0)
        self.jobs.shutdown(wait=False)
        self.store.close()

    @property
    def url(self) -> str:
        host, port = self.http.address
        return f"http://{host}:{port}"

    def health(self) -> tuple[bool, dict[str, Any]]:
        draining = self.store.draining
        return not draining, {
            "ok": not draining,
            "draining": draining,
            "runs_in_flight": len(self.executor.driving()),
            "socket_mode": self.socket_mode is not None,
        }

    def start(self) -> None:
        self.hooks.start()
        self.http.start()
        if self.socket_mode is not None:
            self.socket_mode.connect()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        self.sweeper.start()
        self.watcher.start()
        self.schedules.start()
        log.info("serving the API at %s%s and Slack at %s", self.url, API_PREFIX, EVENTS_PATH)

    def stop(self) -> bool:
        """Stop gracefully; True if every run reached a recorded point in time."""
        with self._stop_lock:
            if self._stopped.is_set():
                return True
            log.info("stopping: no new requests; runs finish their current steps")
            if self.socket_mode is not None:
                self.socket_mode.close()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
            self.http.stop()
            self.hooks.stop()
            self.schedules.stop()
            self.watcher.stop()
            self.sweeper.stop()
            self.jobs.shutdown(wait=True)
            self.store.drain()
            settled = self.executor.close(self.options.grace)
            if not settled:
                log.warning(
                    "runs still busy after %gs: %s; they resume when the server starts again",
                    self.options.grace,
                    ", ".join(sorted(self.executor.driving())),
                )
            if self.notifier is not None:
                self.notifier.close(timeout=10.0)
            if settled:
                self.store.close()  # else running threads still use it; the exit closes it
            self._stopped.set()
            return settled

    def serve_forever(self) -> bool:
        """Run until SIGTERM or SIGINT, then stop gracefully."""
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            stop.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.stop()

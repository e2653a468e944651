"""Indexes for the runs list: newest first, alone or filtered by runbook, status or requester.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The list (``Store.list_runs``: the API's ``GET /runs`` and the console's runs page) orders by
``created_at DESC, id DESC`` and pages with a cursor on the same two columns. With one index
per column the database either walks ``created_at`` and filters every row it meets (a rare
runbook or requester reads most of the table for one page) or takes the filter's rows and sorts
them all. A composite index per filter, ending with ``(created_at, id)``, gives each page in
index order, stopping after the page's rows. The single-column indexes on ``status``,
``runbook`` and ``created_at`` are prefixes of these and are dropped (each index costs every
write to ``runs``, which are many: every event bumps ``last_seq``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name -> columns; spelled out here, not read from _tables.py, so this revision keeps its meaning
_NEW = {
    "ix_runs_created_at_id": ["created_at", "id"],
    "ix_runs_runbook_created_at": ["runbook", "created_at", "id"],
    "ix_runs_status_created_at": ["status", "created_at", "id"],
    "ix_runs_requester_created_at": ["requester", "created_at", "id"],
}
_OLD = {
    "ix_runs_status": ["status"],
    "ix_runs_runbook": ["runbook"],
    "ix_runs_created_at": ["created_at"],
}


def upgrade() -> None:
    for name, columns in _NEW.items():
        op.create_index(name, "runs", columns)
    for name in _OLD:
        op.drop_index(name, table_name="runs")


def downgrade() -> None:
    for name, columns in _OLD.items():
        op.create_index(name, "runs", columns)
    for name in _NEW:
        op.drop_index(name, table_name="runs")

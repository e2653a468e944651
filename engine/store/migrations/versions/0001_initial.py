"""Initial schema: runbook versions, runs, their event log, and locks.

Revision ID: 0001
Revises:
Create Date: 2026-05-09

Tables are spelled out here rather than taken from ``_tables.py`` so this
migration keeps creating exactly this schema whatever the code becomes later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runbook_versions",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("recorded_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_runbook_versions"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("runbook", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_runbook", "runs", ["runbook"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_table(
        "events",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("step_id", sa.String(200), nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_events_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "locks",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("acquired_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_locks"),
    )
    op.create_index("ix_locks_run_id", "locks", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_locks_run_id", table_name="locks")
    op.drop_table("locks")
    op.drop_table("events")
    op.drop_index("ix_runs_created_at", table_name="runs")
    op.drop_index("ix_runs_runbook", table_name="runs")
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_table("runs")
    op.drop_table("runbook_versions")

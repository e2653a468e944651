"""Schedule ticks: one row per scheduled fire time, so each tick fires exactly once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The primary key (runbook, schedule index, fire time) is the exactly-once guarantee: every
scheduler (serve, any number of workers) inserts the tick it wants to fire and only the one whose
insert lands starts the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_ticks",
        sa.Column("runbook", sa.String(200), nullable=False),
        sa.Column("schedule_index", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("runbook", "schedule_index", "fire_at", name="pk_schedule_ticks"),
    )


def downgrade() -> None:
    op.drop_table("schedule_ticks")

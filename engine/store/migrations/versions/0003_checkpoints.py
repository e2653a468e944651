"""Checkpoints of run states in their own table; the run row keeps a small summary.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Until now every event rewrote the whole run state (every step's result and output included)
into the run row, and ``state.last_seq`` doubled as "the newest event the driving engine
wrote". The state is now a compact checkpoint written now and then (``RunState.to_checkpoint``)
into ``checkpoints``; the run row's ``state`` keeps a small summary for list views (the failure,
the deadlines of waiting approvals: ``RunState.summary``), and the driving engine's newest
event gets its own column, ``published_seq``, filled from the old state. A run without a
checkpoint is loaded by folding its log from the first event, which gives the state the old
row held: finished runs show as before and interrupted ones resume.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_runs = sa.table(
    "runs",
    sa.column("id", sa.String),
    sa.column("state", sa.JSON),
    sa.column("published_seq", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_checkpoints_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_checkpoints"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("published_seq", sa.Integer, nullable=False, server_default="0"))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_runs.c.id, _runs.c.state)).all()
    for run_id, stored in rows:
        # a driver may hand the JSON column back as text
        state = json.loads(stored) if isinstance(stored, str) else stored
        state = state if isinstance(state, dict) else {}
        seq = state.get("last_seq")
        summary = {
            "failure": state.get("failure"),
            "waiting": {
                sid: step.get("deadline")
                for sid, step in (state.get("steps") or {}).items()
                if isinstance(step, dict) and step.get("status") == "waiting"
            },
        }
        conn.execute(
            sa.update(_runs)
            .where(_runs.c.id == run_id)
            .values(published_seq=seq if isinstance(seq, int) else 0, state=summary)
        )


def downgrade() -> None:
    # The previous release folded the log itself and read only state.last_seq and the waiting
    # steps' deadlines from the row; an empty state is what it wrote for a newly created run.
    op.get_bind().execute(sa.update(_runs).values(state={}))
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("published_seq")
    op.drop_table("checkpoints")

"""Media artifacts: an artifact kind, and per-second fingerprints of videos and audio.

``artifacts.kind`` (image | video | audio; existing rows are images), ``artifacts.fingerprint``
nullable (audio has no PDQ hash; images and videos still must have one, a CHECK says so), and
the table ``media_fingerprints``: one row per second of a video (the PDQ hash of the frame
nearest that second) or of an audio clip (that second's 32-bit sub-fingerprints).

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot ALTER a column's nullability or add a CHECK in place (the
    # table is copied); PostgreSQL gets plain ALTER TABLE statements.
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="image"))
        batch.alter_column("fingerprint", existing_type=sa.LargeBinary(32), nullable=True)
        batch.create_check_constraint(op.f("ck_artifacts_kind"), "kind IN ('image', 'video', 'audio')")
        batch.create_check_constraint(op.f("ck_artifacts_fingerprint_required"),
                                      "kind = 'audio' OR fingerprint IS NOT NULL")
    op.create_table(
        "media_fingerprints",
        sa.Column("generation_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("second", sa.Integer(), nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=False),
        sa.Column("hash", sa.LargeBinary(1024), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("generation_id", "index", "second", name=op.f("pk_media_fingerprints")),
        sa.ForeignKeyConstraint(["generation_id", "index"], ["artifacts.generation_id", "artifacts.index"],
                                name=op.f("fk_media_fingerprints_generation_id_artifacts"),
                                ondelete="CASCADE"),
        sa.CheckConstraint('"second" >= 0', name=op.f("ck_media_fingerprints_second_non_negative")),
        sa.CheckConstraint("length(hash) BETWEEN 1 AND 1024", name=op.f("ck_media_fingerprints_hash_length")),
    )


def downgrade() -> None:
    op.drop_table("media_fingerprints")
    op.execute("DELETE FROM artifacts WHERE kind = 'audio'")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_constraint(op.f("ck_artifacts_fingerprint_required"), type_="check")
        batch.drop_constraint(op.f("ck_artifacts_kind"), type_="check")
        batch.alter_column("fingerprint", existing_type=sa.LargeBinary(32), nullable=False)
        batch.drop_column("kind")

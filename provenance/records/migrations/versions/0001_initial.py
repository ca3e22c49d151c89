"""Initial schema: generations and their artifacts.

Revision ID: 0001
Revises:
Create Date: 2026-05-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("generation_id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("prompt_hmac", sa.String(64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parameters", _json(), nullable=True),
        sa.Column("parameters_purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prompt_safety", _json(), nullable=True),
        sa.PrimaryKeyConstraint("generation_id", name=op.f("pk_generations")),
        sa.CheckConstraint("kind IN ('image', 'video', 'audio')", name=op.f("ck_generations_kind")),
        sa.CheckConstraint("length(prompt_hmac) = 64", name=op.f("ck_generations_prompt_hmac_length")),
    )
    op.create_index(op.f("ix_generations_tenant_created_at"), "generations", ["tenant", "created_at"])
    op.create_index(op.f("ix_generations_created_at"), "generations", ["created_at"])

    op.create_table(
        "artifacts",
        sa.Column("generation_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(2048), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("watermark_key_id", sa.String(64), nullable=False),
        sa.Column("watermark_payload", sa.LargeBinary(8), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
        sa.Column("safety", _json(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("generation_id", "index", name=op.f("pk_artifacts")),
        sa.ForeignKeyConstraint(["generation_id"], ["generations.generation_id"],
                                name=op.f("fk_artifacts_generation_id_generations"), ondelete="CASCADE"),
        sa.UniqueConstraint("watermark_payload", "watermark_key_id",
                            name=op.f("uq_artifacts_watermark_payload_watermark_key_id")),
        sa.CheckConstraint("length(watermark_payload) = 8", name=op.f("ck_artifacts_payload_length")),
        sa.CheckConstraint("length(fingerprint) = 32", name=op.f("ck_artifacts_fingerprint_length")),
        sa.CheckConstraint('"index" >= 0', name=op.f("ck_artifacts_index_non_negative")),
    )


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_index(op.f("ix_generations_created_at"), table_name="generations")
    op.drop_index(op.f("ix_generations_tenant_created_at"), table_name="generations")
    op.drop_table("generations")

"""console: tags on reports, and an index for a report's read audit (who viewed it)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=32), nullable=False),
    sa.Column('agency_id', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name='fk_report_tags_report_id_reports'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'tag', 'agency_id', name='uq_report_tag')
    )
    with op.batch_alter_table('report_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_tags_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_tags_tag'), ['tag'], unique=False)

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_target'), ['target'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_target'))

    with op.batch_alter_table('report_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_tags_tag'))
        batch_op.drop_index(batch_op.f('ix_report_tags_report_id'))

    op.drop_table('report_tags')

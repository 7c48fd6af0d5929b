"""voice: a console user's own phone (encrypted) and the masked call-backs to reporters

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.LargeBinary(), nullable=True))
    op.create_table(
        'calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=True),
        sa.Column('caseworker_sid', sa.String(length=64), nullable=True),
        sa.Column('seconds', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name='fk_calls_report_id_reports'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_calls_user_id_users'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_caseworker_sid'), ['caseworker_sid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_caseworker_sid'))
        batch_op.drop_index(batch_op.f('ix_calls_report_id'))
    op.drop_table('calls')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone')

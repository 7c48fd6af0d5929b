"""several providers: the number a reporter reached, and an SMS's sender and whether it may change provider

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 00:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_number', sa.String(length=40), nullable=True))
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('pinned', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('pinned')
        batch_op.drop_column('sender')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('line_number')

"""delivery state: claims on messages; status, payload and attempts on alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:22:17.326177
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('delivery_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('error', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
        batch_op.create_unique_constraint('uq_alerts_delivery_id', ['delivery_id'])

    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_alerts_delivery_id', type_='unique')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('error')
        batch_op.drop_column('attempts')
        batch_op.drop_column('payload')
        batch_op.drop_column('delivery_id')
        batch_op.drop_column('status')


"""reports: session_ref, so a report stored the moment its type is chosen is stored once per session

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_ref', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_reports_session_ref', ['session_ref'])


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint('uq_reports_session_ref', type_='unique')
        batch_op.drop_column('session_ref')

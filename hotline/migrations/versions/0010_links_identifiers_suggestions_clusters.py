"""linked reports: identifiers a report names, suggested links, duplicates, and cluster alerts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identifiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'hash', name='uq_identifier')
    )
    op.create_table('report_identifiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('identifier_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['identifier_id'], ['identifiers.id'], name='fk_report_identifiers_identifier_id_identifiers'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name='fk_report_identifiers_report_id_reports'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'identifier_id', name='uq_report_identifier')
    )
    with op.batch_alter_table('report_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_identifiers_identifier_id'), ['identifier_id'], unique=False)

    op.create_table('report_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('other_id', sa.Integer(), nullable=False),
    sa.Column('by', sa.String(length=12), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['other_id'], ['reports.id'], name='fk_report_links_other_id_reports'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name='fk_report_links_report_id_reports'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'other_id', 'by', name='uq_report_link')
    )
    with op.batch_alter_table('report_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_links_other_id'), ['other_id'], unique=False)

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_wanted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reports_link_wanted_at'), ['link_wanted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_duplicate_of'), ['duplicate_of'], unique=False)
        batch_op.create_foreign_key('fk_reports_duplicate_of_reports', 'reports', ['duplicate_of'], ['id'])

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cluster', sa.String(length=40), server_default='', nullable=False))
        batch_op.drop_constraint('uq_alert_once', type_='unique')
        batch_op.create_unique_constraint('uq_alert_once', ['report_id', 'contact_id', 'means', 'kind', 'level', 'cluster'])
    # Reports stored before linking are linked by `python -m hotline link` (or, a few at a time, by the sweep).
    op.execute(sa.text("UPDATE reports SET link_wanted_at = created_at WHERE routing = 'routed'"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM alerts WHERE kind = 'cluster'"))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_alert_once', type_='unique')
        batch_op.create_unique_constraint('uq_alert_once', ['report_id', 'contact_id', 'means', 'kind', 'level'])
        batch_op.drop_column('cluster')

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint('fk_reports_duplicate_of_reports', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_reports_duplicate_of'))
        batch_op.drop_index(batch_op.f('ix_reports_link_wanted_at'))
        batch_op.drop_column('duplicate_of')
        batch_op.drop_column('link_wanted_at')

    with op.batch_alter_table('report_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_links_other_id'))
    op.drop_table('report_links')
    with op.batch_alter_table('report_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_identifiers_identifier_id'))
    op.drop_table('report_identifiers')
    op.drop_table('identifiers')

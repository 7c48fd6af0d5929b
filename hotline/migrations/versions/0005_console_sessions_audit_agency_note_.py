"""console: sessions held on the server, the actor's agency on audit entries, the writer's agency on notes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:50:49.581730
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

NOTE_KINDS = ('note', 'status_changed')
"""Timeline entries that may carry a note: each now says whose team wrote it."""


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_console_sessions_user_id_users'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_sessions_user_id'), ['user_id'], unique=False)

    # Entries already written keep agency_id NULL: their hashes were computed without it.
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_log_agency_id'), ['agency_id'], unique=False)

    _note_agencies()


def _note_agencies() -> None:
    """Notes written before: the writer's agency from the actor (`agency:<id>`, or a user's agency)."""
    conn = op.get_bind()
    users = dict(conn.execute(sa.text("SELECT username, agency_id FROM users")).all())
    events = sa.table('report_events', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                      sa.column('actor', sa.String), sa.column('data', sa.JSON))
    rows = conn.execute(sa.select(events.c.id, events.c.actor, events.c.data)
                        .where(events.c.kind.in_(NOTE_KINDS))).all()
    for event_id, actor, data in rows:
        data = dict(data or {})
        if 'note' not in data or 'agency' in data:
            continue
        kind, _, name = (actor or '').partition(':')
        data['agency'] = name if kind == 'agency' else users.get(name) if kind == 'user' else None
        conn.execute(events.update().where(events.c.id == event_id).values(data=data))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_agency_id'))
        batch_op.drop_column('agency_id')

    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_started_at'))

    op.drop_table('console_sessions')

"""Invitations: per-event templates, invitations with RSVP, opt-outs, the queue's pause state.

Also per-event sender settings (From / Reply-To), the RSVP deadline and guest limit on events,
and the invitation an outbox message belongs to (per-invitation delivery status).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:44:18.570616

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_opt_outs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_normalized', sa.String(length=254), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_opt_outs')),
    sa.UniqueConstraint('email_normalized', name=op.f('uq_mail_opt_outs_email_normalized'))
    )
    op.create_table('mail_queue_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_queue_state'))
    )
    op.create_table('invitation_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("language IN ('en', 'zh-Hans')", name=op.f('ck_invitation_templates_language_known')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_invitation_templates_version_positive')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_invitation_templates_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['organizers.id'], name=op.f('fk_invitation_templates_updated_by_organizers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_templates')),
    sa.UniqueConstraint('event_id', 'name', 'language', name='uq_invitation_templates_key')
    )
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('template_name', sa.String(length=40), nullable=False),
    sa.Column('token_nonce', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('rsvp', sa.String(length=16), nullable=False),
    sa.Column('guests', sa.Integer(), nullable=False),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invited_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("rsvp IN ('pending', 'accepted', 'declined')", name=op.f('ck_invitations_rsvp_known')),
    sa.CheckConstraint('guests BETWEEN 0 AND 50', name=op.f('ck_invitations_guests_range')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_invitations_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by'], ['organizers.id'], name=op.f('fk_invitations_invited_by_organizers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_invitations_registration_id_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('event_id', 'registration_id', name='uq_invitations_event_registration'),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_event_rsvp', ['event_id', 'rsvp'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_registration_id'), ['registration_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_from', sa.String(length=254), server_default='', nullable=False))
        batch_op.add_column(sa.Column('mail_reply_to', sa.String(length=254), server_default='', nullable=False))
        batch_op.add_column(sa.Column('rsvp_deadline', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('guest_limit', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('guest_limit_range', 'guest_limit BETWEEN 0 AND 50')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invitation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_invitation_id_invitations'), 'invitations', ['invitation_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_invitation_id_invitations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_invitation_id'))
        batch_op.drop_column('invitation_id')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_events_guest_limit_range'), type_='check')
        batch_op.drop_column('guest_limit')
        batch_op.drop_column('rsvp_deadline')
        batch_op.drop_column('mail_reply_to')
        batch_op.drop_column('mail_from')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_registration_id'))
        batch_op.drop_index('ix_invitations_event_rsvp')

    op.drop_table('invitations')
    op.drop_table('invitation_templates')
    op.drop_table('mail_queue_state')
    op.drop_table('mail_opt_outs')

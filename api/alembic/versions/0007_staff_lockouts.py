"""staff login lockouts per account and address

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('staff_lockouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_at', sa.DateTime(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=False),
    sa.Column('unlocked_at', sa.DateTime(), nullable=True),
    sa.Column('unlocked_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_lockouts_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_lockouts'))
    )
    with op.batch_alter_table('staff_lockouts', schema=None) as batch_op:
        batch_op.create_index('ix_staff_lockouts_staff_id_address', ['staff_id', 'address', 'locked_at'], unique=False)

    # Account-wide locks (the old rule) are lifted: locks are per account and address now.
    op.execute("UPDATE staff_users SET failed_logins = 0, locked_until = NULL")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('staff_lockouts', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_lockouts_staff_id_address')

    op.drop_table('staff_lockouts')

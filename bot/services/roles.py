"""Who holds which role. BOT_ADMINS are admins from the start; everyone else is a viewer until granted more."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import select

from bot.security.roles import Role
from bot.store import Database, off_loop
from bot.store.tables import UserRole, utcnow


@dataclass(frozen=True)
class RoleGrant:
    user_id: str
    role: Role
    granted_by: str


# Read before every SIM of a bulk job: a plain statement costs a tenth of an ORM session's get.
_ROLES = UserRole.__table__  # type: ignore[attr-defined]
_ROLE_OF = select(_ROLES.c.role).where(_ROLES.c.slack_user_id == bindparam("user_id"))


@off_loop
def role_of(db: Database, user_id: str, admins: frozenset[str]) -> Role:
    with db.engine.connect() as connection:
        stored = connection.execute(_ROLE_OF, {"user_id": user_id}).scalar()
    return role_from(stored, user_id, admins)


def role_from(stored: str | None, user_id: str, admins: frozenset[str]) -> Role:
    """The role a stored grant (None: none stored) gives: BOT_ADMINS are admins until a grant says otherwise."""
    if stored is not None:
        return Role.parse(stored)
    return Role.admin if user_id in admins else Role.viewer


@off_loop
def set_role(db: Database, user_id: str, role: Role, granted_by: str) -> None:
    with db.session() as session:
        row = session.get(UserRole, user_id) or UserRole(slack_user_id=user_id, role=role.name, granted_by=granted_by)
        row.role, row.granted_by, row.granted_at = role.name, granted_by, utcnow()
        session.add(row)
        session.commit()


@off_loop
def list_roles(db: Database, admins: frozenset[str]) -> list[RoleGrant]:
    """Every stored grant, plus the configured admins that have no stored row."""
    with db.session() as session:
        rows = session.exec(select(UserRole)).all()
    grants = {row.slack_user_id: RoleGrant(row.slack_user_id, Role.parse(row.role), row.granted_by) for row in rows}
    for admin in admins - grants.keys():
        grants[admin] = RoleGrant(admin, Role.admin, "BOT_ADMINS")
    return sorted(grants.values(), key=lambda g: (-g.role, g.user_id))

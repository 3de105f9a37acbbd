"""The database: SQLAlchemy 2 (async) tables, engines, migrations, object rows.

SQLite (aiosqlite) is the embedded default, PostgreSQL (psycopg 3) the
production database; the same code and the same tests serve both.
"""

from mcpctl.store.engine import (
    STORED,
    async_url,
    lock_change_log,
    make_engine,
    make_sessionmaker,
    sqlite_url,
)
from mcpctl.store.migrating import current_revision, head_revision, upgrade
from mcpctl.store.tables import (
    AuditRow,
    Base,
    ChangeRow,
    CredentialRow,
    EventRow,
    MetaRow,
    ObjectRow,
    RefRow,
    SessionRow,
    TokenRow,
)

__all__ = [
    "STORED",
    "AuditRow",
    "Base",
    "ChangeRow",
    "CredentialRow",
    "EventRow",
    "MetaRow",
    "ObjectRow",
    "RefRow",
    "SessionRow",
    "TokenRow",
    "async_url",
    "current_revision",
    "head_revision",
    "lock_change_log",
    "make_engine",
    "make_sessionmaker",
    "sqlite_url",
    "upgrade",
]

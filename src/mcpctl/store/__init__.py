"""The database: SQLAlchemy 2 (async) tables, engines, migrations, and every query.

SQLite (aiosqlite) is the embedded default, PostgreSQL (psycopg 3) the
production database; the same code and the same tests serve both. No package
above imports sqlalchemy: they name sessions `Session` and `Sessions`, and call
the queries of the modules named for what they hold (`objects`: object rows and
references; `audit`: audit entries and events; `credentials`: passwords,
sessions and tokens; `writes`: the write's context, its notice and its change
log entries; `rows`: between rows and resources).
"""

from mcpctl.store.engine import (
    async_url,
    database_kind,
    display_url,
    make_engine,
    make_sessionmaker,
    sqlite_path,
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
from mcpctl.store.writes import (
    API,
    Session,
    Sessions,
    SourceKind,
    WriteContext,
    WriteNotice,
    WriteSource,
    lock_change_log,
    write_context,
)

__all__ = [
    "API",
    "AuditRow",
    "Base",
    "ChangeRow",
    "CredentialRow",
    "EventRow",
    "MetaRow",
    "ObjectRow",
    "RefRow",
    "Session",
    "SessionRow",
    "Sessions",
    "SourceKind",
    "TokenRow",
    "WriteContext",
    "WriteNotice",
    "WriteSource",
    "async_url",
    "current_revision",
    "database_kind",
    "display_url",
    "head_revision",
    "lock_change_log",
    "make_engine",
    "make_sessionmaker",
    "sqlite_path",
    "sqlite_url",
    "upgrade",
    "write_context",
]

"""Migration files: the tool's own, a project's explicit folder, their checksums.

Two kinds, never mixed up:

- **tool** migrations (``tenants_registry``, ``tenant_config``, ``import_history``,
  ``import_fingerprints``)
  are the schema the tool needs. They are always read from the tool itself: the
  copy bundled in the wheel (``_bundled_migrations``), else the source checkout's
  ``database/migrations``. Never from the project's ``database/migrations/``, which
  in a real platform repository holds the platform's own files (duplicate numbers,
  ``CONCURRENTLY``, files needing Supabase-only objects). They are identified by
  NAME; the number in the file name only orders them.
- **project** migrations come only from a folder the user names
  (``--migrations-dir`` or the ``migrations_dir`` setting): ``NNN_name.sql`` ordered
  by (number, name), duplicate numbers allowed, each tracked by its file stem.

Checksums are SHA-256 of the text with CRLF and CR turned into LF, so a checkout
on Windows (or a file saved by another editor) is not "modified".
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path

from tenant_migrator.errors import MigrationError
from tenant_migrator.migrations.statements import split_statements, statement_spans

_FILE_RE = re.compile(r"^(?P<version>\d+)_?(?P<name>.*)\.sql$")
_SOURCE_CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "database" / "migrations"

# The tool's migrations by name, in the order they run. A file of the tool's folder
# whose name is not here is a packaging mistake, not something to run.
TOOL_NAMES: tuple[str, ...] = (
    "tenants_registry",
    "tenant_config",
    "import_history",
    "import_fingerprints",
)

# A leading comment line that makes a project file run outside a transaction, one
# statement at a time (CREATE INDEX CONCURRENTLY cannot run inside one).
NO_TRANSACTION_DIRECTIVE = "-- tenant-migrator: no-transaction"
_DIRECTIVE_RE = re.compile(r"^--\s*tenant-migrator:\s*no-transaction\s*$", re.IGNORECASE)
_CONCURRENTLY_RE = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)


class Kind(StrEnum):
    TOOL = "tool"
    PROJECT = "project"


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: str  # the leading digits as written ("011")
    name: str  # what follows them ("tenants_registry")
    path: Path
    sql: str = field(repr=False)
    checksum: str = ""  # sha256 hex of the text, line endings normalised to LF
    kind: Kind = Kind.PROJECT
    transactional: bool = True
    # sha256 of the raw bytes: what the previous tool version recorded.
    legacy_checksum: str = ""

    @property
    def key(self) -> str:
        """What the ledger keys it by: a tool migration's name, a project file's stem."""
        return self.name if self.kind is Kind.TOOL else self.path.stem

    @property
    def label(self) -> str:
        """How reports name it: ``tenants_registry``, or ``011_add_columns.sql``."""
        return self.name if self.kind is Kind.TOOL else self.path.name

    @property
    def number(self) -> int:
        return int(self.version)

    @property
    def statements(self) -> list[str]:
        return split_statements(self.sql)

    @property
    def uses_concurrently(self) -> bool:
        return any(_CONCURRENTLY_RE.search(s) for _, s in statement_spans(self.sql))

    def matches_checksum(self, recorded: str | None) -> bool:
        return recorded is not None and recorded in (self.checksum, self.legacy_checksum)


def checksum(text: str) -> str:
    """SHA-256 of ``text`` with CRLF/CR normalised to LF."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _no_transaction(sql: str) -> bool:
    """True when a comment line before the first statement carries the directive."""
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            return False
        if _DIRECTIVE_RE.match(stripped):
            return True
    return False


def _read(path: Path, version: str, name: str, kind: Kind) -> Migration:
    raw = path.read_bytes()
    try:
        sql = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MigrationError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return Migration(
        version=version,
        name=name,
        path=path,
        sql=sql,
        checksum=checksum(sql),
        kind=kind,
        transactional=kind is Kind.TOOL or not _no_transaction(sql),
        legacy_checksum=hashlib.sha256(raw).hexdigest(),
    )


def load_migrations(directory: Path) -> tuple[Migration, ...]:
    """Every ``NNN_name.sql`` in a project's ``directory``, ordered by (number, name).

    Two files may share a number (a platform's history often has three ``011_``
    files): each is its own migration, tracked by its file stem.
    """
    if not directory.is_dir():
        raise MigrationError(
            f"migration directory {directory} does not exist; "
            "give the folder of the project's own migrations with --migrations-dir DIR"
        )
    found = []
    for path in directory.glob("*.sql"):
        match = _FILE_RE.match(path.name)
        if match and path.is_file():
            found.append(_read(path, match["version"], match["name"], Kind.PROJECT))
    return tuple(sorted(found, key=lambda m: (m.number, m.name, m.path.name)))


def tool_migrations_dir() -> Path:
    """Where the tool's own migrations are: bundled in the wheel, else the checkout's."""
    bundled = resources.files("tenant_migrator") / "_bundled_migrations"
    if bundled.is_dir():
        return Path(str(bundled))
    return _SOURCE_CHECKOUT_DIR


@functools.cache
def tool_migrations() -> tuple[Migration, ...]:
    """The tool's own migrations, in ``TOOL_NAMES`` order (read once per process)."""
    directory = tool_migrations_dir()
    by_name: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if match and match["name"] in TOOL_NAMES:
            by_name[match["name"]] = _read(path, match["version"], match["name"], Kind.TOOL)
    missing = [n for n in TOOL_NAMES if n not in by_name]
    if missing:
        raise MigrationError(
            f"the tool's own migrations {', '.join(missing)} are missing from {directory}; "
            "reinstall tenant-migrator"
        )
    return tuple(by_name[n] for n in TOOL_NAMES)


def compat_sql() -> str:
    return (resources.files("tenant_migrator") / "sql" / "supabase_compat.sql").read_text(
        encoding="utf-8"
    )

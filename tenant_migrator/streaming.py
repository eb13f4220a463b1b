"""plan, import and sync: the tenants planned (and written) batch by batch, in one
transaction.

The client files are read by ``pipeline.stream_tenants`` a batch at a time (the
process pool parses the next batches meanwhile), and each batch is planned
against its own rows and, for import, written at once, inside ONE transaction
that holds the tool's advisory lock. So parsing, planning and the database's
work overlap, and an import's memory holds one batch plus a small summary per
tenant, not every document. ``plan`` runs the same way in a read-only
transaction (one snapshot for every batch) and keeps every tenant's plan whole,
for its reports.

"Nothing is written" still means nothing:

* an invalid file, a value the database would refuse, or a row edited since our
  last import fails the run at the end, and the transaction rolls back every
  batch it wrote; every such tenant is listed, not just the first;
* when migrations are pending, every file is checked *before* they are applied
  (a first pass that reads the files and keeps only the verdicts), so a bad file
  does not leave a migrated database behind;
* two tenants giving one shared variable different literals are only found once
  every file is read: with --skip-invalid, tenants holding shared literals wait
  in the database (``PlanWriter.defer``) and are written last, without those in
  conflict; without it, any conflict fails the run anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenant_migrator import __version__, interruption, literal_scan, secretrefs, store
from tenant_migrator.errors import MigrationError
from tenant_migrator.outcomes import WRITTEN_LINES_UP_TO, ImportOutcome  # re-exported
from tenant_migrator.pipeline import (
    LoadResult,
    SharedSecrets,
    TenantResult,
    TenantStream,
    sorted_problems,
)
from tenant_migrator.planning import (
    Action,
    CurrentRow,
    Plan,
    TenantPlan,
    build_plan,
    plan_orphan,
    plan_tenant,
    record_problems,
)
from tenant_migrator.problems import Problem
from tenant_migrator.readahead import ReadAhead
from tenant_migrator.refusals import check_blocked, refuse_invalid
from tenant_migrator.settings import Exclusion

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.migrations import Migration
    from tenant_migrator.reviewed_plan import Verifier
    from tenant_migrator.settings import Settings


@dataclass(frozen=True, slots=True)
class ImportOptions:
    migrate: bool = True
    skip_invalid: bool = False
    force: bool = False
    command: str = "import"  # or "sync"
    lock_timeout: float = 5.0  # seconds, for the migrations applied first
    # A reviewed plan's checks (reviewed_plan.Verifier): the import writes exactly
    # that plan or nothing.
    review: Verifier | None = None


# Tenants compared with their rows in one read (one round trip): a plan or an
# import of up to this many with rows in the table reads once. They wait in
# memory until then (about 8 KB each, as loaded).
READ_AT_ONCE = 5000
# The last this many tenants (at most FLUSH_ROWS) are written in parts of at
# least a third of it, the last one at once: the write everything waits for at
# the end is short, and how many parts does not depend on the batches' size
# (the pool's, from the number of cores).
WRITE_EACH_BATCH_LAST = 300


async def import_tenants(
    settings: Settings,
    stream: TenantStream,
    only: Sequence[str] | None,
    options: ImportOptions,
    on_phase: Callable[[str], None] = lambda phase: None,
) -> ImportOutcome:
    """Migrate (after checking every file), then plan and write every batch in one
    transaction, refusing at the end on invalid or blocked tenants.

    ``on_phase`` is told what is happening, for a progress display.
    """
    from tenant_migrator import migrations

    started = time.perf_counter()
    started_at = datetime.now().astimezone()
    # What this run commits, not what an earlier one did in this process (a
    # Python API caller may run several; an interruption reports only its own).
    interruption.reset()
    refuse_invalid((), stream.problems, skip_invalid=options.skip_invalid)
    files = store.migration_files(settings)
    async with store.connected(settings) as (conn, _):
        applied = await _migrate(conn, files, stream, options, on_phase, settings)
        # BEGIN, the lock, lz4 and work_mem in one round trip; the run's summary goes with COMMIT.
        async with migrations.LockedTransaction(conn, prelude=store.WRITER_PRELUDE_SQL) as tx:
            writer = store.PlanWriter(
                conn,
                store.RunStart(options.command, started_at),
                rules=literal_scan.project_rules(settings),
            )
            # The tool's migrations are applied (_migrate refuses otherwise).
            schema = await store.read_schema(conn, migrated=True)
            run = ImportRun(conn, schema, only, options, writer, stream.count)
            run.exclude = settings.exclude
            await _feed(run, stream, on_phase, "loading client files, planning and writing")
            on_phase("finishing the run")
            the_plan = await run.finish(stream.problems)
            written, run_id = writer.written, writer.run_id
            outcome = ImportOutcome(
                the_plan, run_id, written, applied, scrubbed=tuple(writer.scrubbed)
            )
            if run_id is not None:
                tx.commit_with(
                    store.finish_run_sql(
                        run_id,
                        run_summary(outcome, only),
                        forced=any(t.forced for t in the_plan.tenants),
                    )
                )
                interruption.committing(f"run {run_id}")
        if run_id is not None:
            interruption.committed(f"run {run_id} was committed")
    return dataclasses.replace(outcome, duration_s=time.perf_counter() - started)


async def plan_tenants(
    settings: Settings,
    stream: TenantStream,
    only: Sequence[str] | None,
    *,
    force: bool = False,
    on_phase: Callable[[str], None] = lambda phase: None,
) -> Plan:
    """The plan for the stream's tenants: reads only, in one read-only transaction
    (one snapshot of the table for every batch). ``force``: plan blocked tenants
    as the updates ``import --force`` would make."""
    from tenant_migrator import migrations

    files = store.migration_files(settings)
    async with (
        store.connected(settings) as (conn, _),
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        pending = [m.label for m in await migrations.pending(conn, files)]
        options = ImportOptions(force=force)
        schema = await store.read_schema(conn, migrated=not pending)
        run = PlanRun(conn, schema, only, options, stream.count)
        run.exclude = settings.exclude
        await _feed(run, stream, on_phase, "loading client files and reading the tenants table")
        return await run.finish(stream.problems, pending)


async def _feed(
    run: BatchedRun, stream: TenantStream, on_phase: Callable[[str], None], doing: str
) -> None:
    done = 0
    on_phase(f"{doing}: 0 of {stream.count:,}")
    async with ReadAhead(stream) as batches:
        try:
            async for batch in batches:
                await run.add(batch)
                done += len(batch)
                on_phase(f"{doing}: {done:,} of {stream.count:,}")
        except asyncio.CancelledError:
            # Ctrl-C: the run is abandoned, and the write may be waiting on a lock
            # someone else holds; stop it rather than wait for it.
            await run.settle(quietly=True, cancel=True)
            raise
        except BaseException:
            await run.settle(quietly=True)
            raise


async def _migrate(
    conn: asyncpg.Connection,
    files: Sequence[Migration],
    stream: TenantStream,
    options: ImportOptions,
    on_phase: Callable[[str], None],
    settings: Settings,
) -> tuple[str, ...]:
    from tenant_migrator import migrations
    from tenant_migrator.migrations.supabase_cli import default_dir

    pending = await migrations.pending(conn, files)
    if options.review is not None:
        options.review.check_migrations([m.label for m in pending])
    if not pending:
        return ()
    if not options.migrate:
        raise MigrationError(
            f"{len(pending)} migration(s) pending: {', '.join(m.label for m in pending)}; "
            "run `tenant-migrator migrate` first, or drop --no-migrate"
        )
    if not options.skip_invalid:
        on_phase("checking client files")
        check_files(stream)
    on_phase("migrating")
    applied = await migrations.apply_pending(
        conn,
        files,
        timeouts=migrations.Timeouts(lock_timeout_s=options.lock_timeout),
        supabase_dir=default_dir(settings.project_dir),
    )
    labels = tuple(a.migration.label for a in applied)
    if labels:
        interruption.committed(f"migrations {', '.join(labels)} were applied")
    return labels


def check_files(stream: TenantStream) -> None:
    """Refuse when any file is invalid, before anything touches the database.

    Reads every file (results are dropped as they come: only the verdicts stay),
    and checks what planning would refuse without looking at a row.
    """
    shared = SharedSecrets()
    invalid: dict[str, list[Problem]] = {}
    for batch in stream:
        for result in batch:
            shared.add(result)
            if result.record is None:
                invalid[result.tenant_id] = list(result.errors)
            elif problems := record_problems(result.record, result.path):
                invalid[result.tenant_id] = list(problems)
    for tenant_id, problems in shared.conflicts().items():
        invalid.setdefault(tenant_id, []).extend(problems)
    refuse_invalid(
        [(t, sorted_problems(invalid[t])) for t in sorted(invalid)],
        stream.problems,
        skip_invalid=False,
    )


class BatchedRun:
    """What a plan and an import share across their batches, inside their
    transaction: the shared-secret verdicts, gathering batches into reads of
    ``READ_AT_ONCE``, the orphans at the end (read with the last comparison read:
    a round trip each costs 20–200 ms against a remote database). ``PlanRun`` and
    ``ImportRun`` say what each does with a batch once it is planned."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        schema: store.Schema,
        only: Sequence[str] | None,
        options: ImportOptions,
        total: int = 0,
    ) -> None:
        self.conn = conn
        self.seen = 0
        self.total = total  # tenants the stream will bring (0: not known)
        self.schema = schema
        self.options = options
        self.shared = SharedSecrets()
        self.tenants: list[TenantPlan] = []
        # Every loaded id, for the orphan check (a whole-project run only).
        self._loaded: list[str] | None = [] if only is None else None
        self._named = only is not None
        # Rows of excluded tenants are not the tool's business: never orphans.
        self.exclude: Exclusion = Exclusion()
        # Batches waiting to be compared with their rows, READ_AT_ONCE at a time.
        self._unread: list[TenantResult] = []
        # The orphans, once read along with the last comparison read (see finish).
        self._orphans: list[CurrentRow] | None = None
        self._last_read = False

    async def add(self, batch: Sequence[TenantResult]) -> None:
        """Plan ``batch`` against its rows (and, importing, write it). With rows to
        compare, batches are gathered into one read per ``READ_AT_ONCE`` tenants
        (a round trip each, not one per batch)."""
        if not self.schema.worth_reading:
            await self._add(batch)
            return
        self._unread.extend(batch)
        if len(self._unread) >= READ_AT_ONCE and not self._holds_the_last():
            await self._read_gathered()

    def _holds_the_last(self) -> bool:
        # The last tenants wait for finish, whose read brings the orphans too.
        return 0 < self.total <= self.seen + len(self._unread)

    def _wants_orphans(self) -> bool:
        # A whole-project run, against a table with rows.
        return self._loaded is not None and self.schema.has_rows

    def _orphans_read_along(self) -> bool:
        return self._last_read and self._wants_orphans() and self.schema.complete

    async def _read_gathered(self) -> None:
        gathered, self._unread = self._unread, []
        if gathered:
            await self._add(gathered)

    async def _add(self, batch: Sequence[TenantResult]) -> None:
        raise NotImplementedError

    def _seen(self, batch: Sequence[TenantResult]) -> set[str]:
        """Count ``batch`` in; the tenants that hold shared literals (may conflict)."""
        self.seen += len(batch)
        may_conflict = set()
        for result in batch:
            if self.shared.add(result):
                may_conflict.add(result.tenant_id)
            if self._loaded is not None:
                self._loaded.append(result.tenant_id)
        return may_conflict

    async def _plan(self, batch: Sequence[TenantResult], *, whole: bool) -> _Planned:
        """``batch`` planned against its rows (``whole``: differing rows also whole)."""
        loaded = LoadResult(tuple(batch))
        proposed = store.payloads(loaded)
        rows: Mapping[str, CurrentRow] = {}
        states: Mapping[str, Any] = {}
        previous: Mapping[str, Any] = {}
        if self.schema.worth_reading:
            await self.settle()
            ids = [r.tenant_id for r in batch]
            if self._orphans_read_along():
                assert self._loaded is not None
                rows, states, previous, self._orphans = await store.read_rows_and_orphans(
                    self.conn, self.schema, ids, proposed, self._loaded, whole=whole
                )
            else:
                rows, states, previous = await store.read_rows_whole(
                    self.conn, self.schema, ids, proposed, whole=whole
                )
        planned = build_plan(
            loaded, rows, states, force=self.options.force, serialized=store.configs(proposed)
        )
        return _Planned(planned, proposed, previous)

    async def settle(self, *, quietly: bool = False, cancel: bool = False) -> None:
        """Wait for what still runs in the database (an import's write)."""

    async def finish(self, problems: Sequence[Problem], pending: Sequence[str] = ()) -> Plan:
        """The whole plan: shared-secret conflicts marked, orphans added."""
        self._last_read = True
        await self._read_gathered()
        await self.settle()
        tenants = await self._settled(self._conflicts_marked(), problems)
        if self._wants_orphans():
            assert self._loaded is not None
            orphans = self._orphans
            if orphans is None:
                orphans = await store.read_orphans(self.conn, self.schema, self._loaded)
            orphans = [o for o in orphans if self.exclude.match(o.id) is None]
            tenants = sorted([*tenants, *map(plan_orphan, orphans)], key=lambda t: t.id)
        return Plan(tuple(tenants), pending_migrations=tuple(pending), problems=tuple(problems))

    def _conflicts_marked(self) -> list[TenantPlan]:
        conflicts = self.shared.conflicts()
        if conflicts:
            self.tenants = [
                _conflicted(t, conflicts[t.id]) if t.id in conflicts else t for t in self.tenants
            ]
        return sorted(self.tenants, key=lambda t: t.id)

    async def _settled(
        self, tenants: list[TenantPlan], problems: Sequence[Problem]
    ) -> list[TenantPlan]:
        return tenants


@dataclass(frozen=True, slots=True)
class _Planned:
    plan: Plan
    proposed: Mapping[str, store.Payload]
    previous: Mapping[str, Any]  # differing rows whole, for the writer's literal scan


class PlanRun(BatchedRun):
    """``plan``: reads only; every tenant's plan kept whole, for the reports."""

    async def _add(self, batch: Sequence[TenantResult]) -> None:
        self._seen(batch)
        self.tenants.extend((await self._plan(batch, whole=False)).plan.tenants)


class ImportRun(BatchedRun):
    """``import`` and ``sync``: each batch written while nothing refused the run;
    of each tenant only a summary kept (see ``_keep``); refusals at the end."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        schema: store.Schema,
        only: Sequence[str] | None,
        options: ImportOptions,
        writer: store.PlanWriter,
        total: int = 0,
    ) -> None:
        super().__init__(conn, schema, only, options, total)
        self.writer = writer
        # Near the end nothing is left to overlap a write with: each batch is then
        # written at once, so the last write (which everything waits for) is short.
        self.write_at_once_from = total - min(store.FLUSH_ROWS, WRITE_EACH_BATCH_LAST)
        self.refused = False  # an invalid or blocked tenant: this run will not commit
        self.invalid_file = False  # ... because of a file: planning the rest is moot
        self._detailed = 0  # writers whose changes are kept for the report
        # The write of the previous batch, still running in the database while this
        # process plans the next one (one connection: one statement at a time).
        self._writing: asyncio.Future[None] | None = None

    async def _add(self, batch: Sequence[TenantResult]) -> None:
        may_conflict = self._seen(batch)
        if not self.options.skip_invalid and any(r.record is None for r in batch):
            self.invalid_file = self.refused = True
        if self.invalid_file:
            # Failing anyway: only find the other invalid files, to list them all.
            for result in batch:
                if result.record is None:
                    self._keep(plan_tenant(result, None, None))
            return
        planned = await self._plan(batch, whole=True)
        if self.options.review is not None:
            self.options.review.check_batch(planned.plan.tenants)
        for tenant in planned.plan.tenants:
            if self._refuses(tenant) or (
                tenant.action is Action.INVALID and not self.options.skip_invalid
            ):
                self.refused = True
            self._keep(tenant)
        todo = planned.plan.to_write
        if self.refused or not todo:
            return
        await self.settle()
        proposed, previous = planned.proposed, planned.previous
        if self.options.skip_invalid and may_conflict:
            await self.writer.defer([t for t in todo if t.id in may_conflict], proposed, previous)
            todo = tuple(t for t in todo if t.id not in may_conflict)
        tail = min(store.FLUSH_ROWS, WRITE_EACH_BATCH_LAST)
        at_once = self.seen >= self.total or (
            self.seen >= self.write_at_once_from and self.writer.staged + len(todo) >= tail // 3
        )
        self._writing = asyncio.ensure_future(
            self.writer.add(todo, proposed, flush=at_once, previous=previous)
        )

    async def settle(self, *, quietly: bool = False, cancel: bool = False) -> None:
        """Wait for the write still running. ``quietly``: the run is failing
        already; swallow what the write raises (the transaction rolls back anyway).
        A failing run lets it finish rather than cut it off (it is FLUSH_ROWS rows
        at most, and the connection then rolls back cleanly), except when
        ``cancel``ed (Ctrl-C): the write may wait on a lock for ever, so asyncpg
        cancels it on the server, and the transaction rolls back (or, if the
        connection is lost, the server rolls it back)."""
        writing, self._writing = self._writing, None
        if writing is None:
            return
        if cancel:
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing
            return
        if not quietly:
            await writing
            return
        with contextlib.suppress(Exception):
            await writing

    async def _settled(
        self, tenants: list[TenantPlan], problems: Sequence[Problem]
    ) -> list[TenantPlan]:
        """Refuse (raise) on invalid or blocked tenants, else write what waited for
        the shared-secret verdict."""
        if self.options.review is not None:
            self.options.review.check_done()
        invalid = [(t.id, t.errors) for t in tenants if t.action is Action.INVALID]
        refuse_invalid(invalid, problems, skip_invalid=self.options.skip_invalid)
        check_blocked([t for t in tenants if self._refuses(t)])
        await self.writer.write_deferred(leave_out=self.shared.conflicts())
        return tenants

    def _refuses(self, tenant: TenantPlan) -> bool:
        """Whether ``tenant`` stops the run: a row edited since our import always; a
        database-owned or deleted row only when it was named (``sync T``, ``import
        T``), since the user then asked for exactly that tenant to be written."""
        if tenant.action is not Action.BLOCKED:
            return False
        return not tenant.left_alone or self._named

    def _keep(self, tenant: TenantPlan) -> None:
        """What the outcome needs of ``tenant``: never its record (the document)
        nor its file's fingerprint (the review checked it with its batch: 11 MB at
        100,000 tenants); its changes only while the report may still draw them."""
        detailed = tenant.action is Action.UPDATE and self._detailed < WRITTEN_LINES_UP_TO
        if detailed:
            self._detailed += 1
        literals = tuple(
            s for s in tenant.secrets if s.literal is not None and s.action != secretrefs.KEPT
        )
        keep_changes = detailed or tenant.action is Action.BLOCKED
        self.tenants.append(
            dataclasses.replace(
                tenant,
                record=None,
                source_sha256=None,
                changes=tenant.changes if keep_changes else (),
                drift=tenant.drift if keep_changes else (),
                secrets=literals,
            )
        )


def _conflicted(tenant: TenantPlan, problems: Iterable[Problem]) -> TenantPlan:
    # As pipeline.check_shared_secrets makes it when every file is loaded at once.
    return TenantPlan(
        tenant.id,
        Action.INVALID,
        errors=sorted_problems([*tenant.errors, *problems]),
        warnings=tenant.warnings,
        path=tenant.path,
    )


def run_summary(outcome: ImportOutcome, only: Sequence[str] | None) -> dict[str, Any]:
    """What the run row records about the run."""
    return {
        "plan": outcome.plan.summary(),
        "created": outcome.count("create"),
        "updated": outcome.count("update"),
        "skipped": list(outcome.skipped),
        "left_alone": list(outcome.left_alone),
        "selection": list(only) if only is not None else None,
        "secrets_referenced": outcome.plan.secrets_referenced,
        "literals_kept_out_of_history": [f.to_json() for f in outcome.scrubbed],
        "tool_version": __version__,
    }

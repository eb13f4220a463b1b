"""Client files → tenant results: the per-file steps chained together.

discover → load → validate → extract secrets → build record. Pure apart from
reading the files; no database.

``process_client_file`` is the unit of work. ``iter_batches`` runs it in this
process for a few files, and over a process pool for many (more than
``POOL_MIN_FILES``; the pool itself is ``pool.py``): the work is CPU-bound
(parsing ~0.3 ms, secrets ~0.1 ms, validation ~0.06 ms per file), so one worker
per core. It hands the results out a batch at a time: ``stream_tenants`` (plan,
import), whose consumer never holds every tenant; ``load_files``/``load_tenants``
keep them all (validate). Workers take batches of paths and send back each
result's wire form (``TenantResult.to_wire``: columns, the record's JSON text,
problems, secret tuples), never documents or node graphs: pickling a whole
TenantResult costs the parent ~20 µs per file, the tuples ~12 µs including
rebuilding. The parent only ever holds finished records, so memory grows with
the records' JSON text, not with parsed documents; when ``load_files`` keeps
more than ``COMPRESS_RECORDS_ABOVE``, the records keep that text zlib-compressed.
The pool's results are exactly what the single-process loop gives
(tests/test_parallel.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tenant_migrator import discovery, loader, pool, secretrefs, validation
from tenant_migrator.errors import ClientFileError
from tenant_migrator.problems import Problem, Severity, sorted_problems
from tenant_migrator.record import build_record, default_notes
from tenant_migrator.results import LoadResult, ResultWire, TenantResult  # re-exported
from tenant_migrator.secretrefs import SharedSecrets  # streaming imports it here
from tenant_migrator.settings import DEFAULT_MAX_FILE_BYTES, Settings

# --- one file --------------------------------------------------------------------------


def process_client_file(
    client_file: discovery.ClientFile,
    schema_path: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    *,
    compress: bool = False,
) -> TenantResult:
    """Load, validate, extract secrets and build the record of one tenant.

    Never raises for anything wrong with the file: problems go into the result.
    (A broken schema raises ``SchemaError``; callers compile it first.)
    ``compress``: keep the record's JSON zlib-compressed (see ``TenantRecord``).
    """
    tenant_id, path = client_file.tenant_id, client_file.path
    id_problem = discovery.tenant_id_problem(tenant_id)
    if id_problem is not None:
        return _failed(client_file, [Problem(path, id_problem)])
    if client_file.problem is not None:
        return _failed(client_file, [Problem(path, client_file.problem)])
    compiled = validation.compiled_schema(schema_path)
    sha256 = None
    try:
        data = loader.read_client_file(path, max_file_bytes)
        # Hashed here, from the bytes in hand: a reviewed plan fingerprints each
        # file, and reading 10,000 files again for it cost 0.29 s after the load.
        sha256 = hashlib.sha256(data).hexdigest()
        document = loader.load_bytes(data, path)
    except ClientFileError as err:
        return _failed(client_file, err.problems, sha256)
    problems = [*document.notes, *validation.validate(document, compiled)]
    problems += _client_id_warning(document, tenant_id)
    if any(p.is_error for p in problems):
        # No secret extraction for an invalid file: nothing of it goes anywhere.
        return _failed(client_file, problems, sha256)
    extraction = secretrefs.extract(
        document.data, tenant_id, compiled.secret_rules, path=path, locate=document.locate
    )
    problems += extraction.problems
    if any(p.is_error for p in problems):
        return _failed(client_file, problems, sha256)
    defaults = compiled.column_defaults
    problems += default_notes(document, defaults)
    record = build_record(tenant_id, extraction.config, compress=compress, defaults=defaults)
    return TenantResult(
        tenant_id, path, record, sorted_problems(problems), extraction.secrets, sha256
    )


def _failed(
    client_file: discovery.ClientFile, problems: Iterable[Problem], sha256: str | None = None
) -> TenantResult:
    return TenantResult(
        client_file.tenant_id, client_file.path, None, sorted_problems(problems), (), sha256
    )


def _client_id_warning(document: loader.LoadedDocument, tenant_id: str) -> list[Problem]:
    client = document.data.get("client")
    client_id = client.get("id") if isinstance(client, dict) else None
    if not isinstance(client_id, str) or client_id == tenant_id:
        return []
    shown = repr(client_id) if secretrefs.find_secret_shape(client_id) is None else "(not shown)"
    return [
        document.problem(
            "/client/id",
            f"client.id {shown} differs from the directory name {tenant_id!r}; the directory "
            f"name is the tenant id (the platform found the file by it), so this tenant is "
            f"{tenant_id!r} — rename one of them to make them agree",
            Severity.WARNING,
        )
    ]


# --- many files ------------------------------------------------------------------------


# More files than this go to a process pool: below it, starting the workers (fork:
# ~10 ms; spawn: ~0.3 s of imports) costs more than the second core saves.
POOL_MIN_FILES = 200
# Files per task: small enough that the last tasks finish together (a batch is
# ~70 ms of work), large enough that sending one costs nothing in comparison.
BATCH_FILES = 100
# Above this many files, records keep their JSON compressed: 100,000 tenants are
# 330 MB of JSON text but 145 MB compressed. Below it, the ~45 µs per record of
# compressing and decompressing is not worth the memory.
COMPRESS_RECORDS_ABOVE = 20_000


def load_files(
    files: Sequence[discovery.ClientFile],
    schema_path: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    *,
    workers: int | None = None,
    start_method: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[TenantResult]:
    """Process ``files``, in ``files`` order, and keep every result.

    ``workers``: None decides (a pool of one worker per core for more than
    ``POOL_MIN_FILES`` files, else this process); 1 forces this process; more
    forces a pool of that many. ``start_method``: multiprocessing's, default
    ``fork`` where the platform has it (workers inherit the compiled schema and
    need no imports), else ``spawn``. ``on_progress(done, total)`` after each batch.
    """
    compress = len(files) > COMPRESS_RECORDS_ABOVE
    batches = iter_batches(
        files,
        schema_path,
        max_file_bytes,
        workers=workers,
        start_method=start_method,
        compress=compress,
    )
    results: list[TenantResult] = []
    for batch in batches:
        results += batch
        if on_progress is not None:
            on_progress(len(results), len(files))
    return results


def iter_batches(
    files: Sequence[discovery.ClientFile],
    schema_path: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    *,
    workers: int | None = None,
    start_method: str | None = None,
    compress: bool = False,
) -> Iterator[list[TenantResult]]:
    """Process ``files`` and hand the results out a batch at a time, in ``files`` order.

    The streamed import consumes this: while it writes one batch, the workers
    parse the next ones, and only a bounded window of batches is ever in flight,
    so memory does not grow with the number of files. ``workers`` and
    ``start_method``: see ``load_files``.
    """
    if workers is None:
        workers = pool.default_workers() if len(files) > POOL_MIN_FILES else 1
    if workers > 1 and len(files) > 1:
        pooled = _pooled(
            files, schema_path, max_file_bytes, workers, start_method, compress=compress
        )
        if pooled is not None:
            yield from pooled
            return
    for start in range(0, len(files), BATCH_FILES):
        yield [
            process_client_file(f, schema_path, max_file_bytes, compress=compress)
            for f in files[start : start + BATCH_FILES]
        ]


def _pooled(
    files: Sequence[discovery.ClientFile],
    schema_path: Path,
    max_file_bytes: int,
    workers: int,
    start_method: str | None,
    *,
    compress: bool,
) -> Iterator[list[TenantResult]] | None:
    """The pool's results batch by batch, or None if no pool can be started here
    (then the caller runs the plain loop: slower, same results)."""
    size = pool.batch_size(len(files), workers, BATCH_FILES)
    batches = [files[i : i + size] for i in range(0, len(files), size)]
    # Workers get paths as plain tuples, and send back wire forms: never documents
    # or node graphs, and the tenant id and path stay here.
    tasks = (
        ([(f.tenant_id, os.fspath(f.path), f.problem) for f in batch], max_file_bytes, compress)
        for batch in batches
    )
    shipped = pool.run_in_order(
        tasks,
        len(batches),
        _run_batch,
        workers=workers,
        start_method=start_method,
        setup=_init_worker,
        setup_args=(str(schema_path),),
        died=(
            "a worker process loading the client files died (killed, or out of memory?); "
            "nothing was written — run the command again"
        ),
    )
    if shipped is None:
        return None
    return (
        [TenantResult.from_wire(f, wire) for f, wire in zip(batch, wires, strict=True)]
        for batch, wires in zip(batches, shipped, strict=True)
    )


# --- in the worker ----------------------------------------------------------------------

_worker_schema: Path | None = None


def _init_worker(schema_path: str) -> None:
    global _worker_schema
    _worker_schema = Path(schema_path)
    validation.compiled_schema(_worker_schema)  # spawn: build it once, before the first file


def _run_batch(task: tuple[list[tuple[str, str, str | None]], int, bool]) -> list[ResultWire]:
    entries, max_file_bytes, compress = task
    assert _worker_schema is not None
    return [
        process_client_file(
            discovery.ClientFile(tenant_id, Path(path), problem),
            _worker_schema,
            max_file_bytes,
            compress=compress,
        ).to_wire()
        for tenant_id, path, problem in entries
    ]


def load_tenants(
    settings: Settings,
    only: Sequence[str] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Every tenant under ``settings.clients_dir`` (or just ``only``), sorted by id.

    ``workers``, ``on_progress``: see ``load_files`` (None: a process pool when
    there are many files).

    Raises ``UsageError`` for an unknown tenant name (naming close matches) or a
    missing clients/ directory, ``SchemaError`` for a broken schema. Everything
    wrong with a client file is in its ``TenantResult``.
    """
    schema_path, found, problems = _select(settings, only)
    loaded = load_files(
        found.files, schema_path, max_file_bytes, workers=workers, on_progress=on_progress
    )
    results = check_shared_secrets(loaded)
    results.sort(key=lambda r: r.tenant_id)
    return LoadResult(tuple(results), problems, found.excluded)


def _select(
    settings: Settings, only: Sequence[str] | None
) -> tuple[Path, discovery.Discovery, tuple[Problem, ...]]:
    """The schema to validate against (compiled: a broken one fails before any
    file), the client files, and the problems outside any one file."""
    schema_path, own = validation.locate_schema(settings.schema_path)
    validation.compiled_schema(schema_path)
    found = (
        discovery.select(settings.clients_dir, only, settings.exclude)
        if only
        else discovery.discover(settings.clients_dir, settings.exclude)
    )
    problems = list(found.problems)
    if not own:
        problems.append(_builtin_schema_notice(settings.schema_path))
    return schema_path, found, tuple(problems)


@dataclass(frozen=True, slots=True)
class TenantStream:
    """The selected tenants, loaded batch by batch as they are read (the streamed
    import never holds them all). Each iteration reads the files again.

    ``problems``: those that belong to no single tenant, known before any file is
    read. Batches come in tenant-id order. Shared-secret conflicts are *not*
    checked here (they need every file): the consumer feeds ``SharedSecrets``.
    """

    problems: tuple[Problem, ...]
    count: int
    _batches: Callable[[], Iterator[list[TenantResult]]]

    def __iter__(self) -> Iterator[list[TenantResult]]:
        return self._batches()

    @classmethod
    def of(cls, load_result: LoadResult) -> TenantStream:
        """Tenants already loaded (``sync``'s one file, or a test's records), as one batch."""
        results = list(load_result.results)
        return cls(load_result.problems, len(results), lambda: iter([results] if results else []))


def stream_tenants(
    settings: Settings,
    only: Sequence[str] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
) -> TenantStream:
    """Like ``load_tenants``, but the results come a batch at a time, on iteration.

    Raises what ``load_tenants`` raises, before returning (unknown tenant, no
    clients/ directory, broken schema): the files are only listed here.
    """
    schema_path, found, problems = _select(settings, only)
    files = found.files

    def batches() -> Iterator[list[TenantResult]]:
        return iter_batches(files, schema_path, max_file_bytes, workers=workers)

    return TenantStream(problems, len(files), batches)


def load_one(
    settings: Settings, tenant_id: str, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> TenantResult:
    """One tenant, reading only its own directory (never lists clients/)."""
    schema_path, _own = validation.locate_schema(settings.schema_path)
    validation.compiled_schema(schema_path)
    client_file = discovery.find(settings.clients_dir, tenant_id, settings.exclude)
    return process_client_file(client_file, schema_path, max_file_bytes)


def _builtin_schema_notice(project_schema: Path) -> Problem:
    return Problem(
        project_schema,
        "no config/schema.json in the project; validated against the schema built into "
        "tenant-migrator",
        severity=Severity.WARNING,
    )


def check_shared_secrets(results: list[TenantResult]) -> list[TenantResult]:
    """Shared variables (OPENAI_API_KEY…) hold one value for every tenant: tenants
    whose literals for the same shared variable differ cannot be imported as is,
    since one of them would silently start using another's key. Those results
    become invalid (no record, the conflict as an error)."""
    shared = SharedSecrets()
    for result in results:
        shared.add(result)
    conflicts = shared.conflicts()
    if not conflicts:
        return results
    return [
        invalidated(result, conflicts[result.tenant_id])
        if result.tenant_id in conflicts
        else result
        for result in results
    ]


def invalidated(result: TenantResult, problems: Iterable[Problem]) -> TenantResult:
    """``result`` made invalid by ``problems`` found outside its own file."""
    return dataclasses.replace(
        result, record=None, problems=sorted_problems([*result.problems, *problems]), secrets=()
    )

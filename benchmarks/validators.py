"""Micro-benchmark: per-document cost of each YAML loader and each JSON Schema validator.

    python benchmarks/validators.py [--count 1000] [--seed 0] [--schema config/schema.json]

On the benchmark's generated documents (see generate.py), single process, best of
``--repeat`` passes, in milliseconds per document:

loaders (from the file's bytes)
    C load                yaml.load(data, CSafeLoader)
    C compose             yaml.compose(data, CSafeLoader): nodes with line/column only
    C compose+construct   compose, then construct from the same nodes (what a loader
                          that checks duplicate keys and positions on the nodes pays)
    pure load             yaml.load(data, SafeLoader), i.e. what yaml.safe_load costs

validators (happy path: every generated document is valid)
    jsonschema is_valid           one reused validator object, no format checks
    jsonschema.validate()         the naive peer's call: checks the schema every time
    jsonschema+formats is_valid   reused, with the tool's format checks (iana-timezone, email)
    jsonschema+formats iter_errors  same, collecting every error (what `validate` reports)
    tenant_migrator               the tool's own compiled validator, iter_errors
    jsonschema-rs                 jsonschema_rs.validator_for(schema, formats=…).is_valid
    fastjsonschema                fastjsonschema.compile(schema, formats=…, use_default=False)

jsonschema-rs and fastjsonschema are optional (``pip install jsonschema-rs
fastjsonschema`` into the venv to measure them; they are not dependencies of the
tool). The script also checks that the format-aware validators give the same
verdict on every generated document and on mutated, invalid copies of them, and
lists any disagreement.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import generate
import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
REFERENCE_SCHEMA = REPO.parent / "shared" / "reference" / "platform-lite" / "schema.json"

# The same format rules as tenant_migrator/validation.py, for the other libraries.
_ZONE_SHAPE = re.compile(r"\A[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}\Z")
_EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")


@cache
def is_zone(value: Any) -> bool:
    import zoneinfo

    if not isinstance(value, str):
        return True
    if not _ZONE_SHAPE.match(value) or value in ("localtime", "posixrules", "Factory"):
        return False
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def is_email(value: Any) -> bool:
    return not isinstance(value, str) or _EMAIL.match(value) is not None


FORMATS: dict[str, Callable[[Any], bool]] = {"iana-timezone": is_zone, "email": is_email}


def best_ms_per_item(fn: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return round(best / len(items) * 1000, 4)


# --- loaders -----------------------------------------------------------------------------


def _compose_construct(data: bytes) -> Any:
    loader = yaml.CSafeLoader(data)
    try:
        node = loader.get_single_node()
        return loader.construct_document(node)
    finally:
        loader.dispose()


def loader_costs(texts: list[bytes], repeat: int) -> dict[str, float]:
    pure_sample = texts[: min(len(texts), 300)]  # ten times slower; a sample is enough
    return {
        "C load": best_ms_per_item(lambda d: yaml.load(d, Loader=yaml.CSafeLoader), texts, repeat),
        "C compose": best_ms_per_item(
            lambda d: yaml.compose(d, Loader=yaml.CSafeLoader), texts, repeat
        ),
        "C compose+construct": best_ms_per_item(_compose_construct, texts, repeat),
        "pure load": best_ms_per_item(
            lambda d: yaml.load(d, Loader=yaml.SafeLoader), pure_sample, 1
        ),
    }


def tool_stage_costs(texts: list[bytes], schema_path: Path, repeat: int) -> dict[str, float]:
    """The tool's own per-file steps, for comparison with the libraries above.

    Uses tenant_migrator's internal functions, which may change shape while the tool
    is being built: a stage that cannot be called is reported as missing, not fatal.
    """
    import tempfile

    out: dict[str, float] = {}
    try:
        from tenant_migrator import discovery, loader, pipeline, secretrefs, validation

        compiled = validation.compiled_schema(schema_path)
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for i, text in enumerate(texts):
                tid = generate.tenant_id(0, i)
                path = Path(tmp) / "clients" / tid / "client.yaml"
                path.parent.mkdir(parents=True)
                path.write_bytes(text)
                files.append((tid, path, text))
            docs = [(tid, path, loader.load_bytes(text, path)) for tid, path, text in files]
            out["load (tenant_migrator.loader)"] = best_ms_per_item(
                lambda f: loader.load_bytes(f[2], f[1]), files, repeat
            )
            out["validate (tenant_migrator.validation)"] = best_ms_per_item(
                lambda d: validation.validate(d[2], compiled), docs, repeat
            )
            out["secrets (tenant_migrator.secretrefs.extract)"] = best_ms_per_item(
                lambda d: secretrefs.extract(
                    d[2].data, d[0], compiled.secret_rules, path=d[1], locate=d[2].locate
                ),
                docs,
                repeat,
            )
            client_files = [
                discovery.ClientFile(tenant_id=tid, path=path) for tid, path, _ in files
            ]
            out["whole file (pipeline.process_client_file)"] = best_ms_per_item(
                lambda f: pipeline.process_client_file(f, schema_path), client_files, repeat
            )
    except Exception as err:  # the tool is being built; report what could be measured
        out["(not measured)"] = float("nan")
        print(f"(tool stages: {type(err).__name__}: {err})")
    return out


# --- validators --------------------------------------------------------------------------


class Check:
    """One validator under test: ``valid(doc)``, build time, whether it checks formats."""

    def __init__(self, valid: Callable[[Any], bool], build_ms: float, formats: bool) -> None:
        self.valid = valid
        self.build_ms = build_ms
        self.formats = formats


def _timed_build(build: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    built = build()
    return built, (time.perf_counter() - start) * 1000


def validators(schema: dict[str, Any], schema_path: Path) -> dict[str, Check]:
    """Every validator available here, by name. Missing optional libraries are left out."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    out: dict[str, Check] = {}

    plain, ms = _timed_build(lambda: cls(schema))
    out["jsonschema is_valid"] = Check(plain.is_valid, ms, formats=False)

    def naive(doc: Any) -> bool:
        try:
            jsonschema.validate(doc, schema)
        except jsonschema.ValidationError:
            return False
        return True

    out["jsonschema.validate()"] = Check(naive, 0.0, formats=False)

    def checker() -> Any:
        fc = jsonschema.FormatChecker(formats=())
        for name, fn in FORMATS.items():
            fc.checks(name)(fn)
        return fc

    formatted, ms = _timed_build(lambda: cls(schema, format_checker=checker()))
    out["jsonschema+formats is_valid"] = Check(formatted.is_valid, ms, formats=True)
    out["jsonschema+formats iter_errors"] = Check(
        lambda d: not any(True for _ in formatted.iter_errors(d)), 0.0, formats=True
    )

    try:  # the tool's own validator, exactly as `validate` and `import` build it
        from tenant_migrator.validation import compiled_schema

        def tool_validator() -> Any:
            validator = compiled_schema(schema_path).validator
            validator.is_valid({})  # built on first use (validation.JsonschemaOnFirstUse)
            return validator

        tool, ms = _timed_build(tool_validator)
        out["tenant_migrator"] = Check(lambda d: not list(tool.iter_errors(d)), ms, formats=True)
    except Exception as err:  # the tool is being built; measure the rest anyway
        print(f"(tenant_migrator validator not measured: {type(err).__name__}: {err})")

    try:
        import jsonschema_rs
    except ImportError:
        pass
    else:
        rs, ms = _timed_build(
            lambda: jsonschema_rs.validator_for(schema, formats=FORMATS, validate_formats=True)
        )
        out["jsonschema-rs"] = Check(rs.is_valid, ms, formats=True)

    try:
        import fastjsonschema
    except ImportError:
        pass
    else:
        # use_default=False: otherwise it writes "default" values into the document.
        compiled, ms = _timed_build(
            lambda: fastjsonschema.compile(schema, formats=FORMATS, use_default=False)
        )

        def fast(doc: Any) -> bool:
            try:
                compiled(doc)
            except fastjsonschema.JsonSchemaException:
                return False
            return True

        out["fastjsonschema"] = Check(fast, ms, formats=True)
    return out


# Mutations that make a document invalid under the team's schema.
_MUTATIONS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("client.name removed", lambda d: d["client"].pop("name")),
    ("smtp port is a string", lambda d: d["email"]["smtp"].__setitem__("port", "four-six-five")),
    ("smtp port out of range", lambda d: d["email"]["smtp"].__setitem__("port", 70000)),
    ("destination enabled is a string", lambda d: d["destinations"][0].__setitem__("enabled", "y")),
    ("destination code lower-case", lambda d: d["destinations"][0].__setitem__("code", "zz top")),
    ("consultant without email", lambda d: d["consultants"][0].pop("email")),
    ("infrastructure is a list", lambda d: d.__setitem__("infrastructure", [])),
    ("email removed", lambda d: d.pop("email")),
    ("colour not #rrggbb", lambda d: d["branding"].__setitem__("primary_color", "red")),
    ("timezone not IANA", lambda d: d["client"].__setitem__("timezone", "Mars/Olympus_Mons")),
    ("currency not ISO 4217", lambda d: d["client"].__setitem__("currency", "RANDS")),
    ("primary email malformed", lambda d: d["email"].__setitem__("primary", "sales at example")),
    ("swift code malformed", lambda d: d["banking"].__setitem__("swift_code", "12")),
)


def agreement(docs: list[dict[str, Any]], checks: dict[str, Check], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    cases: list[tuple[str, Any]] = [("generated", d) for d in docs]
    for i, doc in enumerate(docs[: max(len(docs) // 4, len(_MUTATIONS))]):
        label, mutate = _MUTATIONS[i] if i < len(_MUTATIONS) else rng.choice(_MUTATIONS)
        broken = copy.deepcopy(doc)
        mutate(broken)
        cases.append((label, broken))
    invalid = dict.fromkeys(checks, 0)
    disagreements: dict[str, dict[str, Any]] = {}
    compared = [name for name, c in checks.items() if c.formats]
    for label, doc in cases:
        verdicts = {name: check.valid(doc) for name, check in checks.items()}
        for name, ok in verdicts.items():
            invalid[name] += not ok
        if len({verdicts[n] for n in compared}) > 1:
            entry = disagreements.setdefault(label, {"count": 0})
            entry["count"] += 1
            entry["valid_for"] = sorted(n for n in compared if verdicts[n])
    return {
        "cases": len(cases),
        "mutated": len(cases) - len(docs),
        "compared": compared,
        "invalid_verdicts": invalid,
        "disagreements": disagreements,
    }


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--schema", type=Path, default=REPO / "config" / "schema.json")
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    schema_path = args.schema if args.schema.exists() else REFERENCE_SCHEMA
    schema = json.loads(schema_path.read_text(encoding="utf-8"))

    texts = [generate.tenant_text(args.seed, i).encode() for i in range(args.count)]
    docs = [yaml.load(t, Loader=yaml.CSafeLoader) for t in texts]
    loaders = loader_costs(texts, args.repeat)
    stages = tool_stage_costs(texts, schema_path, args.repeat)

    checks = validators(schema, schema_path)
    naive_sample = docs[: min(len(docs), 200)]  # ~10 ms each
    timed = {}
    for name, check in checks.items():
        slow = name == "jsonschema.validate()"
        items = naive_sample if slow else docs
        timed[name] = {
            "ms_per_doc": best_ms_per_item(check.valid, items, 1 if slow else args.repeat),
            "build_ms": round(check.build_ms, 2),
            "formats": check.formats,
        }
    agree = agreement(docs, checks, args.seed)

    result = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "count": args.count,
        "seed": args.seed,
        "schema": str(schema_path),
        "bytes_mean": round(sum(map(len, texts)) / len(texts)),
        "versions": {
            "python": sys.version.split()[0],
            "pyyaml": yaml.__version__,
            "libyaml": bool(yaml.__with_libyaml__),
            **{d: _version(d) for d in ("jsonschema", "jsonschema-rs", "fastjsonschema")},
        },
        "loaders_ms_per_doc": loaders,
        "tool_stages_ms_per_doc": stages,
        "validators": timed,
        "agreement": agree,
    }
    _print(result)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.output_dir / f"validators-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out}")
    return 0


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=120)
    console.print(
        f"{result['count']} documents, {result['bytes_mean']} bytes on average, "
        f"schema {result['schema']}"
    )
    loaders = Table(title="YAML loaders", title_justify="left")
    loaders.add_column("loader")
    loaders.add_column("ms / doc", justify="right")
    for name, ms in result["loaders_ms_per_doc"].items():
        loaders.add_row(name, f"{ms:.3f}")
    console.print(loaders)
    stages = Table(title="the tool's per-file steps", title_justify="left")
    stages.add_column("step")
    stages.add_column("ms / doc", justify="right")
    for name, ms in result["tool_stages_ms_per_doc"].items():
        stages.add_row(name, f"{ms:.3f}")
    console.print(stages)
    table = Table(title="JSON Schema validators (valid documents)", title_justify="left")
    for col in ("validator", "ms / doc", "build ms", "formats", "invalid verdicts"):
        table.add_column(col, justify="left" if col == "validator" else "right")
    agree = result["agreement"]
    for name, v in result["validators"].items():
        table.add_row(
            name,
            f"{v['ms_per_doc']:.4f}",
            f"{v['build_ms']:.1f}",
            "yes" if v["formats"] else "no",
            f"{agree['invalid_verdicts'].get(name, '?')} / {agree['cases']}",
        )
    console.print(table)
    console.print(
        f"verdicts of the format-aware validators compared on {agree['cases']} documents "
        f"({agree['mutated']} mutated to be invalid)"
    )
    if agree["disagreements"]:
        console.print("disagreements (case: count, validators that said valid):", style="yellow")
        for label, d in agree["disagreements"].items():
            console.print(f"  {label}: {d['count']}, valid for {', '.join(d['valid_for'])}")
    else:
        console.print("the format-aware validators agree on every document", style="green")


if __name__ == "__main__":
    sys.exit(main())

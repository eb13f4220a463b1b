"""Realistic, deterministic client.yaml files for the benchmark.

Every tenant is a pure function of ``(seed, index)``: the N = 1,000 set is a prefix
of the N = 10,000 set, a rerun with the same seed writes byte-identical files, and
a changed file can be reproduced without reading the old one.

The files follow the platform's format (../shared/reference/platform-lite/client.yaml
and the template it came from): client, branding, destinations, infrastructure,
email, banking, outbound, quotes, consultants, agents, knowledge_base; 2–4 KB each;
about one tenant in ten carries obviously fake literal secrets (``SG.fake…``,
``sk-fake…``) where the platform's engineers used to paste real ones.

Two shapes (``--shape``): ``standard`` (3–8 destinations, 2–6 consultants) and
``wide``, more consultants per tenant and longer destination lists (12–24
destinations, 10–20 consultants; 4.3–6.5 KB), the shape on which import measured
further from the floor (issue 14). Each is deterministic on its own.

Usage as a script (handy for profiling the tool by hand):

    python benchmarks/generate.py --count 1000 --out /tmp/bench-project [--shape wide]
"""

from __future__ import annotations

import argparse
import copy
import random
import shutil
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's emitter writes the same text about ten times faster
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]

SECRET_RATE = 0.1
MIN_BYTES = 2048
MAX_BYTES = 4096
# (destinations, consultants) per tenant, inclusive ranges, by shape.
SHAPES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "standard": ((3, 8), (2, 6)),
    "wide": ((12, 24), (10, 20)),
}

# (IANA zone, ISO 4217 code, phone prefix, banks with their SWIFT prefixes, domain suffix)
_REGIONS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], str], ...] = (
    (
        "Africa/Johannesburg",
        "ZAR",
        "+27 21",
        (("Standard Bank", "SBZA"), ("FNB", "FIRN"), ("Absa", "ABSA"), ("Nedbank", "NEDS")),
        "co.za",
    ),
    ("Africa/Nairobi", "KES", "+254 20", (("KCB", "KCBL"), ("Equity Bank", "EQBL")), "co.ke"),
    ("Africa/Dar_es_Salaam", "TZS", "+255 22", (("CRDB Bank", "CORU"), ("NMB", "NMIB")), "co.tz"),
    ("Indian/Mauritius", "MUR", "+230 5", (("MCB", "MCBL"), ("SBM Bank", "STCB")), "mu"),
    ("Africa/Windhoek", "NAD", "+264 61", (("Bank Windhoek", "BWLI"),), "com.na"),
    ("Africa/Gaborone", "BWP", "+267 39", (("First National Bank Botswana", "FIRN"),), "co.bw"),
    ("Europe/London", "GBP", "+44 20", (("Barclays", "BARC"), ("HSBC UK", "HBUK")), "co.uk"),
    ("Europe/Berlin", "EUR", "+49 30", (("Deutsche Bank", "DEUT"), ("Commerzbank", "COBA")), "de"),
    ("America/New_York", "USD", "+1 212", (("Chase", "CHAS"), ("Citibank", "CITI")), "com"),
    ("Australia/Sydney", "AUD", "+61 2", (("Westpac", "WPAC"), ("ANZ", "ANZB")), "com.au"),
    ("Asia/Dubai", "AED", "+971 4", (("Emirates NBD", "EBIL"),), "ae"),
)
_SWIFT_COUNTRY = {
    "ZAR": "ZA",
    "KES": "KE",
    "TZS": "TZ",
    "MUR": "MU",
    "NAD": "NA",
    "BWP": "BW",
    "GBP": "GB",
    "EUR": "DE",
    "USD": "US",
    "AUD": "AU",
    "AED": "AE",
}

# (name, code, aliases)
_DESTINATIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Zanzibar", "ZNZ", ("Unguja", "Stone Town")),
    ("Mauritius", "MRU", ("Ile Maurice",)),
    ("Cape Town", "CPT", ("Mother City", "Kaapstad")),
    ("Kruger National Park", "KRUGER", ("Kruger", "Kruger Park")),
    ("Victoria Falls", "VFA", ("Mosi-oa-Tunya",)),
    ("Seychelles", "SEZ", ("Mahe", "Praslin", "La Digue")),
    ("Maldives", "MALD", ("Male",)),
    ("Bali", "BALI", ("Denpasar", "Ubud")),
    ("Serengeti", "SERENGETI", ("Serengeti National Park",)),
    ("Okavango Delta", "OKAVANGO", ("Maun",)),
    ("Masai Mara", "MARA", ("Maasai Mara",)),
    ("Sossusvlei", "SOSSUSVLEI", ("Namib Desert",)),
    ("Garden Route", "GARDEN_ROUTE", ("Knysna", "Plettenberg Bay")),
    ("Madagascar", "TNR", ("Nosy Be",)),
    ("Bazaruto Archipelago", "BAZARUTO", ("Vilanculos",)),
    ("Marrakech", "RAK", ("Marrakesh",)),
    ("Dubai", "DXB", ()),
    ("Thailand", "THAI", ("Phuket", "Krabi")),
    ("Santorini", "JTR", ("Thira",)),
    ("Drakensberg", "DRAKENSBERG", ("uKhahlamba",)),
    ("Etosha", "ETOSHA", ("Etosha Pan",)),
    ("Kilimanjaro", "JRO", ("Moshi",)),
    ("Durban", "DUR", ("eThekwini",)),
    ("Lamu", "LAU", ("Lamu Island",)),
    ("Diani Beach", "DIANI", ()),
    ("Volcanoes National Park", "KGL", ("Rwanda gorillas",)),
    ("Chobe", "CHOBE", ("Kasane",)),
    ("Hermanus", "HERMANUS", ("Whale Coast",)),
)

_FIRST = (
    "safari", "beach", "island", "savanna", "coastal", "horizon", "baobab", "lion",
    "ocean", "desert", "sunset", "acacia", "kilima", "zambezi", "cape", "bush",
    "reef", "atlas", "tusker", "marula",
)  # fmt: skip
_SECOND = (
    "explore", "resorts", "travel", "journeys", "escapes", "voyages", "tours",
    "getaways", "adventures", "trails", "expeditions", "holidays", "run", "stay",
)  # fmt: skip
_GIVEN = (
    "Thandi", "Sipho", "Lerato", "Johan", "Amina", "Grace", "Peter", "Nomsa", "David",
    "Fatima", "Kwame", "Anna", "Musa", "Priya", "Liam", "Zanele", "Ruth", "Tariq",
)  # fmt: skip
_FAMILY = (
    "Nkosi", "van der Merwe", "Okafor", "Mwangi", "Smith", "Dlamini", "Naidoo",
    "Botha", "Achieng", "Patel", "Mokoena", "Hassan", "Jacobs", "Kariuki",
)  # fmt: skip
_GCP_REGIONS = ("africa-south1", "europe-west1", "europe-west2", "us-central1", "me-central1")
_KB_CATEGORIES = (
    "visas", "health", "packing", "payments", "cancellations", "transfers", "insurance",
    "family travel", "honeymoons", "game drives", "diving", "flights",
)  # fmt: skip
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat")
_B36 = string.digits + string.ascii_lowercase
# Coprime with 36**4 and 26**4, so index -> suffix is a bijection for < 456,976 tenants.
_SCRAMBLE = 7919


@dataclass(frozen=True, slots=True)
class Change:
    """One value changed in one tenant's file: ``json_path`` is an RFC 6901 pointer."""

    tenant_id: str
    json_path: str
    old: Any
    new: Any


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _uuid(rng: random.Random) -> str:
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _color(rng: random.Random) -> str:
    return "#" + "".join(rng.choice("0123456789ABCDEF") for _ in range(6))


def _suffix(index: int, alphabet: str, width: int = 4) -> str:
    n = (index * _SCRAMBLE) % (len(alphabet) ** width)
    out = []
    for _ in range(width):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def _rng(seed: int, index: int, salt: str = "") -> random.Random:
    # A str seed is hashed with SHA-512: stable across runs and Python processes.
    return random.Random(f"tenant-migrator-bench:{seed}:{index}:{salt}")


def _words(seed: int, index: int) -> tuple[str, str]:
    rng = _rng(seed, index, "name")
    return rng.choice(_FIRST), rng.choice(_SECOND)


def tenant_id(seed: int, index: int) -> str:
    """The directory name (and ``client.id``) of tenant ``index``: unique per seed."""
    first, second = _words(seed, index)
    return f"{first}{second}-{_suffix(index, _B36)}"


def has_literal_secrets(seed: int, index: int) -> bool:
    return _rng(seed, index, "secrets").random() < SECRET_RATE


def _shared_openai_key(seed: int) -> str:
    return "sk-fake" + _alnum(random.Random(f"tenant-migrator-bench-openai:{seed}"), 44)


def _env_prefix(tid: str) -> str:
    return tid.upper().replace("-", "_")


def tenant_document(seed: int, index: int, shape: str = "standard") -> dict[str, Any]:
    """The parsed content of tenant ``index``'s client.yaml, as ``yaml.safe_load`` sees it."""
    (fewest, most), (fewest_people, most_people) = SHAPES[shape]
    rng = _rng(seed, index)
    first, second = _words(seed, index)
    tid = tenant_id(seed, index)
    prefix = _env_prefix(tid)
    company = f"{first.title()} {second.title()}"
    short = f"{first}{second}{_suffix(index, string.ascii_lowercase)}"
    zone, currency, phone, banks, tld = rng.choice(_REGIONS)
    # Reserved .example domains: no real company's address in a benchmark file.
    domain = f"{first}{second}-{tld.rsplit('.', 1)[-1]}.example"
    secrets = has_literal_secrets(seed, index)

    destinations = [
        {
            "name": name,
            "code": code,
            "enabled": rng.random() < 0.85,
            **({"aliases": list(aliases)} if aliases else {}),
        }
        for name, code, aliases in rng.sample(_DESTINATIONS, rng.randint(fewest, most))
    ]
    consultants = []
    for n in range(1, rng.randint(fewest_people, most_people) + 1):
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        local = f"{given}.{family}".lower().replace(" ", "")
        consultants.append(
            {
                "id": f"consultant_{n}",
                "name": f"{given} {family}",
                "email": f"{local}@{domain}",
                "active": rng.random() < 0.9,
            }
        )
    bank_name, swift4 = rng.choice(banks)

    def secret(literal: str, reference: str) -> str:
        return literal if secrets else reference

    return {
        "client": {
            "id": tid,
            "name": f"{company} {rng.choice(('(Pty) Ltd', 'Group', 'Ltd', 'Co.'))}",
            "short_name": short,
            "timezone": zone,
            "currency": currency,
        },
        "branding": {
            "company_name": company,
            "logo_url": f"https://cdn.{domain}/assets/logo.png",
            "primary_color": _color(rng),
            "secondary_color": _color(rng),
            "accent_color": _color(rng),
            "theme_id": rng.choice(("safari", "ocean", "desert", "classic")),
            "email_signature": (
                f"Warm regards,\n\nThe {company} Team\n\n"
                f"Tel: {phone} {_digits(rng, 3)} {_digits(rng, 4)}\nwww.{domain}\n"
            ),
        },
        "destinations": destinations,
        "infrastructure": {
            "gcp": {
                "project_id": f"{first}-{second}-{_digits(rng, 6)}",
                "region": rng.choice(_GCP_REGIONS),
                "dataset": f"{first}{second}_{_suffix(index, _B36)}_analytics",
                "shared_pricing_dataset": "africastay_analytics",
                "corpus_id": _digits(rng, 19) if rng.random() < 0.5 else "",
            },
            "supabase": {
                "url": f"https://{_alnum(rng, 20, string.ascii_lowercase)}.supabase.co",
                "anon_key": secret(
                    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                    f"eyJmYWtlIjp0cnVlfQ.fake{_alnum(rng, 39)}",
                    f"${{{prefix}_SUPABASE_ANON_KEY}}",
                ),
                "service_key": "${SUPABASE_SERVICE_KEY}",
            },
            "vapi": {
                "api_key": secret(f"fake-vapi-{_uuid(rng)}", f"${{{prefix}_VAPI_API_KEY}}"),
                "phone_number_id": _uuid(rng),
                "assistant_id": _uuid(rng),
                "outbound_assistant_id": _uuid(rng),
            },
            "openai": {
                # One organisation key pasted into every file that has literals:
                # OPENAI_API_KEY is shared, so it can only hold one value.
                "api_key": secret(_shared_openai_key(seed), "${OPENAI_API_KEY}"),
                "model": rng.choice(("gpt-4o-mini", "gpt-4o")),
            },
        },
        "email": {
            "primary": f"sales@{domain}",
            "sendgrid": {
                "api_key": secret(
                    f"SG.fake{_alnum(rng, 18)}.{_alnum(rng, 43)}", f"${{{prefix}_SENDGRID_API_KEY}}"
                ),
                "from_email": f"quotes@{domain}",
                "from_name": f"{company} Quotes",
                "reply_to": f"sales@{domain}",
            },
            "smtp": {
                "host": f"smtp.{domain}",
                "port": rng.choice((465, 587)),
                "username": f"sales@{domain}",
                "password": secret(f"fake-Pass-{_alnum(rng, 12)}", f"${{{prefix}_SMTP_PASSWORD}}"),
            },
            "imap": {"host": f"imap.{domain}", "port": 993},
        },
        "banking": {
            "bank_name": bank_name,
            "account_name": f"{company} Trust Account",
            "account_number": _digits(rng, rng.choice((9, 10, 11))),
            "branch_code": _digits(rng, 6),
            "swift_code": f"{swift4}{_SWIFT_COUNTRY[currency]}{rng.choice(('JJ', '2X', '22'))}",
            "reference_prefix": (first[:3] + second[:2]).upper(),
        },
        "outbound": {
            "enabled": rng.random() < 0.6,
            "timing": rng.choice(("after_quote", "next_day")),
            "call_window": {"start": "09:00", "end": "17:00"},
            "call_days": list(_WEEKDAYS[: rng.randint(3, 6)]),
            "max_attempts": rng.randint(1, 4),
            "min_quote_value": float(rng.choice((5000, 10000, 15000, 25000))),
        },
        "quotes": {
            "auto_send": rng.random() < 0.5,
            "validity_days": rng.choice((7, 14, 30)),
            "follow_up_days": rng.choice((2, 3, 5)),
        },
        "consultants": consultants,
        "agents": {
            "inbound": {
                "enabled": True,
                "name": f"{rng.choice(_GIVEN)} from {company}",
                "voice_id": rng.choice(("alloy", "nova", "shimmer")),
                "prompt_file": "prompts/inbound.txt",
            },
            "helpdesk": {"enabled": True, "prompt_file": "prompts/helpdesk.txt"},
            "outbound": {
                "enabled": rng.random() < 0.6,
                "name": f"{rng.choice(_GIVEN)} from {company}",
                "voice_id": rng.choice(("alloy", "nova", "shimmer")),
                "prompt_file": "prompts/outbound.txt",
            },
        },
        "knowledge_base": {"categories": rng.sample(_KB_CATEGORIES, rng.randint(3, 8))},
    }


def dump(document: dict[str, Any]) -> str:
    """The file text: block style, in the template's section order, like the platform's files."""
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def tenant_text(seed: int, index: int, shape: str = "standard") -> str:
    return dump(tenant_document(seed, index, shape))


def write_tenant(clients_dir: Path, tid: str, text: str) -> Path:
    path = clients_dir / tid / "client.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def generate(project_dir: Path, count: int, seed: int = 0, shape: str = "standard") -> list[str]:
    """Write ``count`` tenants under ``project_dir/clients``; returns their ids in index order."""
    clients = project_dir / "clients"
    clients.mkdir(parents=True, exist_ok=True)
    ids = []
    for index in range(count):
        tid = tenant_id(seed, index)
        write_tenant(clients, tid, tenant_text(seed, index, shape))
        ids.append(tid)
    return ids


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{path}/{i}")
    else:
        yield path, node


def _set(document: dict[str, Any], pointer: str, value: Any) -> None:
    parts = pointer.strip("/").split("/")
    node: Any = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _changed_value(old: Any, rng: random.Random) -> Any:
    if isinstance(old, bool):
        return not old
    if isinstance(old, int | float):
        return old + rng.randint(1, 9)
    if isinstance(old, str) and old.startswith("#") and len(old) == 7:
        new = _color(rng)
        return new if new != old else "#000000" if old != "#000000" else "#FFFFFF"
    return f"{old} (updated)"


# Values an admin would plausibly edit, none of them a secret or an id:
# the plan must show exactly one path per changed tenant.
_CHANGEABLE = (
    "/client/name",
    "/branding/primary_color",
    "/branding/secondary_color",
    "/branding/company_name",
    "/destinations/0/enabled",
    "/destinations/1/name",
    "/quotes/validity_days",
    "/quotes/auto_send",
    "/outbound/max_attempts",
    "/consultants/0/active",
    "/consultants/1/name",
    "/banking/account_name",
    "/agents/outbound/enabled",
)


def changed_document(
    seed: int, index: int, generation: int = 1, shape: str = "standard"
) -> tuple[dict[str, Any], Change]:
    """Tenant ``index``'s document with exactly one value changed (which one: deterministic)."""
    document = tenant_document(seed, index, shape)
    rng = _rng(seed, index, f"change:{generation}")
    pointer = rng.choice(_CHANGEABLE)
    old = dict(_leaves(document))[pointer]
    new = _changed_value(old, rng)
    changed = copy.deepcopy(document)
    _set(changed, pointer, new)
    return changed, Change(tenant_id(seed, index), pointer, old, new)


def change_indices(count: int, fraction: float, seed: int) -> list[int]:
    k = max(1, round(count * fraction))
    rng = random.Random(f"tenant-migrator-bench-change:{seed}:{count}")
    return sorted(rng.sample(range(count), k))


def change_files(
    project_dir: Path,
    count: int,
    fraction: float = 0.01,
    seed: int = 0,
    generation: int = 1,
    shape: str = "standard",
) -> list[Change]:
    """Rewrite ``fraction`` of the ``count`` generated files, one value each, deterministically."""
    changes = []
    for index in change_indices(count, fraction, seed):
        document, change = changed_document(seed, index, generation, shape)
        write_tenant(project_dir / "clients", change.tenant_id, dump(document))
        changes.append(change)
    return changes


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="standard")
    parser.add_argument("--out", type=Path, required=True, help="project directory to write")
    parser.add_argument("--schema", type=Path, help="also copy this schema to config/schema.json")
    args = parser.parse_args(argv)
    generate(args.out, args.count, args.seed, args.shape)
    if args.schema:
        (args.out / "config").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.schema, args.out / "config" / "schema.json")
    print(f"wrote {args.count} tenants under {args.out / 'clients'}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

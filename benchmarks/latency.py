"""``run.py --rtt-ms MS``: every step timed direct and through ``latency_proxy``
(MS/2 added each way), in one run, on two fresh databases that go through the
same steps.

For each step: direct wall, remote wall, round trips added = (remote − direct)
/ RTT (what latency cost in time, overlaps included), and the round trips the
proxy counted by protocol in the remote run (independent of timing; the figure
``tests/test_round_trips.py`` holds). Steps, each a whole process:

    migrate           first migrate (setup)
    plan_empty        `plan` on the empty table
    import_full       `import` of all N, from empty
    plan_nothing      `plan` with nothing to do
    import_nothing    `import` with nothing to do
    migrate_nothing   `migrate` with nothing to do
    sync_one          `sync TENANT` after one file changed
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import generate
import latency_proxy
import measure

LATENCY_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("migrate", ("migrate",)),
    ("plan_empty", ("plan", "--format", "json")),
    ("import_full", ("import",)),
    ("plan_nothing", ("plan", "--format", "json")),
    ("import_nothing", ("import",)),
    ("migrate_nothing", ("migrate",)),
    ("sync_one", ("sync",)),
)

# Issue 14's targets: round trips added by latency, connection included.
TARGETS: dict[str, tuple[int, str]] = {
    "import_full": (30, "≤ 30 at 2,000, ≤ 40 at 10,000"),
    "plan_nothing": (10, "≤ 10"),
    "sync_one": (8, "≤ 8"),
    "import_nothing": (8, "≤ 8"),
    "migrate_nothing": (8, "≤ 8"),
}


def target_for(step: str, n: int) -> int | None:
    if step == "import_full":
        return 40 if n > 2_000 else 30
    return TARGETS.get(step, (None, ""))[0]


@dataclass
class LatencyRun:
    n: int
    seed: int
    project: Path
    direct_url: str
    remote_url: str  # the upstream of the proxy (same server, another database)
    rtt_ms: float
    timeout: float
    tool_argv: Any  # run.tool_argv
    env: dict[str, str]
    log: Any
    shape: str = "standard"

    def run(self) -> dict[str, Any]:
        steps: dict[str, Any] = {}
        upstream = latency_proxy.upstream_of(self.remote_url)
        with latency_proxy.ProxyThread(upstream, self.rtt_ms / 2) as proxy:
            via_proxy = proxy.url(self.remote_url)
            for name, args in LATENCY_STEPS:
                if name == "sync_one":
                    document, change = generate.changed_document(
                        self.seed, 0, generation=3, shape=self.shape
                    )
                    generate.write_tenant(
                        self.project / "clients", change.tenant_id, generate.dump(document)
                    )
                    args = (*args, change.tenant_id)
                direct = self._time(name, "direct", self.direct_url, args)
                proxy.take()
                remote = self._time(name, f"{self.rtt_ms:g} ms", via_proxy, args)
                trips = proxy.take()
                added = (remote["wall_s"] - direct["wall_s"]) / (self.rtt_ms / 1000)
                steps[name] = {
                    "direct": direct,
                    "remote": remote,
                    "added": round(added, 1),
                    "protocol": len(trips),
                    "shapes": dict(Counter("".join(t.sent) for t in trips)),
                    "trace": [t.describe() for t in trips],
                    "target": target_for(name, self.n),
                }
        return steps

    def _time(self, name: str, where: str, url: str, args: tuple[str, ...]) -> dict[str, Any]:
        out = self.project / ".bench-out" / f"{name}.out"
        out.parent.mkdir(exist_ok=True)
        m = measure.run(
            self.tool_argv(self.project, url, *args),
            env=self.env,
            cwd=self.project,
            stdout_path=out,
            timeout=self.timeout,
            sample_interval=None,
        )
        self.log(f"  [n={self.n}] {name} ({where}): {m.status} in {m.wall_s:.3f} s")
        return {"wall_s": round(m.wall_s, 3), "status": m.status}


def print_table(n: int, steps: dict[str, Any], rtt_ms: float) -> None:
    print(f"\nN = {n:,}, {rtt_ms:g} ms round trip")
    print("| step | direct s | remote s | round trips added | protocol-counted | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for name, s in steps.items():
        target = s["target"]
        met = "" if target is None else ("yes" if s["protocol"] <= target else "**no**")
        ok = s["direct"]["status"] == "ok" and s["remote"]["status"] == "ok"
        status = "" if ok else f" ({s['direct']['status']}/{s['remote']['status']})"
        print(
            f"| {name}{status} | {s['direct']['wall_s']:.2f} | {s['remote']['wall_s']:.2f} "
            f"| {s['added']:.0f} | {s['protocol']} | "
            f"{'' if target is None else f'≤ {target}'} | {met} |"
        )

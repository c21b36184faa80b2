"""Traffic simulator with fault injection.

Produces router events and cohort assignments in contract form (shared/contracts) for a
device population, deterministic for a seed: the demo, the ingest benchmark and the
diagnosis tests need data whose faults are known, crisp and reproducible. The named
scenarios built on it are in `bot.sandbox.scenarios`.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import math
import random
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import orjson

Record = dict[str, Any]
EDGE, CLOUD = "edge", "cloud"

QUANTIZATION: dict[str, str] = {
    "router-3.1-fp16": "fp16",
    "router-3.1-int8": "int8",
    "router-3.2-int8": "int8",
    "router-3.3-int8": "int8",
    "assistant-large-2026-10": "bf16",
    "assistant-large-2026-11": "bf16",
}
ANDROID = {
    "device_class": {"flagship-12gb": 25, "midrange-8gb": 40, "lowram-4gb": 20, "tablet-8gb": 15},
    "os_version": {"android-14": 55, "android-15": 45},
}
IOS = {
    "device_class": {"iphone-pro": 45, "iphone-base": 55},
    "os_version": {"ios-18.1": 60, "ios-19.0": 40},
}
APP_VERSIONS = {"5.2.0": 35, "5.3.0": 65}
RARE_APP_VERSION = "5.1.7"  # on ~0.2% of devices: a slice too small to matter

# Normal behaviour. Per-class edge speed and failure rate differ slightly and permanently
# ("lowram-4gb is always a bit worse"), so a diagnosis must compare a slice to its own past.
EDGE_SPEED = {"flagship-12gb": 0.8, "lowram-4gb": 1.35, "tablet-8gb": 1.05, "iphone-pro": 0.75}
EDGE_FAIL = {"lowram-4gb": 0.004}
EDGE_FAIL_DEFAULT, CLOUD_FAIL = 0.002, 0.001
TIMEOUT_SHARE = 0.1  # of baseline failures, the rest are errors
EDGE_DEADLINE_MS, CLOUD_DEADLINE_MS = 1500.0, 10000.0
EDGE_CODES = ("LOW_CONFIDENCE", "LOW_CONFIDENCE", "LOW_CONFIDENCE", "TOKENIZER_ERROR")
CLOUD_CODES = ("HTTP_500", "HTTP_500", "HTTP_429", "HTTP_502")
CLOUD_SPEED = {"ap-southeast-1": 1.1}
MATCH_KEYS = frozenset(
    {"tier", "model_id", "cohort", "region", "device_class", "os_version", "app_version"}
)
_TABLE = 4096  # latency quantiles per table: a lookup is much cheaper than lognormvariate


@dataclass(frozen=True)
class Device:
    """One phone or tablet; its attributes are the slices a diagnosis can blame."""

    device_id: str
    cohort: str
    device_class: str
    os_version: str
    app_version: str
    region: str


@dataclass(frozen=True)
class Cohort:
    """A release cohort: where its text may go, how the router splits it, what it runs at first."""

    name: str
    platform: str
    weight: float
    residency: str | None
    edge_share: float
    cloud_regions: tuple[str, ...]
    edge_build: str
    cloud_build: str
    config_hash: str


DEFAULT_COHORTS = (
    Cohort("eu-android-stable", "android", 22, "eu", 0.7, ("eu-west-1", "eu-central-1"),
           "router-3.1-fp16", "assistant-large-2026-10", "cfg-7a1c"),
    Cohort("eu-android-beta", "android", 6, "eu", 0.7, ("eu-west-1", "eu-central-1"),
           "router-3.1-int8", "assistant-large-2026-10", "cfg-7a1c"),
    Cohort("us-android-stable", "android", 26, None, 0.7, ("us-east-1", "us-west-2"),
           "router-3.1-fp16", "assistant-large-2026-10", "cfg-7a1c"),
    Cohort("us-ios-stable", "ios", 20, None, 0.6, ("us-east-1", "us-west-2"),
           "router-3.1-fp16", "assistant-large-2026-10", "cfg-7a1c"),
    Cohort("apac-android-stable", "android", 20, None, 0.75, ("ap-southeast-1",),
           "router-3.1-int8", "assistant-large-2026-10", "cfg-7a1c"),
    Cohort("us-android-canary", "android", 6, None, 0.7, ("us-east-1", "us-west-2"),
           "router-3.2-int8", "assistant-large-2026-10", "cfg-c93e"),
)  # fmt: skip


def _pick(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


@dataclass
class Population:
    """Cohorts and devices; `activity` weights how many turns each device makes."""

    cohorts: dict[str, Cohort]
    devices: list[Device]
    activity: list[int]

    @classmethod
    def default(cls, seed: int, devices: int = 5000) -> Population:
        """A skewed population in which every cohort x class x OS x app version exists."""
        rng = random.Random(f"population-{seed}")
        cohorts = {c.name: c for c in DEFAULT_COHORTS}
        specs: list[tuple[Cohort, str, str, str]] = []
        for c in DEFAULT_COHORTS:  # one of every combination first
            dims = ANDROID if c.platform == "android" else IOS
            specs += [
                (c, dc, ov, av)
                for dc in dims["device_class"]
                for ov in dims["os_version"]
                for av in APP_VERSIONS
            ]
        weights = [c.weight for c in DEFAULT_COHORTS]
        while len(specs) < devices:
            c = rng.choices(DEFAULT_COHORTS, weights=weights)[0]
            dims = ANDROID if c.platform == "android" else IOS
            dc, ov = _pick(rng, dims["device_class"]), _pick(rng, dims["os_version"])
            specs.append((c, dc, ov, _pick(rng, APP_VERSIONS)))
        specs = specs[:devices]
        rare = set(rng.sample(range(len(specs)), min(len(specs), max(2, devices // 500))))
        out = []
        for i, (c, dc, ov, av) in enumerate(specs):
            region = c.cloud_regions[0] if rng.random() < 0.6 else c.cloud_regions[-1]
            app = RARE_APP_VERSION if i in rare else av
            out.append(Device(f"dev-{seed:x}-{i:05d}", c.name, dc, ov, app, region))
        activity = [rng.choice((1, 1, 1, 2, 2, 4)) for _ in out]
        return cls(cohorts, out, activity)


@dataclass
class Rollout:
    """A new assignment: from `at`, `rollout_percent` of the cohort's devices run `model_id`.

    Which devices switch is fixed by a hash of the device id, so raising the percent later
    keeps the devices that already switched. config_hash/residency None: carried over.
    """

    at: datetime
    cohort: str
    tier: str
    model_id: str
    quantization: str | None = None  # None: from the known builds
    config_hash: str | None = None
    residency: str | None = None
    rollout_percent: float = 100.0


@dataclass
class Fault:
    """Something going wrong for matching traffic during [start, end).

    `match` is on event/device dimensions; model_id matches wherever that build runs, so a
    fault tied to a build bites only after its rollout.
    """

    start: datetime
    end: datetime | None = None
    match: dict[str, str] = field(default_factory=dict)
    error_rate: float = 0.0
    error_code: str = "INJECTED_FAULT"
    timeout_rate: float = 0.0
    latency_factor: float = 1.0
    latency_add_ms: float = 0.0
    edge_share: float | None = None  # router override for matched devices (tier ignored)
    serve_region: str | None = None  # cloud attempts served here: residency breach, failover
    fallback: bool = True  # False: a failed edge attempt is not retried on cloud
    crash_fingerprint: str | None = None
    config_hash: str | None = None  # matched devices report this hash: stale config

    def __post_init__(self) -> None:
        unknown = set(self.match) - MATCH_KEYS
        if unknown:
            raise ValueError(f"unknown fault match keys: {sorted(unknown)}")
        if not 0 <= self.error_rate + self.timeout_rate <= 1:
            raise ValueError("error_rate + timeout_rate must be within [0, 1]")


@dataclass(frozen=True)
class Expected:
    """What a correct diagnosis of a scenario's window says (see which-tier-report)."""

    failing: frozenset[str] = frozenset()
    top_suspect: dict[str, str] | None = None
    top_suspect_tier: str | None = None
    changes: frozenset[tuple[str, str]] = frozenset()  # (cohort, model_id)
    suspects: dict[str, dict[str, str]] = field(default_factory=dict)  # tier -> its top slice


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _ms(dt: datetime) -> int:
    return int(_utc(dt).timestamp() * 1000)


def format_ts(ms: int) -> str:
    """RFC 3339 UTC with milliseconds and a Z, as the contracts want."""
    return _minute_prefix(ms // 60000) + _suffixes()[ms % 60000]


def _minute_prefix(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")


_SUFFIXES: list[str] = []


def _suffixes() -> list[str]:
    """Seconds, milliseconds and Z for every ms of a minute: a timestamp is one concatenation."""
    if not _SUFFIXES:
        _SUFFIXES.extend(f"{i // 1000:02d}.{i % 1000:03d}Z" for i in range(60000))
    return _SUFFIXES


def _latency_table(median: float, sigma: float, factor: float = 1.0) -> list[float]:
    inv = NormalDist().inv_cdf
    return [
        round(median * factor * math.exp(sigma * inv((i + 0.5) / _TABLE)), 1) for i in range(_TABLE)
    ]


def fingerprint(signature: str) -> str:
    """A stable crash fingerprint for a failure signature (e.g. its top frames)."""
    return hashlib.sha1(signature.encode()).hexdigest()[:16]


# A fault compiled against one population: (fault, start_ms, end_ms, device mask, tier, model)
_Live = tuple[Fault, int, float, list[bool] | None, str | None, str | None]


class Simulator:
    """Turns at a Poisson rate over [start, end), routed, failed and retried as the router would."""

    def __init__(
        self,
        population: Population,
        *,
        seed: int,
        start: datetime,
        end: datetime,
        rate_per_minute: float | Callable[[datetime], float],
        faults: Sequence[Fault] = (),
        rollouts: Sequence[Rollout] = (),
    ) -> None:
        self.population = population
        self.seed = seed
        self.start, self.end = _utc(start), _utc(end)
        self.rate_per_minute = rate_per_minute
        self.faults = tuple(faults)
        self.rollouts = tuple(sorted(rollouts, key=lambda r: _utc(r.at)))
        for r in self.rollouts:
            if r.cohort not in population.cohorts or r.tier not in (EDGE, CLOUD):
                raise ValueError(f"rollout to unknown cohort or tier: {r.cohort}/{r.tier}")
        self.expected = Expected()

    def assignments(self) -> list[Record]:
        """Every cohort x tier's initial assignment (a week before start), then the rollouts."""
        at = format_ts(_ms(self.start - timedelta(days=7)))
        out: list[Record] = []
        for c in self.population.cohorts.values():
            for tier, build in ((EDGE, c.edge_build), (CLOUD, c.cloud_build)):
                out.append(
                    {"cohort": c.name, "tier": tier, "model_id": build, "effective_at": at,
                     "quantization": QUANTIZATION.get(build), "rollout_percent": 100,
                     "residency": c.residency, "config_hash": c.config_hash}
                )  # fmt: skip
        for r in self.rollouts:
            rec: Record = {
                "cohort": r.cohort, "tier": r.tier, "model_id": r.model_id,
                "effective_at": format_ts(_ms(r.at)),
                "quantization": r.quantization or QUANTIZATION.get(r.model_id),
                "rollout_percent": r.rollout_percent,
            }  # fmt: skip
            if r.residency is not None:
                rec["residency"] = r.residency
            if r.config_hash is not None:
                rec["config_hash"] = r.config_hash
            out.append(rec)
        return sorted(out, key=lambda a: str(a["effective_at"]))

    def event_lines(self) -> Iterator[str]:
        """One compact JSON line per event (no newline), for fast file writing."""
        dumps = orjson.dumps
        for ev in self.events():
            yield dumps(ev).decode()

    def events(self) -> Iterator[Record]:
        """Router events in time order: one per tier attempt, fallbacks as attempt 1 on cloud."""
        pop, seed = self.population, self.seed
        devs = pop.devices
        cohorts = [pop.cohorts[d.cohort] for d in devs]
        share = [c.edge_share for c in cohorts]
        edge_model = [c.edge_build for c in cohorts]
        cloud_model = [c.cloud_build for c in cohorts]
        edge_cfg = [c.config_hash for c in cohorts]
        cloud_cfg = list(edge_cfg)
        edge_base = _latency_table(40.0, 0.65)
        edge_tabs = {k: _latency_table(40.0, 0.65, EDGE_SPEED.get(k, 1.0)) for k in
                     {d.device_class for d in devs}}  # fmt: skip
        cloud_tabs = {k: _latency_table(700.0, 0.45, CLOUD_SPEED.get(k, 1.0)) for k in
                      {d.region for d in devs}}  # fmt: skip
        edge_tab = [edge_tabs.get(d.device_class, edge_base) for d in devs]
        cloud_tab = [cloud_tabs[d.region] for d in devs]
        edge_fail = [EDGE_FAIL.get(d.device_class, EDGE_FAIL_DEFAULT) for d in devs]
        by_cohort: dict[str, list[int]] = {}
        for i, dev in enumerate(devs):
            by_cohort.setdefault(dev.cohort, []).append(i)
        bucket = [zlib.crc32(d.device_id.encode()) % 10000 / 100.0 for d in devs]
        pick = [i for i, w in enumerate(pop.activity) for _ in range(w)]
        n_pick = len(pick)

        start_ms, end_ms = _ms(self.start), _ms(self.end)
        live: list[_Live] = []
        for f in self.faults:
            static = {k: v for k, v in f.match.items() if k not in ("tier", "model_id")}
            mask = (
                [all(getattr(d, k) == v for k, v in static.items()) for d in devs]
                if static
                else None
            )
            f_end = math.inf if f.end is None else _ms(f.end)
            live.append(
                (f, _ms(f.start), f_end, mask, f.match.get("tier"), f.match.get("model_id"))
            )
        rollouts = [(_ms(r.at), r) for r in self.rollouts]
        rate_fn = self.rate_per_minute if callable(self.rate_per_minute) else None
        bounds = sorted(
            {b for _, s, e, *_ in live for b in (s, e) if start_ms < b < end_ms}
            | {at for at, _ in rollouts if start_ms < at < end_ms}
        )

        def switch(r: Rollout) -> None:
            models, cfgs = (edge_model, edge_cfg) if r.tier == EDGE else (cloud_model, cloud_cfg)
            for i in by_cohort.get(r.cohort, ()):
                if bucket[i] < r.rollout_percent:
                    models[i] = r.model_id
                    if r.config_hash is not None:
                        cfgs[i] = r.config_hash

        # Two streams: arrivals, devices and routing draw from rt alone, so a scenario's faults
        # change outcomes but not which turns happen (at a constant rate).
        rt = random.Random(seed).random
        ro = random.Random(f"outcomes-{seed}").random
        log = math.log
        suffixes = _suffixes()
        cur_minute, mprefix = -1, ""

        def attempt(d: int, tier: str, ms: int, rid: str, att: int) -> tuple[Record, bool, bool]:
            """One tier attempt: the event, whether it failed, whether the router falls back."""
            dev = devs[d]
            if tier == EDGE:
                model, cfg, tab, region = edge_model[d], edge_cfg[d], edge_tab[d], dev.region
                p_fail, codes, deadline = edge_fail[d], EDGE_CODES, EDGE_DEADLINE_MS
            else:
                model, cfg, tab, region = cloud_model[d], cloud_cfg[d], cloud_tab[d], dev.region
                p_fail, codes, deadline = CLOUD_FAIL, CLOUD_CODES, CLOUD_DEADLINE_MS
            outcome, code, crash, fallback = "ok", None, None, True
            lat = tab[int(ro() * _TABLE)]
            if active:
                factor, add, failed = 1.0, 0.0, False
                for f, _, _, mask, f_tier, f_model in active:
                    if (
                        (f_tier is None or f_tier == tier)
                        and (mask is None or mask[d])
                        and (f_model is None or f_model == model)
                    ):
                        factor *= f.latency_factor
                        add += f.latency_add_ms
                        fallback = fallback and f.fallback
                        if f.config_hash is not None:
                            cfg = f.config_hash
                        if tier == CLOUD and f.serve_region is not None:
                            region = f.serve_region
                        if not failed and (f.error_rate or f.timeout_rate):
                            u = ro()
                            if u < f.error_rate:
                                outcome, code, crash = "error", f.error_code, f.crash_fingerprint
                            elif u < f.error_rate + f.timeout_rate:
                                outcome = "timeout"
                            failed = outcome != "ok"
                if factor != 1.0 or add:
                    lat = round(lat * factor + add, 1)
            if outcome == "ok":
                u = ro()
                if u < p_fail * TIMEOUT_SHARE:
                    outcome = "timeout"
                elif u < p_fail:
                    outcome, code = "error", codes[int(u / p_fail * len(codes))]
            if outcome == "timeout":
                lat = deadline
            m = ms // 60000
            ts = (mprefix if m == cur_minute else _minute_prefix(m)) + suffixes[ms - m * 60000]
            ev = {
                "request_id": rid, "attempt": att, "ts": ts, "tier": tier, "model_id": model,
                "cohort": dev.cohort, "outcome": outcome, "latency_ms": lat, "error_code": code,
                "region": region, "device_class": dev.device_class, "os_version": dev.os_version,
                "app_version": dev.app_version, "config_hash": cfg, "crash_fingerprint": crash,
            }  # fmt: skip
            return ev, outcome != "ok", fallback

        prefix = f"{seed:x}-"
        pending: list[tuple[int, int, Record]] = []
        active: list[_Live] = []
        routers: list[_Live] = []
        fixed_rate = 0.0 if callable(self.rate_per_minute) else float(self.rate_per_minute)
        last_rate, inv_rate = -1.0, 0.0
        next_change: float = start_ms
        t = float(start_ms)
        n = 0
        while True:
            if t >= next_change:  # a rollout, a fault edge or a minute: refresh the state
                b = next_change
                if b >= end_ms:
                    break
                while rollouts and rollouts[0][0] <= b:
                    switch(rollouts.pop(0)[1])
                active = [lv for lv in live if lv[1] <= b < lv[2]]
                routers = [lv for lv in active if lv[0].edge_share is not None]
                rate = rate_fn(datetime.fromtimestamp(b / 1000, UTC)) if rate_fn else fixed_rate
                i = bisect_right(bounds, b)
                next_change = bounds[i] if i < len(bounds) else end_ms
                if rate_fn:
                    next_change = min(next_change, (b // 60000 + 1) * 60000)
                if rate != last_rate:  # memoryless: restart arrivals at b with the new rate
                    last_rate, inv_rate = rate, 60000.0 / rate if rate > 0 else 0.0
                    t = b - log(1.0 - rt()) * inv_rate if inv_rate else float(next_change)
                continue
            ms = int(t)
            while pending and pending[0][0] <= ms:
                yield heapq.heappop(pending)[2]
            m = ms // 60000
            if m != cur_minute:
                cur_minute, mprefix = m, _minute_prefix(m)
            d = pick[int(rt() * n_pick)]
            n += 1
            rid = f"{prefix}{n:09d}"
            es = share[d]
            for f, _, _, mask, _, f_model in routers:
                if (mask is None or mask[d]) and (f_model is None or f_model == edge_model[d]):
                    es = f.edge_share or 0.0
                    break
            if rt() < es:
                ev, failed, fallback = attempt(d, EDGE, ms, rid, 0)
                yield ev
                if failed and fallback:
                    at = ms + int(ev["latency_ms"])
                    heapq.heappush(pending, (at, n, attempt(d, CLOUD, at, rid, 1)[0]))
            else:
                yield attempt(d, CLOUD, ms, rid, 0)[0]
            t -= log(1.0 - rt()) * inv_rate
        while pending:
            yield heapq.heappop(pending)[2]


def write_files(sim: Simulator, events_path: Path, cohorts_path: Path) -> tuple[int, int]:
    """Write events and assignments as NDJSON (gzip when a name ends in .gz); return counts."""

    def sink(path: Path) -> Any:
        return (
            gzip.open(path, "wb", compresslevel=1)
            if path.name.endswith(".gz")
            else open(path, "wb")
        )

    dumps, n_events = orjson.dumps, 0
    with sink(events_path) as out:
        batch: list[bytes] = []
        for ev in sim.events():
            batch.append(dumps(ev))
            if len(batch) == 10000:
                out.write(b"\n".join(batch) + b"\n")
                n_events += len(batch)
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
            n_events += len(batch)
    assignments = sim.assignments()
    with sink(cohorts_path) as out:
        out.writelines(dumps(a) + b"\n" for a in assignments)
    return n_events, len(assignments)


def __getattr__(name: str) -> Any:
    """`SCENARIOS` moved to `bot.sandbox.scenarios`; still importable from here (lazily: that
    module imports this one)."""
    if name == "SCENARIOS":
        from bot.sandbox.scenarios import SCENARIOS

        return SCENARIOS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

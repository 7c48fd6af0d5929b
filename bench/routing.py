"""Benchmark: does routing a report cost the same with a national directory as with a small one?

Generates, over the real gazetteer (config/areas.csv), a national-size directory (30,000
contacts) and a 100-contact one, writes each as directory YAML next to a copy of areas.csv
and loads it with `load_directory`, then times `routing.plan()` on the same random reports
(fixed seed) against both, interleaved. Target: median national / median small <= 1.5.

    .venv/bin/python bench/routing.py          # a report for people
    .venv/bin/python bench/routing.py --json   # the figures as JSON

Always exits 0; says TARGET MET or TARGET MISSED.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline import routing  # noqa: E402
from hotline.areas import Gazetteer, load_areas  # noqa: E402
from hotline import reporttypes  # noqa: E402
from hotline.directory import Contact, Directory, load_directory  # noqa: E402
from hotline.routing import Plan, RouteInput  # noqa: E402

REPORT_TYPES = tuple(reporttypes.load(ROOT / "config"))
"""The shipped report types (config/flows.yaml)."""

SEED = 20250101
NATIONAL_SIZE = 30_000
SMALL_SIZE = 100
REPORTS = 4_000
ROUNDS = 3          # each report is planned this many times on each directory
SCAN_REPORTS = 40   # reports also routed by the old full scan, for comparison
TARGET_RATIO = 1.5

HEADER = """\
hotline:
  name: Benchmark line
  country: KH
  languages: [km, en]
  emergency_numbers: ["117"]
areas: areas.csv
contacts:
"""


# ---------------------------------------------------------------- generated directories

class Numbers:
    """Distinct, valid Cambodian mobile numbers."""

    def __init__(self, rng: random.Random):
        self._left = iter(rng.sample(range(1_000_000), 1_000_000))

    def next(self) -> str:
        return f"+85512{next(self._left):06d}"


def _contact(cid: str, kind: str, phone: str | None, areas: list[str], reports: list[str] | None) -> dict:
    return {"id": cid, "kind": kind, "phone": phone, "areas": areas, "reports": reports}


def _leader_types(rng: random.Random) -> list[str] | None:
    """Most leaders take every type (None: the default); some leave one or two out."""
    return None if rng.random() < 0.85 else sorted(rng.sample(REPORT_TYPES, rng.randint(2, 3)))


def _agencies(rng: random.Random, gaz: Gazetteer, numbers: Numbers, national: int, provincial: int) -> list[dict]:
    """Agencies: some for the whole country (every province), the rest for 1-3 provinces."""
    provinces = [a.code for a in gaz.children(None)]
    out = []
    for n in range(national + provincial):
        areas = provinces if n < national else sorted(rng.sample(provinces, rng.randint(1, 3)))
        types = sorted(rng.sample(REPORT_TYPES, rng.randint(1, 3)))
        phone = numbers.next() if rng.random() < 0.6 else None
        out.append(_contact(f"agency-{n:03d}", "agency", phone, areas, types))
    return out


def national_contacts(rng: random.Random, gaz: Gazetteer) -> list[dict]:
    """30,000 contacts: 2 desks per province, 2 per district, a chief (and often a deputy) per
    commune, a leader in 95% of villages and deputies in as many more as make up the total,
    and 50 agencies (10 national, 40 provincial)."""
    numbers = Numbers(rng)
    by_level: dict[str, list[str]] = {}
    for area in gaz.all():
        by_level.setdefault(area.level, []).append(area.code)
    out = _agencies(rng, gaz, numbers, 10, 40)
    for level, per_area in (("province", 2), ("district", 2)):
        for code in by_level[level]:
            out += [_contact(f"{level[0]}-{code}-{k}", "leader", numbers.next(), [code], _leader_types(rng))
                    for k in range(per_area)]
    for code in by_level["commune"]:
        for k in range(1 if rng.random() < 0.2 else 2):
            out.append(_contact(f"c-{code}-{k}", "leader", numbers.next(), [code], _leader_types(rng)))
    villages = by_level["village"]
    chiefs = [v for v in villages if rng.random() < 0.95]
    deputies = rng.sample(chiefs, NATIONAL_SIZE - len(out) - len(chiefs))
    for k, codes in enumerate((chiefs, deputies)):
        out += [_contact(f"v-{code}-{k}", "leader", numbers.next(), [code], _leader_types(rng)) for code in codes]
    return out


def small_contacts(rng: random.Random, gaz: Gazetteer) -> list[dict]:
    """100 contacts: a desk per province, 25 districts, 30 communes, 15 villages, 5 agencies."""
    numbers = Numbers(rng)
    out = _agencies(rng, gaz, numbers, 2, 3)
    by_level: dict[str, list[str]] = {}
    for area in gaz.all():
        by_level.setdefault(area.level, []).append(area.code)
    for level, count in (("province", 25), ("district", 25), ("commune", 30), ("village", 15)):
        for code in rng.sample(by_level[level], count):
            out.append(_contact(f"{level[0]}-{code}", "leader", numbers.next(), [code], _leader_types(rng)))
    return out


def write_directory(folder: Path, name: str, contacts: list[dict]) -> Path:
    """The contacts as a directory YAML file (docs/contract.md section 6) in `folder`."""
    lines = [HEADER]
    for c in contacts:
        lines.append(f"  - id: {c['id']}\n    name: {c['id']}\n    kind: {c['kind']}\n")
        if c["phone"]:
            lines.append(f"    phone: \"{c['phone']}\"\n")
        lines.append(f"    areas: [{', '.join(repr(a) for a in c['areas'])}]\n")
        if c["reports"]:
            lines.append(f"    reports: [{', '.join(c['reports'])}]\n")
    path = folder / name
    path.write_text("".join(lines), encoding="utf-8")
    return path


# ---------------------------------------------------------------- reports

def written(e164: str, rng: random.Random) -> str:
    """A number as someone might type it."""
    local = "0" + e164[4:]
    return rng.choice([f"{local[:3]} {local[3:6]} {local[6:]}", f"+855 {local[1:3]} {local[3:6]} {local[6:]}",
                       e164[1:], e164, local])


def random_reports(rng: random.Random, gaz: Gazetteer, phones: list[str], count: int) -> list[RouteInput]:
    """Reports as the flows (config/flows.yaml) store them, placed mostly at village level."""
    areas = gaz.all()
    by_level: dict[str, list[str]] = {}
    for area in areas:
        by_level.setdefault(area.level, []).append(area.code)
    reports = []
    for _ in range(count):
        roll = rng.random()
        level = "village" if roll < 0.80 else "commune" if roll < 0.88 else "district" if roll < 0.92 \
            else "province" if roll < 0.95 else None
        area = rng.choice(by_level[level]) if level else rng.choice([None, "99999999"])
        type_ = rng.choice(REPORT_TYPES)
        answers: dict = {}
        if type_ == "recruiter":
            answers = {"job": "job_factory", "destination": "dest_th", "when": "when_week", "consent": "yes"}
            if rng.random() < 0.5:  # sometimes a contact's own number
                stranger = f"+85597{rng.randrange(10**7):07d}"
                answers["recruiter_phone"] = rng.choice(phones) if rng.random() < 0.3 else stranger
            if rng.random() < 0.4:
                with_number = f"a broker from the next village, calls from {written(rng.choice(phones), rng)}"
                answers["recruiter_details"] = with_number if rng.random() < 0.5 \
                    else "a woman who came to the market offering work in Thailand"
        elif type_ == "missing":
            answers = {"destination": "dest_my", "last_contact": "last_6months", "arranged_by": "arranged_broker",
                       "consent": "no"}
        elif type_ == "unsorted":
            answers = {"details": ["my cousin left three weeks ago and has not called"]}
        reports.append(RouteInput(type_, area, answers))
    return reports


def full_scan_plan(report: RouteInput, directory: Directory) -> Plan:
    """Routing as it was before the index (every contact checked), for comparison only."""
    gaz = directory.gazetteer
    conflicted = routing.numbers_in_report(report, directory.line.country)
    by_depth: dict[int, list[Contact]] = {}
    agencies: list[Contact] = []
    skipped: list[str] = []
    if report.area_code is None or report.area_code not in gaz:
        national = [c for c in directory.contacts if c.kind == "agency" and report.type in c.reports
                    and not (c.phone and c.phone in conflicted)]
        return Plan((), tuple(sorted(national, key=lambda c: c.id)), ())
    for contact in directory.contacts:
        if report.type not in contact.reports:
            continue
        matching = [code for code in contact.areas if gaz.contains(code, report.area_code)]
        if not matching:
            continue
        if contact.phone and contact.phone in conflicted:
            skipped.append(contact.id)
            continue
        if contact.kind == "agency":
            agencies.append(contact)
        else:
            by_depth.setdefault(max(gaz.depth(code) for code in matching), []).append(contact)
    levels = tuple(tuple(sorted(by_depth[d], key=lambda c: c.id)) for d in sorted(by_depth, reverse=True))
    return Plan(levels, tuple(sorted(agencies, key=lambda c: c.id)), tuple(sorted(skipped)))


# ---------------------------------------------------------------- timing

def timed_ms(func, *args):
    """(result, milliseconds) of one call."""
    start = time.perf_counter_ns()
    result = func(*args)
    return result, (time.perf_counter_ns() - start) / 1e6


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def time_plans(reports: list[RouteInput], directories: dict[str, Directory], rounds: int) -> dict[str, list[float]]:
    """Microseconds per plan() call on each directory, the directories taking turns report by report
    (and which goes first alternating), so drifts in machine speed hit both alike."""
    names = list(directories)
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock, plan = time.perf_counter_ns, routing.plan
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for i, report in enumerate(reports):
                for name in (names if (i + r) % 2 == 0 else names[::-1]):
                    directory = directories[name]
                    start = clock()
                    plan(report, directory)
                    samples[name].append((clock() - start) / 1000)
    finally:
        gc.enable()
    return samples


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count()}


def run() -> dict:
    """Generate, load, index and time; every figure in a dict."""
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "config" / "areas.csv", folder / "areas.csv")
        gaz = load_areas(folder / "areas.csv")
        national_path = write_directory(folder, "national.yaml", national_contacts(rng, gaz))
        small_path = write_directory(folder, "small.yaml", small_contacts(rng, gaz))
        national, load_ms = timed_ms(load_directory, national_path)
        small = load_directory(small_path)
    _, index_ms = timed_ms(routing._index, national)
    routing._index(small)
    phones = [c.phone for c in national.contacts if c.phone]
    reports = random_reports(rng, national.gazetteer, phones, REPORTS)
    directories = {"national": national, "small": small}
    time_plans(reports, directories, 1)  # warm-up
    samples = time_plans(reports, directories, ROUNDS)

    figures: dict = {}
    for name, directory in directories.items():
        plans = [routing.plan(r, directory) for r in reports]
        figures[name] = {
            "contacts": len(directory.contacts),
            "plans_timed": len(samples[name]),
            "median_us": round(statistics.median(samples[name]), 1),
            "p95_us": round(percentile(samples[name], 95), 1),
            "mean_leader_levels": round(statistics.mean(len(p.leader_levels) for p in plans), 2),
            "mean_contacts_in_plan": round(statistics.mean(sum(map(len, p.leader_levels)) + len(p.agencies)
                                                           for p in plans), 2),
        }
    scan_reports = reports[:SCAN_REPORTS]
    scan_us, same = [], True
    for report in scan_reports:
        result, ms = timed_ms(full_scan_plan, report, national)
        scan_us.append(ms * 1000)
        same = same and result == routing.plan(report, national)
    ratio = figures["national"]["median_us"] / figures["small"]["median_us"]
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "seed": SEED,
        "reports": len(reports),
        "rounds": ROUNDS,
        "national": figures["national"],
        "small": figures["small"],
        "ratio_median_national_over_small": round(ratio, 3),
        "ratio_p95_national_over_small": round(figures["national"]["p95_us"] / figures["small"]["p95_us"], 3),
        "target_ratio": TARGET_RATIO,
        "national_load_ms": round(load_ms, 1),
        "national_index_ms": round(index_ms, 1),
        "full_scan_national_median_us": round(statistics.median(scan_us), 1),
        "full_scan_reports": len(scan_reports),
        "full_scan_same_plans": same,
        "verdict": "TARGET MET" if ratio <= TARGET_RATIO else "TARGET MISSED",
    }


def report_text(f: dict) -> str:
    """The figures for people."""
    m = f["machine"]
    rows = [f"routing.plan() benchmark, {f['date']}",
            f"machine: {m['platform']}, Python {m['python']}, {m['cpu']}, {m['cpu_count']} CPUs",
            f"{f['reports']} reports (seed {f['seed']}) x {f['rounds']} rounds on each directory, interleaved",
            ""]
    for name in ("national", "small"):
        d = f[name]
        rows.append(f"{name:>8}: {d['contacts']:>6} contacts  median {d['median_us']:>7.1f} us  p95 {d['p95_us']:>7.1f} us"
                    f"  (a plan names {d['mean_contacts_in_plan']} contacts on {d['mean_leader_levels']} levels on average)")
    rows += ["",
             f"ratio national/small: median {f['ratio_median_national_over_small']:.2f}, "
             f"p95 {f['ratio_p95_national_over_small']:.2f} (target <= {f['target_ratio']})",
             f"national directory: load {f['national_load_ms']:.0f} ms (YAML, checks, coverage), "
             f"index {f['national_index_ms']:.1f} ms",
             f"for comparison, the old full scan on the national directory: median "
             f"{f['full_scan_national_median_us'] / 1000:.1f} ms per plan over {f['full_scan_reports']} reports"
             f" (same plans: {'yes' if f['full_scan_same_plans'] else 'NO'})",
             "", f["verdict"]]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run()
    print(json.dumps(figures, indent=2) if args.json else report_text(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where a message's CPU goes: reads folded stacks (inferno-collapse-perf output of a profile
taken by `tests/bench/ingress-load.sh --perf B:N`) and prints a Markdown table of the samples
per stage, as a share and as microseconds per accepted message.

    tests/bench/profile-table.py FOLDED SAMPLE_HZ ACCEPTED_PER_S RECORD_SECONDS

Stages are approximations of code boundaries, named after the modules that own them (see
STAGES). FOLDED may be gzipped. The counts of inferno's folded output of a cpu-clock profile are nanoseconds.
"""

import gzip
import re
import sys

# (stage, pattern). A stack belongs to the stage of its leafmost frame that matches a pattern;
# frames without a Rust path (libc, the allocator, the kernel: syscalls, context switches) are
# skipped, so their cost goes to the Rust code that called them (a socket write under hyper is
# HTTP, under the group committer the commit). sqlx names no stage: its frames belong to the
# store call above them. A stack whose process is `postgres` is Postgres itself.
STAGES = [
    ("canonical JSON + SHA-256 (idempotency hash)", r"ingress::canonical|sha2::"),
    ("JSON parse of the body", r"serde_json::de::|from_json|Deserialize|deserialize"),
    ("validation (notify_core::validate)", r"notify_core::validate"),
    ("planning (ids, channel plan, answer, rows)",
     r"ingress::plan|notify_channels::|notify_core::|notify_api::views|serde_json::ser"),
    ("commit: group committer + store insert (gateway side: sqlx, protocol, socket)",
     r"group_commit|notify_store::outbox::insert"),
    ("dispatcher (claim, log delivery, completions, lanes, wake-ups; its sqlx calls)",
     r"notify_dispatch|notify_upstream|notify_store::(outbox::(claim|complete|sweep)|wake|lanes)"),
    ("auth (bearer check, caller, rate limit)", r"notify_api::auth::"),
    ("HTTP: hyper, axum, routing, body read, response, metrics",
     r"hyper::|axum|tower|http_body|notify_api::|metrics"),
    ("tokio runtime: scheduling, wake-ups, epoll, timers", r"tokio::|mio::"),
]

POSTGRES = "Postgres itself (backends of the bench database)"


def rusty(frame: str) -> bool:
    return "::" in frame or frame.startswith("<")


def main() -> None:
    path, hz, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    del hz  # the folded counts are cpu-clock periods (ns), not sample counts
    compiled = [(name, re.compile(p)) for name, p in STAGES]
    totals = {POSTGRES: 0}
    totals.update({name: 0 for name, _ in STAGES})
    other = 0
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            frames = stack.split(";")
            if frames[0] == "postgres":
                totals[POSTGRES] += n
                continue
            stage = None
            for fr in reversed(frames[1:]):
                if not rusty(fr):
                    continue
                stage = next((name for name, pat in compiled if pat.search(fr)), None)
                if stage:
                    break
            if stage:
                totals[stage] += n
            else:
                other += n
    total = sum(totals.values()) + other
    # perf's cpu-clock period is in nanoseconds: the counts add up to CPU time.
    cpu_per_s = total / 1e9 / RECORD_SECONDS
    print(f"CPU over the recording: {cpu_per_s:.2f} cores at {rate:.0f} accepted/s")
    print("| stage | share of CPU | µs of CPU per accepted message |")
    print("|---|---|---|")
    rows = list(totals.items()) + [("other (no Rust frame: threads' start, unresolved)", other)]
    for name, n in rows:
        share = n / total if total else 0
        us = share * cpu_per_s / rate * 1e6 if rate else 0
        print(f"| {name} | {share * 100:.1f} % | {us:.0f} |")
    print(f"| **total** | 100 % | {cpu_per_s / rate * 1e6:.0f} |")


RECORD_SECONDS = float(sys.argv[4]) if len(sys.argv) > 4 else 8.0

if __name__ == "__main__":
    main()

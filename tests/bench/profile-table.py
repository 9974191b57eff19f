#!/usr/bin/env python3
"""Where a message's CPU goes: reads folded stacks (inferno-collapse-perf output of a profile
taken by `tests/bench/ingress-load.sh --perf B:N`) and prints a Markdown table of the samples
per stage, as a share and as microseconds per accepted message.

    tests/bench/profile-table.py FOLDED SAMPLE_HZ ACCEPTED_PER_S RECORD_SECONDS

A stack goes to the first stage whose pattern matches any of its frames, in the order below
(so the SHA-256 inside canonical hashing counts as hashing, not as planning). Stages are
approximations of code boundaries, named after the modules that own them.
"""

import re
import sys

STAGES = [
    ("Postgres itself (backends of the bench database)", r"^postgres$"),
    ("canonical JSON + SHA-256 (idempotency hash)", r"ingress::canonical|sha2::"),
    ("auth (bearer check, caller, rate limit)", r"notify_api::auth::"),
    ("validation (notify_core checks)", r"notify_core::.*(check|valid|Checked)"),
    ("JSON parse of the body", r"serde_json::de::|MessageInput.*Deserialize|deserialize"),
    ("planning (ids, channel plan, rows to store)", r"ingress::plan::|notify_channels::"),
    ("commit: group committer + store insert (client side, sqlx)",
     r"group_commit|notify_store::outbox::insert|sqlx_postgres|sqlx_core|sqlx_sqlite|libsqlite3|sqlite3"),
    ("dispatcher (claim, deliver via log channel, complete)", r"notify_dispatch::|notify_store::outbox::(claim|complete|sweep)"),
    ("HTTP: hyper, axum, response, body read", r"hyper::|axum::|tower::|h2::|notify_api::extract|http_body"),
    ("tokio runtime, scheduler, timers", r"tokio::"),
]


def main() -> None:
    path, hz, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    compiled = [(name, re.compile(p)) for name, p in STAGES]
    totals = {name: 0 for name, _ in STAGES}
    other = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            frames = stack.split(";")
            for name, pat in compiled:
                if any(pat.search(fr) for fr in frames):
                    totals[name] += n
                    break
            else:
                other += n
    total = sum(totals.values()) + other
    # Samples over the recording: seconds of CPU = samples / hz; per message = that / messages.
    # The recording's length cancels out: share x (CPU seconds per second) / (messages per second).
    cpu_per_s = total / hz / RECORD_SECONDS
    print(f"samples: {total}, CPU over the recording: {cpu_per_s:.2f} cores")
    print("| stage | share of samples | µs of CPU per message |")
    print("|---|---|---|")
    rows = list(totals.items()) + [("other (allocator, kernel, libc, unattributed)", other)]
    for name, n in rows:
        share = n / total if total else 0
        us = share * cpu_per_s / rate * 1e6 if rate else 0
        print(f"| {name} | {share * 100:.1f} % | {us:.1f} |")
    print(f"| **total** | 100 % | {cpu_per_s / rate * 1e6:.1f} |")


RECORD_SECONDS = float(sys.argv[4]) if len(sys.argv) > 4 else 8.0

if __name__ == "__main__":
    main()

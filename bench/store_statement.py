#!/usr/bin/env python3
"""Where the store's batch statement spends PostgreSQL's time (issue 15's
"Store" goal): the writer's exact statement (write_events_sql, read from
store/event_batch.hpp) run by psql on 10,000 events of 10,000 targets, each
batch its own transaction as the writer sends it, with the tables emptied
and a CHECKPOINT before each 10,000.

    python3 bench/store_statement.py DSN sizes ROUNDS   batches of 1,000 / 2,500 / 5,000 / 10,000,
                                                        and 1,000 with a generic plan
    python3 bench/store_statement.py DSN parts ROUNDS   batches of 1,000 with one part of the
                                                        statement left out (to size each part;
                                                        not replacements), alternating
    python3 bench/store_statement.py DSN explain        EXPLAIN (ANALYZE, BUFFERS, WAL) of one batch

DSN names a database this may fill: the healthsweep tables are dropped and
created again from store/schema.cpp's migrations. Times are psql's \\timing
(server time plus the loopback round trip), prepared statements (psql cannot
send parameters otherwise; the first five executions are planned for their
values anyway, as the writer's unnamed statements are).
"""
import os
import re
import subprocess
import sys
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SQL = re.search(r'write_events_sql = R"\((.*?)\)";', open(os.path.join(REPO, "store/event_batch.hpp")).read(),
                re.S).group(1)
TYPES = "text[],text[],text[],text[],text[],text[],bigint[],text[],int[],bool[],bool[],text[],text[],bigint[]"
EVENTS = 10000


def psql(dsn, text):
    r = subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At"], input=text, text=True,
                       capture_output=True)
    if r.returncode:
        sys.exit(r.stderr)
    return r.stdout


def schema(dsn):
    src = open(os.path.join(REPO, "store/schema.cpp")).read()
    ddl = []
    for raw, a, b in re.findall(r'\{\d, (?:R"\((.*?)\)"|"((?:[^"\\]|\\.)*)"(?:\s*"((?:[^"\\]|\\.)*)")?)\}', src, re.S):
        ddl.append(raw or (a + b))
    psql(dsn, "DROP TABLE IF EXISTS healthsweep_targets, healthsweep_events, healthsweep_members CASCADE;"
              "DROP SEQUENCE IF EXISTS healthsweep_epochs;" + ";".join(ddl))


def arrays(tag, start, n):
    """The 14 parameters for events start..start+n, as array literals (a mass death, passive layer)."""
    lit = lambda xs: "'{" + ",".join('"' + x + '"' for x in xs) + "}'"
    now, r = int(time.time() * 1e6), range(start, start + n)
    return ",".join([lit([f"ev-{tag}-{i}" for i in r]), lit([f"ws-{i}" for i in r]), lit(["online"] * n),
                     lit(["offline"] * n), lit(["passive"] * n), lit(["heartbeat expired"] * n),
                     lit([str(now + i) for i in r]), lit(['{\\"detection_latency_seconds\\":0.0123}'] * n),
                     lit(["0"] * n), lit(["f"] * n), lit(["f"] * n), lit([""] * n), lit([""] * n), lit(["0"] * n)])


def run(dsn, statement, batch, generic=False):
    """Milliseconds per batch for EVENTS events."""
    psql(dsn, "TRUNCATE healthsweep_events, healthsweep_targets; CHECKPOINT;")
    tag = f"{time.time_ns()}"
    script = ("SET plan_cache_mode = force_generic_plan;\n" if generic else "")
    script += f"PREPARE w({TYPES}) AS {statement};\n\\timing on\n"
    for start in range(0, EVENTS, batch):
        script += f"EXECUTE w({arrays(tag, start, min(batch, EVENTS - start))});\n"
    times = [float(x) for x in re.findall(r"Time: ([\d.]+) ms", psql(dsn, script))]
    got = psql(dsn, "SELECT count(*) FROM healthsweep_events").strip()
    if got != str(EVENTS):
        sys.exit(f"store_statement: {got} events stored, not {EVENTS}")
    return times


def parts():
    def cut(old, new):
        assert old in SQL, old
        return SQL.replace(old, new)
    return {
        "as shipped": SQL,
        "without the NOTIFY": cut("SELECT pg_notify('healthsweep_events', target) FROM", "SELECT target FROM"),
        "without ON CONFLICT (events)": cut("  ON CONFLICT (event_id) DO NOTHING\n", ""),
        "without the target upsert": cut("FROM last WHERE NOT removed", "FROM last WHERE false"),
        "without the detail's concat": cut("""detail::jsonb
           || CASE WHEN instance = '' THEN '{}'::jsonb
                   ELSE jsonb_build_object('instance', instance, 'epoch', epoch) END
           || CASE WHEN holds THEN '{}'::jsonb ELSE '{"fenced": true}'::jsonb END""", "detail::jsonb"),
    }


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("sizes", "parts", "explain"):
        sys.exit(__doc__)
    dsn, mode = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    schema(dsn)
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load {open('/proc/loadavg').read().split()[:3]}, "
          f"{psql(dsn, 'SHOW server_version').strip()}, {EVENTS} events a run")
    if mode == "explain":
        psql(dsn, "TRUNCATE healthsweep_events, healthsweep_targets; CHECKPOINT;")
        print(psql(dsn, f"PREPARE w({TYPES}) AS {SQL};\nEXPLAIN (ANALYZE, BUFFERS, WAL) EXECUTE w({arrays('x', 0, 1000)});"))
        return
    if mode == "sizes":
        cases = {f"batches of {n}": (SQL, n, False) for n in (1000, 2500, 5000, 10000)}
        cases["batches of 1000, generic plan"] = (SQL, 1000, True)
    else:
        cases = {name: (text, 1000, False) for name, text in parts().items()}
    totals = {name: [] for name in cases}
    for rnd in range(rounds):
        for name, (statement, batch, generic) in cases.items():  # alternating, round by round
            times = run(dsn, statement, batch, generic)
            totals[name].append(sum(times))
            print(f"round {rnd + 1} {name:32s} {sum(times):7.1f} ms; per batch " + " ".join(f"{t:.1f}" for t in times))
    print("# medians")
    for name, xs in totals.items():
        xs = sorted(xs)
        med = xs[len(xs) // 2]
        print(f"{name:32s} median {med:7.1f} ms = {EVENTS / med * 1000:6.0f} events/s; all {' '.join(f'{x:.0f}' for x in xs)}")
    print(f"# load after {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()

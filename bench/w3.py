#!/usr/bin/env python3
"""W3 (directory word count) on any input files, for the hand-written limit and ember alike.

The shared harness (`../shared/bench/run.py`) feeds W3 only as the corpus's part files; this
script also feeds the corpus as ONE file, to measure how a single large file is read. It does
what the harness does for W3: copies the input into a staging folder beside the watched one,
starts the engine, waits for its first `BENCH` line (ready), sets each file's mtime to now and
renames it into the watched folder, all back to back, then adds up the batch totals until they
reach the corpus's word count. Figures are the harness's: words/s = corpus words / span, the span
running from the first file moved to the arrival of the line that completes the total; peak RSS
is the engine process's own high-water mark (`VmHWM`, read just before it is stopped), CPU its
user + system time.

    bench/w3.py --engine limit target/limit/release/limit /tmp/ember-peers/data/corpus-1000mb.txt
    bench/w3.py --engine ember target/release/ember /tmp/ember-peers/data/corpus-1000mb.parts20
    bench/w3.py --engine ember --perf w3.perf target/release/ember CORPUS     # profile one run

INPUT is a file (moved in as one file) or a folder (its files moved in, sorted by name). The
corpus's word count is read from `<corpus>.meta.json` (for a parts folder, the meta file of the
corpus it was cut from). With `--jsonl FILE` each run appends one JSON line to FILE.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


def meta_of(inp: str) -> dict:
    base = re.sub(r"(\.txt|\.parts\d+)$", "", inp.rstrip("/"))
    with open(base + ".meta.json") as f:
        return json.load(f)


def proc_stat(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0]) / 1024.0
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
    return out


def machine_busy_s() -> float:
    """CPU seconds all CPUs of the machine have been busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_quiet(seconds: float, thresh: float) -> float:
    """Waits up to `seconds` for the machine's busy fraction over 2 s to fall below `thresh`."""
    deadline, busy = time.monotonic() + seconds, 1.0
    while time.monotonic() < deadline:
        b0, t0 = machine_busy_s(), time.monotonic()
        time.sleep(2)
        busy = (machine_busy_s() - b0) / ((time.monotonic() - t0) * os.cpu_count())
        if busy < thresh:
            break
    return busy


def engine_pid(proc: subprocess.Popen, perf: bool) -> int:
    """The engine's pid: the launched process, or perf's child when profiling."""
    if not perf:
        return proc.pid
    for _ in range(200):
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    return proc.pid


def run(args) -> dict:
    words = meta_of(args.input)["words"]
    work = tempfile.mkdtemp(prefix=f"w3-{args.engine}-", dir=args.workroot)
    indir, stage = os.path.join(work, "in"), os.path.join(work, "stage")
    os.makedirs(indir)
    os.makedirs(stage)
    if os.path.isdir(args.input):
        names = sorted(os.listdir(args.input))
        for n in names:
            shutil.copyfile(os.path.join(args.input, n), os.path.join(stage, n))
    else:
        names = [os.path.basename(args.input)]
        shutil.copyfile(args.input, os.path.join(stage, names[0]))
    if args.engine == "limit":
        cmd = [args.binary, "w3", "--dir", indir, "--batch-ms", "1000", "--threads", "2"]
    else:
        cmd = [args.binary, "wordcount", "--dir", indir, "--summary", "--master",
               args.master, "--batch", "1000ms"] + args.extra
    if args.perf:
        cmd = ["perf", "record", "-F", "2000", "-g", "-o", args.perf, "--"] + cmd
    elif args.stat:
        cmd = ["perf", "stat", "-x,", "-e", "task-clock,cycles,instructions", "-o", args.stat, "--"] + cmd
    profiled = bool(args.perf or args.stat)
    busy_before = wait_quiet(args.quiet_wait, args.quiet_thresh) if args.quiet_wait else None
    errlog = open(os.path.join(work, "stderr.log"), "wb")
    launched = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, text=True,
                            start_new_session=True, cwd=work)
    pid = engine_pid(proc, profiled)
    lines: "list[tuple[float, str]]" = []
    ready = threading.Event()
    done = threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append((time.monotonic(), line))
            if line.startswith("BENCH"):
                ready.set()
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    # The limit prints nothing until its first batch: like the harness, wait for a BENCH line.
    ready.wait(args.ready_timeout)
    moved = time.monotonic()
    busy0, cpu0, self0 = machine_busy_s(), proc_stat(pid).get("cpu_s", 0.0), time.process_time()
    for n in names:
        src = os.path.join(stage, n)
        os.utime(src)
        os.rename(src, os.path.join(indir, n))
    status, total, end, seen, peak = "timeout", 0, None, 0, {}
    deadline = moved + args.timeout
    while time.monotonic() < deadline:
        peak = proc_stat(pid) or peak
        while seen < len(lines):
            at, line = lines[seen]
            seen += 1
            m = re.search(r"total=(\d+)", line)
            if m and line.startswith("BENCH batch="):
                total += int(m.group(1))
                if total >= words and end is None:
                    end = at
        if end is not None:
            status = "ok" if total == words else "overcount"
            break
        if done.is_set() and seen == len(lines):
            status = f"exited rc={proc.wait()}"
            break
        time.sleep(0.05)
    final = proc_stat(pid)
    foreign = machine_busy_s() - busy0 - (final.get("cpu_s", cpu0) - cpu0) - (time.process_time() - self0)
    if final:
        peak = final
    try:
        os.killpg(proc.pid, signal.SIGINT if profiled else signal.SIGTERM)
        proc.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    span = (end - moved) if end else None
    result = {
        "engine": "limit" if args.engine == "limit" else "ember-w3", "workload": "w3",
        "size_mb": round(os.path.getsize(args.input) / 1e6) if os.path.isfile(args.input) else None,
        "input": args.input, "files": len(names), "status": status,
        "words": words, "counted": total,
        "words_per_s": round(words / span) if span else None,
        "span_s": round(span, 3) if span else None,
        "peak_rss_mb": round(peak.get("VmHWM", 0.0), 1), "cpu_s": round(peak.get("cpu_s", 0.0), 2),
        "wall_s": round(end - launched, 3) if end else None,
        "foreign_cpu_s": round(max(foreign, 0.0), 2), "busy_before": busy_before,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "binary": args.binary, "tag": args.tag,
    }
    if status != "ok":
        sys.stderr.write(open(os.path.join(work, "stderr.log"), errors="replace").read()[-4000:])
    shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=["limit", "ember"], required=True)
    ap.add_argument("binary")
    ap.add_argument("input", help="a corpus file (one file) or a folder of part files")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--extra", nargs="*", default=[], help="more arguments for ember wordcount")
    ap.add_argument("--perf", metavar="FILE", help="profile the run with perf record -F 2000 -g into FILE")
    ap.add_argument("--stat", metavar="FILE", help="count the run's task-clock, cycles and instructions with perf stat into FILE")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds from the move (default 300)")
    ap.add_argument("--quiet-wait", type=float, default=0, help="first wait up to this many s for the machine to be quiet")
    ap.add_argument("--quiet-thresh", type=float, default=0.15, help="busy fraction of all CPUs counted as quiet")
    ap.add_argument("--ready-timeout", type=float, default=60.0)
    ap.add_argument("--workroot", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--jsonl", help="append the result as one JSON line to this file")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    result = run(args)
    print(json.dumps(result))
    if args.jsonl:
        with open(args.jsonl, "a") as f:
            f.write(json.dumps(result) + "\n")
    if args.stat:
        counters = {}
        for line in open(args.stat):
            f = line.strip().split(",")
            if len(f) > 2 and not line.startswith("#") and f[0].replace(".", "").isdigit():
                counters[f[2]] = float(f[0])
        print(json.dumps(counters))
    if args.perf:
        for sort in ("comm", "symbol"):
            report = subprocess.run(["perf", "report", "-i", args.perf, "--no-children", "--sort", sort,
                                     "--stdio", "-n", "-g", "none"], capture_output=True, text=True).stdout
            rows = [l for l in report.splitlines() if "%" in l and not l.startswith("#")]
            print("\n".join(rows[:25]))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())

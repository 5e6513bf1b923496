#!/usr/bin/env python3
"""CI smoke test of the bench suite: runs `zlayer_bench --smoke` (few iterations,
tiny counts) and checks that every case ran and produced numbers, and that the
run left nothing behind: no process naming one of its directories, no mount
below them, the directories themselves gone, no cgroup it created. It never
looks at the figures: timings on a shared CI machine mean nothing."""
import argparse
import json
import math
import os
import signal
import subprocess
import sys

CASES = ["grpc", "memory", "stats", "run", "network", "exec", "streams", "pull"]
# Under ctest's TIMEOUT (600 s): a wedged run gets SIGTERM (it tears down and
# exits), then SIGKILL; then this script removes what the run left (from the
# footprint zlayer_bench writes at start) and the test fails.
RUN_TIMEOUT = 420


def run_bench(cmd):
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"bench_smoke: no result after {RUN_TIMEOUT} s; interrupting")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return -1


def cmdlines():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                yield int(pid), f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            pass


def cgroup_dirs(names, max_depth=4):
    """Directories under /sys/fs/cgroup whose last component is one of `names`
    (v1 hierarchies may nest them below this process's own cgroup)."""
    found = []
    root = "/sys/fs/cgroup"
    for dirpath, dirnames, _ in os.walk(root):
        depth = dirpath[len(root):].count("/")
        for d in dirnames:
            if d in names:
                found.append(os.path.join(dirpath, d))
        if depth >= max_depth:
            dirnames[:] = []
    return found


def leftovers(footprint):
    problems = []
    dirs = footprint.get("dirs", [])
    if not dirs:
        problems.append("no footprint recorded")
    for pid, cmd in cmdlines():
        for d in dirs:
            if d + "/" in cmd or cmd.endswith(d):
                problems.append(f"process {pid} still running: {cmd[:200]}")
                break
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if any(mp == d or mp.startswith(d + "/") for d in dirs):
                problems.append(f"mount left: {mp}")
    for d in dirs:
        if os.path.exists(d):
            problems.append(f"directory left: {d}")
    names = {c.strip("/").split("/")[-1] for c in footprint.get("cgroups", [])}
    for c in cgroup_dirs(names):
        problems.append(f"cgroup left: {c}")
    return problems


def clean_up(footprint):
    """After a killed run: stop what it started and remove what it made. Monitors
    and containers outlive the bench by design, so they go by cgroup."""
    dirs = footprint.get("dirs", [])
    names = {c.strip("/").split("/")[-1] for c in footprint.get("cgroups", [])}
    groups = cgroup_dirs(names)
    for g in groups:
        for dirpath, _, files in os.walk(g):
            if "cgroup.procs" in files:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except OSError:
                            pass
    for pid, cmd in cmdlines():
        if pid != os.getpid() and any(d + "/" in cmd or cmd.endswith(d) for d in dirs):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for mp in sorted(mounts, key=len, reverse=True):
        if any(mp == d or mp.startswith(d + "/") for d in dirs):
            subprocess.run(["umount", "-l", mp], check=False)
    for g in groups:  # deepest first: rmdir only removes empty cgroups
        for dirpath, _, _ in sorted(os.walk(g), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    for d in dirs:
        subprocess.run(["rm", "-rf", "--one-file-system", d], check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out", required=True, help="directory for the results")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out_json = os.path.join(args.out, "results.json")
    for stale in (out_json, out_json + ".footprint"):
        if os.path.exists(stale):
            os.unlink(stale)
    cmd = [args.bench, "--smoke", "--json", out_json,
           "--table", os.path.join(args.out, "results.txt")]
    rc = run_bench(cmd)
    if rc == 77:
        print("bench_smoke: skipped (needs root and runc)")
        return 77
    if not os.path.exists(out_json):
        print(f"bench_smoke: zlayer_bench exited {rc} without results")
        try:
            with open(out_json + ".footprint") as f:
                footprint = json.load(f)
        except (OSError, ValueError):
            return 1
        for p in leftovers(footprint):
            print("bench_smoke: left by the killed run:", p)
        clean_up(footprint)
        for p in leftovers(footprint):
            print("bench_smoke: could not remove:", p)
        return 1
    with open(out_json) as f:
        results = json.load(f)
    problems = [] if rc == 0 else [f"zlayer_bench exited {rc}"]
    rows = results.get("rows", [])
    for case in CASES:
        got = [r for r in rows if r["case"] == case]
        if not got:
            problems.append(f"case {case}: no rows")
            continue
        for r in got:
            if r.get("error"):
                problems.append(f"{case} / {r['variant']}: {r['error']}")
            s = r["summary"]
            if s["n"] < 1 or not math.isfinite(s["median"]):
                problems.append(f"{case} / {r['variant']}: no number")
    # With containerd present, its contenders must have run where they exist.
    if results.get("machine", {}).get("versions", {}).get("containerd"):
        for case, prefix in (("stats", "containerd Tasks.Metrics"),
                             ("streams", "containerd Wait x"),
                             ("grpc", "containerd Version")):
            if not any(r["case"] == case and r["variant"].startswith(prefix) for r in rows):
                problems.append(f"case {case}: no '{prefix}' rows")
    # With the agent serving /metrics, the scrape rows must be there at every population.
    if results.get("config", {}).get("agent_metrics"):
        for prefix in ("/metrics scrape, ", "/metrics scrape: agent CPU, ",
                       "ListStats: agent CPU, "):
            if not any(r["case"] == "stats" and r["variant"].startswith(prefix) for r in rows):
                problems.append(f"case stats: no '{prefix}' rows")
    if not results.get("load"):
        problems.append("no load averages recorded")
    problems += leftovers(results.get("footprint", {}))
    for p in problems:
        print("bench_smoke:", p)
    if not problems:
        print(f"bench_smoke: {len(rows)} rows, every case ran, nothing left behind")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

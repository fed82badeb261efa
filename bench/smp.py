#!/usr/bin/env python3
"""smp.py: do guests run side by side on the appliance's CPUs? (make bench runs it)

In ONE boot of the appliance under QEMU TCG on 2 CPUs (MTTCG: two host threads, so two
real CPUs), it times one CPU-bound job, `lgbox-workload gzip 8` (gzip of 8 MiB of
generated text, bench/workload.c), each way:

    native, 1 job      on host CPU 0 (taskset)
    native, 2 jobs     one on each host CPU, at the same time
    1 guest            a 1-vCPU guest pinned to host CPU 0 (lgbox launch --host-cpus 0)
    2 guests           two 1-vCPU guests pinned to CPUs 0 and 1, the job started in both
    2-vCPU guest       one guest with --cpus 2 on host CPUs 0-1, two jobs in it at once

after one unmeasured run of the job in each place, and prints the job's wall time (each
job's own, from inside it), the mean per way, and
the ratio to the same side's single job: 1.0 means the second job cost the first
nothing, 2.0 that the two shared one CPU.  Figures, no assertions; a failed run prints
FAILED and exits 1.  Environment: O (output directory, default output).
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "bench", "lib"))
from appliance import Appliance, ApplianceError  # noqa: E402
from figures import FAILED, build, figure, images_missing, shown  # noqa: E402
from guestconsole import GUEST_CONFIG, in_guest, start_guest, wait_ready  # noqa: E402

OUT = os.path.abspath(os.environ.get("O", os.path.join(TOP, "output")))
JOB = "lgbox-workload gzip 8"
JOB_TIMEOUT = 300
GUESTS = (("smp0", "0"), ("smp1", "1"))     # name, host CPU
WIDE = "smp2"                               # the 2-vCPU guest, on CPUs 0-1


def job_ms(output):
    """The job's wall time in ms from its output, or None."""
    found = figure("gzip", output)
    return found[0] if found else None


def native_runs(box):
    """[ms] of one job on CPU 0, and of two at once on CPUs 0 and 1 (after one unmeasured
    run on each CPU: the first run of a program under TCG pays for its translation)."""
    box.run(f"taskset 1 {JOB}; taskset 2 {JOB}", JOB_TIMEOUT)
    _, alone = box.run(f"taskset 1 {JOB} 2>&1", JOB_TIMEOUT)
    _, both = box.run(f"taskset 1 {JOB} >/tmp/job0 2>&1 & taskset 2 {JOB} >/tmp/job1 2>&1; "
                      "wait; cat /tmp/job0 /tmp/job1", JOB_TIMEOUT)
    return [job_ms(alone)], [job_ms(line) for line in both.splitlines() if line.strip()]


def start_jobs(box, names, jobs=1):
    """Start JOBS copies of the job in the background in each guest (at nearly the same
    moment), their output in /tmp/job0.out, /tmp/job1.out, ..."""
    for name in names:
        started = "; ".join(f"({JOB} >/tmp/job{i}.out 2>&1 &)" for i in range(jobs))
        in_guest(box, name, f"rm -f /tmp/job*.out; {started}")


def collect_jobs(box, names, jobs=1):
    """[ms] of each job each guest ran (None where one never finished)."""
    results = []
    for name in names:
        for i in range(jobs):
            out = in_guest(box, name, f"while ! grep -q gzip /tmp/job{i}.out 2>/dev/null; do "
                           f"sleep 1; done; cat /tmp/job{i}.out", JOB_TIMEOUT)
            results.append(job_ms(out))
    return results


def guest_runs(box):
    """[ms] of the job in one pinned guest alone, then in two pinned guests at once; and
    what went wrong, if anything."""
    for name, cpu in GUESTS:
        start_guest(box, name, GUEST_CONFIG.format(name=name, cmdline="console=hvc0") +
                    f"host-cpus = {cpu}\n")
    if not all(wait_ready(box, name) for name, _ in GUESTS):
        _, out = box.run("lgbox list; cat /tmp/smp0.out /tmp/smp1.out")
        return [None], [None, None], f"a guest never became ready:\n{out}"
    names = [name for name, _ in GUESTS]
    for name in names:                  # unmeasured, as natively
        start_jobs(box, [name])
        collect_jobs(box, [name])
    start_jobs(box, ["smp0"])
    alone = collect_jobs(box, ["smp0"])
    start_jobs(box, names)
    both = collect_jobs(box, names)
    return alone, both, None


def wide_guest_runs(box):
    """[ms] of two jobs at once in one 2-vCPU guest on CPUs 0-1 (after an unmeasured
    pair), its CPU count as it says, and what went wrong, if anything."""
    start_guest(box, WIDE, GUEST_CONFIG.format(name=WIDE, cmdline="console=hvc0") +
                "cpus = 2\nhost-cpus = 0-1\n")
    if not wait_ready(box, WIDE):
        _, out = box.run(f"lgbox list; cat /tmp/{WIDE}.out")
        return [None, None], None, f"the 2-vCPU guest never became ready:\n{out}"
    nproc = (in_guest(box, WIDE, "nproc") or "").strip()
    start_jobs(box, [WIDE], jobs=2)
    collect_jobs(box, [WIDE], jobs=2)
    start_jobs(box, [WIDE], jobs=2)
    return collect_jobs(box, [WIDE], jobs=2), nproc, None


def row(way, runs, single):
    """One line: the way, each job's ms, their mean and the ratio to SINGLE's mean."""
    if not runs or None in runs:
        print(f"{way:<16} {FAILED:>24}")
        return None
    mean = sum(runs) / len(runs)
    ratio = f"{mean / single:.2f}" if single else "-"
    print(f"{way:<16} {' '.join(shown(r) for r in runs):>24} {shown(mean):>10} {ratio:>8}")
    return mean


def main():
    if images_missing(OUT, "bench/smp.py"):
        return 1
    log = os.path.join(OUT, "bench", "smp.console.log")
    try:
        with Appliance(out=OUT, log_path=log, qemu_args=("-m", "1024")) as box:
            _, cpus = box.run("nproc")
            native_alone, native_both = native_runs(box)
            guest_alone, guest_both, trouble = guest_runs(box)
            wide_both, wide_nproc, wide_trouble = wide_guest_runs(box)
            _, placement = box.run("lgbox list")
    except ApplianceError as err:
        print(f"bench/smp.py: the appliance failed: {err}", file=sys.stderr)
        return 1
    print(f"A CPU-bound job ({JOB}) natively and in guests, one appliance boot under QEMU "
          f"TCG with {cpus.strip()} CPUs ({build(OUT)})")
    print(f"{'way':<16} {'each job (ms)':>24} {'mean':>10} {'vs one':>8}")
    single = row("native, 1 job", native_alone, None)
    row("native, 2 jobs", native_both, single)
    single = row("1 guest", guest_alone, None)
    row("2 guests", guest_both, single)
    row("2-vCPU guest", wide_both, single)
    print(f"the 2-vCPU guest's nproc: {wide_nproc or '-'}")
    for what in (trouble, wide_trouble):
        if what:
            print(what.rstrip())
    print("where the guests ran (lgbox list, after the runs):")
    print(placement.rstrip())
    failed = None in native_alone + native_both + guest_alone + guest_both + wide_both
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

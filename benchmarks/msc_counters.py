"""Hardware counters of the multi-spin-coded kernel, counted around the kernel call only.

    python benchmarks/msc_counters.py [--sweeps 40] [--core 1]

For each rule: cycles per flip attempt, instructions and mispredicted branches per eight sites (one
step of the kernel: 512 replica updates), on L = 256 at K_c, 4 words (256 replicas) relaxed for 100
sweeps from random spins, one thread pinned to one core. Instructions per step are exact (they
change only with the code); cycles move with what else the host runs on the core. Needs Linux
perf: the script runs itself under ``perf stat --control`` and enables counting only for one
``msc_sweeps`` call.  Run it with another version installed to compare versions.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

L, WORDS, RELAX = 256, 4, 100
EVENTS = ("cycles:u", "instructions:u", "branch-misses:u")


def child(rule, n_sweeps, ctl, ack):
    """Prepare the lattice, then count one call of ``n_sweeps`` sweeps."""
    from inverse_ising.backends.cython_backend import CythonBackend, msc_pack
    from inverse_ising.onsager import K_C

    backend = CythonBackend(n_threads=1)
    words = msc_pack(np.where(np.random.default_rng(0).random((64 * WORDS, L, L)) < 0.5, -1, 1).astype(np.int8))
    rng = backend.make_rng(np.random.SeedSequence(1), WORDS)
    backend.msc_sweeps(words, K_C, 0.0, rule, RELAX, rng)
    with open(ctl, "w") as control, open(ack) as answer:
        control.write("enable\n")
        control.flush()
        answer.readline()
        backend.msc_sweeps(words, K_C, 0.0, rule, n_sweeps, rng)
        control.write("disable\n")
        control.flush()
        answer.readline()


def count(rule, n_sweeps, core):
    """Counter totals of the kernel call, by event."""
    with tempfile.TemporaryDirectory() as tmp:
        ctl, ack = os.path.join(tmp, "ctl"), os.path.join(tmp, "ack")
        os.mkfifo(ctl)
        os.mkfifo(ack)
        pin = ["taskset", "-c", str(core)] if shutil.which("taskset") else []
        cmd = pin + ["perf", "stat", "-x,", "-e", ",".join(EVENTS), "-D", "-1", "--control", f"fifo:{ctl},{ack}",
                     sys.executable, __file__, "--child", rule, str(n_sweeps), ctl, ack]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    totals = {}
    for line in out.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in EVENTS and fields[0].isdigit():
            totals[fields[2]] = int(fields[0])
    if len(totals) != len(EVENTS):
        raise SystemExit(f"perf gave no counts for {EVENTS}:\n{out.stderr}")
    return totals


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweeps", type=int, default=40, help="sweeps in the counted call")
    parser.add_argument("--core", type=int, default=1, help="CPU to pin the run to")
    args = parser.parse_args()
    if not shutil.which("perf"):
        raise SystemExit("needs Linux perf (e.g. the linux-perf package)")
    flips = args.sweeps * WORDS * 64 * L * L
    steps = flips / 512
    print(f"L={L}, {64 * WORDS} replicas, K_c, {args.sweeps} sweeps counted after {RELAX}; load {os.getloadavg()[0]:.2f}")
    print(f"{'rule':<11} {'cycles/flip':>12} {'instructions/step':>18} {'mispredicts/step':>17}")
    for rule in ("metropolis", "glauber"):
        c = count(rule, args.sweeps, args.core)
        print(f"{rule:<11} {c['cycles:u'] / flips:>12.3f} {c['instructions:u'] / steps:>18.0f} "
              f"{c['branch-misses:u'] / steps:>17.2f}")


if __name__ == "__main__":
    main()

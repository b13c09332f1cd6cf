"""How many threads a parallel kernel starts by default: the cores this process may use, less
those that other processes keep busy.

* cores available, c = min(|affinity mask|, ⌈quota/period⌉): the CPUs of ``os.sched_getaffinity``
  and the cgroup CPU quota (v2: ``/sys/fs/cgroup/cpu.max``; v1: ``cpu.cfs_quota_us`` /
  ``cpu.cfs_period_us`` under ``/sys/fs/cgroup/cpu``);
* busy elsewhere, b: over the last window of at least ``WINDOW`` seconds, the busy time of the
  CPUs of the mask (``/proc/stat``: user, nice, system, irq, softirq, steal) less this process's
  own CPU time (``time.process_time``), divided by the window's length (in cores);
* free threads = max(1, min(c, ⌊n − b + ½⌋)), n = |affinity mask| (the quota is a share of
  time on those CPUs, the load is counted on them).

Why the load counts: an OpenMP region ends at a barrier, so it lasts as long as its slowest
thread, and a thread that shares a core with a busy process gets half of it, or, on a host with
more runnable processes than cores, has to wait for a time slice before every region.  A learner
runs thousands of short regions (one sweep each), so every region pays that wait: on 2 cores
with other processes running, two threads were 1.6× (one busy core) to 20× (load 10) slower than
one.  One thread with a free core, or sharing the host's cores with everybody else, does not wait.

``OMP_NUM_THREADS`` (when set) is the user's choice and is used as it is.  Where ``/proc/stat``
cannot be read, b = 0.  The first window starts when this module is imported; a query before
``FIRST_WINDOW`` seconds have passed waits for them.
"""
import math
import os
import threading
import time

WINDOW = 0.5  # seconds between two readings of the load
FIRST_WINDOW = 0.05  # the shortest window a first estimate is made from (5 clock ticks at 100 Hz)
CGROUP_V2 = "/sys/fs/cgroup/cpu.max"
CGROUP_V1 = ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
PROC_STAT = "/proc/stat"
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system [idle iowait] irq softirq steal


def read_text(path):
    """The contents of a small system file, or None when it cannot be read."""
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def affinity_cpus():
    """The CPU numbers this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def cgroup_quota():
    """The cgroup CPU quota in cores (quota/period, a float), or None when there is none."""
    text = read_text(CGROUP_V2)
    if text is not None:
        fields = text.split()
        if len(fields) == 2 and fields[0] != "max":
            try:
                return int(fields[0]) / int(fields[1])
            except (ValueError, ZeroDivisionError):
                return None
        return None
    quota, period = (read_text(path) for path in CGROUP_V1)
    try:
        quota, period = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def available_cores():
    """c = min(|affinity mask|, ⌈cgroup quota⌉), at least 1."""
    cores = len(affinity_cpus())
    quota = cgroup_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def busy_ticks(cpus):
    """Σ over ``cpus`` of the busy clock ticks in ``/proc/stat``, or None when it cannot be read."""
    text = read_text(PROC_STAT)
    if text is None:
        return None
    wanted = {f"cpu{c}" for c in cpus}
    total, seen = 0, 0
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        fields = line.split()
        if fields[0] in wanted:
            values = fields[1:]
            total += sum(int(values[i]) for i in _BUSY_FIELDS if i < len(values))
            seen += 1
    return total if seen else None


class LoadMonitor:
    """Cores of the affinity mask kept busy by other processes, b, re-estimated every ``WINDOW``
    seconds from ``/proc/stat`` and this process's CPU time (see the module text)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._busy = 0.0
        self._ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._reading()
        self._estimated = False

    def _reading(self):
        cpus = affinity_cpus()
        return time.monotonic(), time.process_time(), tuple(cpus), busy_ticks(cpus)

    def busy_elsewhere(self):
        """b in cores (≥ 0); 0 where ``/proc/stat`` cannot be read."""
        with self._lock:
            wall, own, cpus, ticks = self._last
            elapsed = time.monotonic() - wall
            if self._estimated and elapsed < WINDOW:
                return self._busy
            if elapsed < FIRST_WINDOW:
                time.sleep(FIRST_WINDOW - elapsed)
            now = self._reading()
            if ticks is not None and now[3] is not None and now[2] == cpus:
                span = now[0] - wall
                everyone = (now[3] - ticks) / self._ticks_per_second
                self._busy = max(0.0, (everyone - (now[1] - own)) / span)
            else:
                self._busy = 0.0
            self._last = now
            self._estimated = True
            return self._busy


_MONITOR = LoadMonitor()


def user_threads():
    """``OMP_NUM_THREADS`` (its first entry) when set to a positive number, else None."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def free_threads():
    """max(1, min(c, ⌊n − b + ½⌋)): the available cores c, and the CPUs of the mask n less those
    busy elsewhere b, rounded."""
    n = len(affinity_cpus())
    return max(1, min(available_cores(), math.floor(n - _MONITOR.busy_elsewhere() + 0.5)))


def default_threads():
    """Threads for a parallel task now: ``OMP_NUM_THREADS`` if set, else :func:`free_threads`."""
    return user_threads() or free_threads()

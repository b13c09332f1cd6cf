"""The default thread rule (inverse_ising.backends.threads) and its use by the Cython backend and
the kinetic learner.

That results do not depend on the thread count is checked in tests/test_cython_backend.py
(test_same_seed_same_output_any_thread_count, test_thread_count_does_not_change_large_runs,
test_msc_reproducible_across_threads).
"""
import pytest

from inverse_ising import kinetic
from inverse_ising.backends import threads

PROC_STAT = """cpu  400 0 40 1000 5 0 2 0 0 0
cpu0 100 10 10 500 5 1 1 3 0 0
cpu1 200 0 20 500 0 0 1 0 0 0
cpu2 7 0 0 0 0 0 0 0 0 0
intr 1 2 3
"""


class FakeTime:
    """A clock that the test advances: wall seconds and this process's CPU seconds."""

    def __init__(self):
        self.wall, self.cpu = 100.0, 10.0

    def monotonic(self):
        return self.wall

    def process_time(self):
        return self.cpu

    def sleep(self, seconds):
        self.wall += seconds


@pytest.fixture
def host(monkeypatch):
    """A fake host: CPUs of the mask, system files by path, a clock and /proc/stat busy ticks."""
    state = {"cpus": {0, 1}, "files": {}, "ticks": 0}
    clock = FakeTime()
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(state["cpus"]))
    monkeypatch.setattr(threads, "read_text", lambda path: state["files"].get(path))
    monkeypatch.setattr(threads, "busy_ticks", lambda cpus: state["ticks"])
    monkeypatch.setattr(threads, "time", clock)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    state["clock"] = clock
    return state


def load(host, everyone, own, seconds=1.0):
    """Advance the fake host by ``seconds`` in which all processes used ``everyone`` cores, this
    one ``own`` cores."""
    tick = threads.os.sysconf("SC_CLK_TCK")
    host["clock"].wall += seconds
    host["clock"].cpu += own * seconds
    host["ticks"] += round(everyone * seconds * tick)


def fresh_monitor(monkeypatch, host):
    monitor = threads.LoadMonitor()
    monkeypatch.setattr(threads, "_MONITOR", monitor)
    return monitor


def test_affinity_is_the_limit_without_quota(host):
    host["cpus"] = {0, 1, 2, 5}
    assert threads.cgroup_quota() is None
    assert threads.available_cores() == 4


@pytest.mark.parametrize("text, quota, cores", [("150000 100000\n", 1.5, 2), ("max 100000\n", None, 4),
                                                ("50000 100000\n", 0.5, 1), ("800000 100000\n", 8.0, 4)])
def test_cgroup_v2_quota(host, text, quota, cores):
    host["cpus"] = {0, 1, 2, 3}
    host["files"][threads.CGROUP_V2] = text
    assert threads.cgroup_quota() == quota
    assert threads.available_cores() == cores


@pytest.mark.parametrize("quota_us, quota, cores", [("-1\n", None, 4), ("250000\n", 2.5, 3), ("20000\n", 0.2, 1)])
def test_cgroup_v1_quota(host, quota_us, quota, cores):
    host["cpus"] = {0, 1, 2, 3}
    host["files"].update(dict(zip(threads.CGROUP_V1, (quota_us, "100000\n"))))
    assert threads.cgroup_quota() == quota
    assert threads.available_cores() == cores


def test_busy_ticks_sums_the_busy_fields_of_the_mask(monkeypatch):
    monkeypatch.setattr(threads, "read_text", lambda path: PROC_STAT if path == threads.PROC_STAT else None)
    # user nice system irq softirq steal; idle and iowait are not busy
    assert threads.busy_ticks([0]) == 100 + 10 + 10 + 1 + 1 + 3
    assert threads.busy_ticks([0, 1]) == 125 + 200 + 20 + 1
    assert threads.busy_ticks([2]) == 7
    assert threads.busy_ticks([9]) is None
    monkeypatch.setattr(threads, "read_text", lambda path: None)
    assert threads.busy_ticks([0]) is None


@pytest.mark.parametrize("cpus, everyone, own, expected", [
    (2, 0.9, 0.9, 2),   # only this process runs: both cores
    (2, 2.0, 1.0, 1),   # one core kept busy by another process
    (2, 2.0, 0.1, 1),   # both busy elsewhere: still one thread
    (2, 1.4, 1.0, 2),   # 0.4 core busy elsewhere rounds to none
    (4, 3.0, 1.0, 2),   # two of four busy elsewhere
    (8, 1.0, 1.0, 8),
])
def test_free_threads_subtract_the_load_of_others(monkeypatch, host, cpus, everyone, own, expected):
    host["cpus"] = set(range(cpus))
    fresh_monitor(monkeypatch, host)
    load(host, everyone, own)
    assert threads.free_threads() == expected
    assert threads.default_threads() == expected


def test_free_threads_never_exceed_the_quota(monkeypatch, host):
    host["cpus"] = set(range(8))
    host["files"][threads.CGROUP_V2] = "200000 100000\n"
    fresh_monitor(monkeypatch, host)
    load(host, 0.0, 0.0)
    assert threads.free_threads() == 2
    load(host, 7.0, 0.0)  # the quota is a share of time on all eight CPUs, of which one is free
    assert threads.free_threads() == 1


def test_load_is_measured_over_windows(monkeypatch, host):
    monitor = fresh_monitor(monkeypatch, host)
    load(host, 1.0, 0.0)
    assert monitor.busy_elsewhere() == pytest.approx(1.0)
    load(host, 0.0, 0.0, seconds=threads.WINDOW / 2)  # too soon: the last estimate stands
    assert monitor.busy_elsewhere() == pytest.approx(1.0)
    load(host, 0.0, 0.0, seconds=threads.WINDOW)
    assert monitor.busy_elsewhere() == pytest.approx(0.0, abs=1e-9)


def test_first_estimate_waits_for_a_short_window(monkeypatch, host):
    monitor = fresh_monitor(monkeypatch, host)
    start = host["clock"].wall
    assert monitor.busy_elsewhere() == 0.0
    assert host["clock"].wall - start == pytest.approx(threads.FIRST_WINDOW)


def test_unreadable_proc_stat_counts_no_load(monkeypatch, host):
    monkeypatch.setattr(threads, "busy_ticks", lambda cpus: None)
    host["cpus"] = {0, 1, 2}
    fresh_monitor(monkeypatch, host)
    load(host, 3.0, 0.0)
    assert threads.free_threads() == 3


def test_omp_num_threads_is_the_users_choice(monkeypatch, host):
    fresh_monitor(monkeypatch, host)
    load(host, 2.0, 0.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "6,2")
    assert threads.default_threads() == 6
    monkeypatch.setenv("OMP_NUM_THREADS", "0")
    assert threads.default_threads() == 1  # not a thread count: the rule decides (all busy)


def test_kinetic_learner_uses_the_rule(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "free_threads", lambda: 3)
    assert kinetic._default_threads() == 3
    monkeypatch.setattr(threads, "free_threads", lambda: 32)
    assert kinetic._default_threads() == 8


@pytest.fixture
def cb():
    return pytest.importorskip("inverse_ising.backends.cython_backend",
                               reason="the compiled kernels are not built (INVERSE_ISING_NO_KERNELS=1)")


def test_small_work_runs_on_one_thread(monkeypatch, cb):
    monkeypatch.setattr(cb, "free_threads", lambda: 4)
    backend = cb.CythonBackend(n_threads=4)
    unit = cb.MIN_WORK_PER_THREAD
    assert backend._threads(100, unit // 100 - 1) == 1   # less than one thread's work in all
    assert backend._threads(100, 2 * unit // 100) == 2   # two threads' worth
    assert backend._threads(100, 10 * unit) == 4         # capped by n_threads
    assert backend._threads(3, 10 * unit) == 3           # capped by the chains
    assert backend._threads(1, 10 * unit) == 1


def test_default_backend_follows_the_free_cores(monkeypatch, host, cb):
    host["cpus"] = {0, 1, 2, 3}
    backend = cb.CythonBackend()
    assert backend.n_threads == 4 and backend.follow_load
    monkeypatch.setattr(cb, "free_threads", lambda: 1)
    assert backend._threads(100, 10**6) == 1
    monkeypatch.setattr(cb, "free_threads", lambda: 3)
    assert backend._threads(100, 10**6) == 3


def test_a_chosen_thread_count_ignores_the_load(monkeypatch, host, cb):
    monkeypatch.setattr(cb, "free_threads", lambda: 1)
    assert cb.CythonBackend(n_threads=3)._threads(100, 10**6) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    backend = cb.CythonBackend()
    assert (backend.n_threads, backend.follow_load) == (2, False)
    assert backend._threads(100, 10**6) == 2

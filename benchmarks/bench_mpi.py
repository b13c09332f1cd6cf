"""2 MPI ranks against 1 on a sampling-bound Boltzmann-learning loop (pairwise N = 160).

    pytest benchmarks/bench_mpi.py --benchmark-only -s

A thin pytest-benchmark wrapper around ``scripts/bench_mpi.py`` (which starts ``mpiexec -n 1``
and ``mpiexec -n 2`` itself): the recorded time is the whole comparison, and ``extra_info``
holds the figures that matter — the loop's wall time per rank count, the speed-up, the share of
the time spent in Allreduce, and the load average before and after (measure on a quiet machine).
"""
import importlib.util
import os
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason="the MPI benchmark needs mpi4py (pip install \".[mpi]\")")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_mpi.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_mpi_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("local", ["auto"])
def test_mpi_strong_scaling(benchmark, local):
    script = load_script()
    args = script.parse_args(["--ranks", "1", "2", "--repeats", "2", "--local", local])
    load_before = os.getloadavg()
    rows = benchmark.pedantic(script.driver, args=(args,), rounds=1, iterations=1)
    two = next(r for r in rows if r["ranks"] == 2)
    benchmark.extra_info.update(
        local=two["local"], wall_1_rank_s=rows[0]["wall_s"], wall_2_ranks_s=two["wall_s"], speedup=two["speedup"],
        allreduce_share_2_ranks=two["allreduce_share"], load_before=load_before, load_after=os.getloadavg())

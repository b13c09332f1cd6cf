# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The kernels of ``_kernels.pyx`` compiled for x86-64 CPUs with AVX2 and FMA (GCC only).

The ``#pragma GCC target`` below applies to every function of this module, so it is imported
only after :func:`inverse_ising.backends.cython_backend.cpu_has_avx2` said yes.  The code is the
same: wider vectors change the speed of the incremental field updates, not their results (the
products there are by ±1 or ±2, exact, so fused multiply-adds round like separate ones).
"""
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #pragma GCC target("avx2,fma,bmi,bmi2,popcnt")
    #define II_TARGET_AVX2 1
    #else
    #define II_TARGET_AVX2 0
    #endif
    """
    int II_TARGET_AVX2

TARGET_AVX2 = bool(II_TARGET_AVX2)

include "_kernels.pyx"

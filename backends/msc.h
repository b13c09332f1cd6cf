/* The update of eight sites in the multi-spin-coded lattice kernel (see ``_msc_chain`` in
 * _kernels.pyx, which lays out the lattice and supplies the generator words).
 *
 * Bit b of a word is replica b's spin (1 = +1).  Sites come in two groups A and B of four words
 * (one vector of four uint64 each).  A replica's class is (k, s): its spin s and the number k of
 * its neighbours that are up (aligned = 0) or aligned with s (aligned = all ones).  Classes that
 * accept for sure are listed nowhere; the others are rows (k, which spin, group) of the tables,
 * which = 0 for s = -1 only, 1 for s = +1 only, 2 for both, and group g indexes the distinct
 * 53-bit thresholds T_g = ceil(p·2^53) (group -1: never accepts).
 *
 * Replica b decides with its own uniform U = sum_i (bit b of word i)·2^(52-i): U < T is decided
 * at the first bit i where U and T differ, accepted when that bit of T is 1.  All replicas of a
 * group are compared at once, one generator word per group and bit; the words for bit i are
 * rv[8i .. 8i+3] (A) and rv[8i+4 .. 8i+7] (B).  The first II_MSC_SURE_BITS bits are compared
 * without testing whether all are decided (512 replicas almost never are sooner, and an exit that
 * depends on the data costs a mispredicted branch), then bit by bit until all are.
 *
 * There are at most five groups (``msc_tables`` counts neighbours so that at most five classes
 * need a comparison).  Bit i of the replicas' thresholds is looked up in selector tables built per
 * block: lo[code_lo[i]] over groups 0-1 (none, 0, 1, both) and hi[code_hi[i]] over groups 2-4
 * (the eight unions).  Written in C rather than Cython for control over what the compiler sees:
 * the update is one always-inlined function, specialised for at most two groups (Metropolis at
 * h = 0: no hi table) and at most five.
 */
#ifndef II_MSC_H
#define II_MSC_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define II_MSC_MAX_ROWS 10
#define II_MSC_MAX_GROUPS 5
#define II_MSC_SURE_BITS 10

typedef struct {
    int n_rows, G, glauber;
    int8_t k[II_MSC_MAX_ROWS], which[II_MSC_MAX_ROWS], group[II_MSC_MAX_ROWS];
    uint8_t code_lo[53];                 /* bit i of T_0 + 2 * bit i of T_1 */
    uint8_t code_hi[53];                 /* bit i of T_2 + 2 * bit i of T_3 + 4 * bit i of T_4 */
    uint64_t aligned;                    /* all ones: count aligned neighbours; 0: up neighbours */
} ii_msc_tables;

#if defined(__GNUC__) || defined(__clang__)
#define II_MSC_VECTORS 1
#define II_MSC_INLINE static inline __attribute__((always_inline))
/* Four uint64 words in one value: GCC/Clang vector extension (AVX2: one register; baseline x86-64:
   two SSE2 registers), with the ordinary operators (^ & | ~). */
typedef uint64_t ii_v4 __attribute__((vector_size(32)));

II_MSC_INLINE ii_v4 ii_v4_load(const uint64_t *p) { ii_v4 v; memcpy(&v, p, sizeof v); return v; }
II_MSC_INLINE void ii_v4_store(uint64_t *p, ii_v4 v) { memcpy(p, &v, sizeof v); }
II_MSC_INLINE ii_v4 ii_v4_splat(uint64_t x) { ii_v4 v = {x, x, x, x}; return v; }
II_MSC_INLINE ii_v4 ii_v4_lanes_below(ptrdiff_t n) {  /* all ones in lanes 0 .. n-1 */
    ii_v4 v = {n > 0 ? ~0ULL : 0, n > 1 ? ~0ULL : 0, n > 2 ? ~0ULL : 0, n > 3 ? ~0ULL : 0};
    return v;
}
#if defined(__AVX__)
#include <immintrin.h>
II_MSC_INLINE int ii_v4_any(ii_v4 v) { return !_mm256_testz_si256((__m256i)v, (__m256i)v); }
#else
II_MSC_INLINE int ii_v4_any(ii_v4 v) { return (v[0] | v[1] | v[2] | v[3]) != 0; }
#endif

/* The replicas with count k, k = (fours twos ones) in binary, and spin ``which``. */
II_MSC_INLINE ii_v4 ii_msc_class(int k, int which, ii_v4 ones, ii_v4 twos, ii_v4 fours, ii_v4 s, ii_v4 valid) {
    ii_v4 m;
    switch (k) {
        case 0: m = ~(ones | twos | fours); break;
        case 1: m = ones & ~twos; break;
        case 2: m = twos & ~ones; break;
        case 3: m = ones & twos; break;
        default: m = fours;
    }
    return which == 0 ? m & ~s & valid : which == 1 ? m & s & valid : m & valid;
}

/* Neighbour counts of four sites by a bitwise adder over x_j = neighbour_j ^ (~s & aligned). */
II_MSC_INLINE void ii_msc_count(ii_v4 s, ii_v4 a, ii_v4 b, ii_v4 c, ii_v4 e, ii_v4 aligned,
                                ii_v4 *ones, ii_v4 *twos, ii_v4 *fours) {
    ii_v4 f = ~s & aligned;
    ii_v4 xa = a ^ f, xb = b ^ f, xc = c ^ f, xe = e ^ f;
    ii_v4 s1 = xa ^ xb, c1 = xa & xb, s2 = xc ^ xe, c2 = xc & xe;
    *ones = s1 ^ s2;
    *twos = c1 ^ c2 ^ (s1 & s2);
    *fours = c1 & c2;
}

/* Sites sr[0..7] (neighbours up, dn, o, oo at the same offsets); returns the generator words used.
 * ``groups`` (a constant at each call): at most 2 or 5 groups. */
II_MSC_INLINE ptrdiff_t ii_msc_eight_sites(const ii_msc_tables *t, const int groups, uint64_t *sr, const uint64_t *up,
                                           const uint64_t *dn, const uint64_t *o, const uint64_t *oo,
                                           ii_v4 validA, ii_v4 validB, const uint64_t *rv) {
    const ii_v4 zero = ii_v4_splat(0), aligned = ii_v4_splat(t->aligned);
    ii_v4 sA = ii_v4_load(sr), sB = ii_v4_load(sr + 4), onesA, twosA, foursA, onesB, twosB, foursB;
    ii_v4 gA[II_MSC_MAX_GROUPS], gB[II_MSC_MAX_GROUPS], loA[4], loB[4], hiA[8], hiB[8];
    ii_v4 listedA = ~validA, listedB = ~validB, undA = zero, undB = zero;
    int i = 0;
    ii_msc_count(sA, ii_v4_load(up), ii_v4_load(dn), ii_v4_load(o), ii_v4_load(oo), aligned, &onesA, &twosA, &foursA);
    ii_msc_count(sB, ii_v4_load(up + 4), ii_v4_load(dn + 4), ii_v4_load(o + 4), ii_v4_load(oo + 4), aligned,
                 &onesB, &twosB, &foursB);
    for (int g = 0; g < groups; g++) { gA[g] = zero; gB[g] = zero; }
    for (int q = 0; q < t->n_rows; q++) {
        int k = t->k[q], which = t->which[q], g = t->group[q];
        ii_v4 mA = ii_msc_class(k, which, onesA, twosA, foursA, sA, validA);
        ii_v4 mB = ii_msc_class(k, which, onesB, twosB, foursB, sB, validB);
        listedA |= mA;
        listedB |= mB;
        if (g >= 0) { gA[g] |= mA; gB[g] |= mB; }
    }
    ii_v4 resA = ~listedA, resB = ~listedB;  /* the replicas that accept for sure */
    for (int g = 0; g < groups; g++) { undA |= gA[g]; undB |= gB[g]; }
    loA[0] = zero; loA[1] = gA[0]; loA[2] = gA[1]; loA[3] = gA[0] | gA[1];
    loB[0] = zero; loB[1] = gB[0]; loB[2] = gB[1]; loB[3] = gB[0] | gB[1];
    if (groups == 5) {
        for (int c = 0; c < 8; c++) {
            hiA[c] = ((c & 1) ? gA[2] : zero) | ((c & 2) ? gA[3] : zero) | ((c & 4) ? gA[4] : zero);
            hiB[c] = ((c & 1) ? gB[2] : zero) | ((c & 2) ? gB[3] : zero) | ((c & 4) ? gB[4] : zero);
        }
    }
    if (ii_v4_any(undA | undB)) {
#pragma GCC unroll 2
        for (; i < 53; i++) {
            if (i >= II_MSC_SURE_BITS && !ii_v4_any(undA | undB)) break;
            ii_v4 BA = loA[t->code_lo[i]], BB = loB[t->code_lo[i]];  /* bit i of each replica's threshold */
            if (groups == 5) {
                BA |= hiA[t->code_hi[i]];
                BB |= hiB[t->code_hi[i]];
            }
            ii_v4 rvA = ii_v4_load(rv + 8 * i), rvB = ii_v4_load(rv + 8 * i + 4);
            resA |= undA & BA & ~rvA;
            undA &= ~(BA ^ rvA);
            resB |= undB & BB & ~rvB;
            undB &= ~(BB ^ rvB);
        }
    }
    ii_v4_store(sr, t->glauber ? resA : sA ^ resA);
    ii_v4_store(sr + 4, t->glauber ? resB : sB ^ resB);
    return 2 * (ptrdiff_t)i;
}

/* One block with the specialisation chosen by the number of groups. */
II_MSC_INLINE ptrdiff_t ii_msc_update(const ii_msc_tables *t, uint64_t *sr, const uint64_t *up, const uint64_t *dn,
                                      const uint64_t *o, const uint64_t *oo, ii_v4 validA, ii_v4 validB,
                                      const uint64_t *rv) {
    if (t->G <= 2) return ii_msc_eight_sites(t, 2, sr, up, dn, o, oo, validA, validB, rv);
    return ii_msc_eight_sites(t, II_MSC_MAX_GROUPS, sr, up, dn, o, oo, validA, validB, rv);
}
#else  /* placeholders so that the module compiles; the kernel refuses to run */
#define II_MSC_VECTORS 0
typedef uint64_t ii_v4;
static inline ii_v4 ii_v4_splat(uint64_t x) { return x; }
static inline ii_v4 ii_v4_lanes_below(ptrdiff_t n) { return 0; }
static inline ptrdiff_t ii_msc_update(const ii_msc_tables *t, uint64_t *sr, const uint64_t *up, const uint64_t *dn,
                                      const uint64_t *o, const uint64_t *oo, ii_v4 validA, ii_v4 validB,
                                      const uint64_t *rv) { return 0; }
#endif
#endif

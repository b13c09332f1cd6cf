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
 * Written in C rather than Cython for control over what the compiler sees: the update is one
 * always-inlined function specialised (``two``) for at most two groups, whose threshold bits
 * are then looked up in a selector table (none, group 0, group 1, both) by code[i].
 */
#ifndef II_MSC_H
#define II_MSC_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define II_MSC_MAX_ROWS 10
#define II_MSC_SURE_BITS 10

typedef struct {
    int n_rows, G, glauber;
    int8_t k[II_MSC_MAX_ROWS], which[II_MSC_MAX_ROWS], group[II_MSC_MAX_ROWS];
    uint8_t code[53];                    /* bit i of T_0 + 2 * bit i of T_1 */
    uint64_t bits[II_MSC_MAX_ROWS][53];  /* bit i of T_g as an all-ones / all-zeros word */
    uint64_t aligned;                    /* all ones: count aligned neighbours; 0: up neighbours */
} ii_msc_tables;

#if defined(__GNUC__) || defined(__clang__)
#define II_MSC_VECTORS 1
typedef uint64_t ii_v4 __attribute__((vector_size(32)));
#define II_MSC_INLINE static inline __attribute__((always_inline))

II_MSC_INLINE ii_v4 ii_v4_load(const uint64_t *p) { ii_v4 v; memcpy(&v, p, sizeof v); return v; }
II_MSC_INLINE void ii_v4_store(uint64_t *p, ii_v4 v) { memcpy(p, &v, sizeof v); }
II_MSC_INLINE ii_v4 ii_v4_splat(uint64_t x) { ii_v4 v = {x, x, x, x}; return v; }
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

/* Sites sr[0..7] (neighbours up, dn, o, oo at the same offsets); returns the generator words used. */
II_MSC_INLINE ptrdiff_t ii_msc_eight_sites(const ii_msc_tables *t, const int two, uint64_t *sr, const uint64_t *up,
                                           const uint64_t *dn, const uint64_t *o, const uint64_t *oo,
                                           ii_v4 validA, ii_v4 validB, const uint64_t *rv) {
    const ii_v4 zero = ii_v4_splat(0), aligned = ii_v4_splat(t->aligned);
    ii_v4 sA = ii_v4_load(sr), sB = ii_v4_load(sr + 4), onesA, twosA, foursA, onesB, twosB, foursB;
    ii_v4 gA[II_MSC_MAX_ROWS], gB[II_MSC_MAX_ROWS], tabA[4], tabB[4];
    ii_v4 listedA = ~validA, listedB = ~validB, undA = zero, undB = zero;
    int i = 0;
    ii_msc_count(sA, ii_v4_load(up), ii_v4_load(dn), ii_v4_load(o), ii_v4_load(oo), aligned, &onesA, &twosA, &foursA);
    ii_msc_count(sB, ii_v4_load(up + 4), ii_v4_load(dn + 4), ii_v4_load(o + 4), ii_v4_load(oo + 4), aligned,
                 &onesB, &twosB, &foursB);
    for (int g = 0; g < (two ? 2 : II_MSC_MAX_ROWS); g++) { gA[g] = zero; gB[g] = zero; }
    for (int q = 0; q < t->n_rows; q++) {
        int k = t->k[q], which = t->which[q], g = t->group[q];
        ii_v4 mA = ii_msc_class(k, which, onesA, twosA, foursA, sA, validA);
        ii_v4 mB = ii_msc_class(k, which, onesB, twosB, foursB, sB, validB);
        listedA |= mA;
        listedB |= mB;
        if (g >= 0) { gA[g] |= mA; gB[g] |= mB; }
    }
    ii_v4 resA = ~listedA, resB = ~listedB;  /* the replicas that accept for sure */
    if (two) {
        tabA[0] = zero; tabA[1] = gA[0]; tabA[2] = gA[1]; tabA[3] = undA = gA[0] | gA[1];
        tabB[0] = zero; tabB[1] = gB[0]; tabB[2] = gB[1]; tabB[3] = undB = gB[0] | gB[1];
    } else {
        for (int g = 0; g < t->G; g++) { undA |= gA[g]; undB |= gB[g]; }
    }
    if (ii_v4_any(undA | undB)) {
#pragma GCC unroll 2
        for (; i < 53; i++) {
            if (i >= II_MSC_SURE_BITS && !ii_v4_any(undA | undB)) break;
            ii_v4 BA, BB;  /* bit i of each replica's threshold */
            if (two) {
                BA = tabA[t->code[i]];
                BB = tabB[t->code[i]];
            } else {
                BA = zero;
                BB = zero;
                for (int g = 0; g < t->G; g++) {
                    ii_v4 bit = ii_v4_splat(t->bits[g][i]);
                    BA |= gA[g] & bit;
                    BB |= gB[g] & bit;
                }
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
    if (t->G <= 2) return ii_msc_eight_sites(t, 1, sr, up, dn, o, oo, validA, validB, rv);
    return ii_msc_eight_sites(t, 0, sr, up, dn, o, oo, validA, validB, rv);
}
#else
#define II_MSC_VECTORS 0
typedef uint64_t ii_v4;
II_MSC_INLINE ptrdiff_t ii_msc_update(const ii_msc_tables *t, uint64_t *sr, const uint64_t *up, const uint64_t *dn,
                                      const uint64_t *o, const uint64_t *oo, ii_v4 validA, ii_v4 validB,
                                      const uint64_t *rv) { return 0; }  /* the kernel refuses to run */
#endif
#endif

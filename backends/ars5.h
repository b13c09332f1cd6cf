/* ARS-5: the counter-based generator of the multi-spin-coded kernel.
 *
 * Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC11), found five
 * AES rounds with a Weyl key schedule enough to pass TestU01's BigCrush ("ARS-5"; also Intel MKL's
 * VSL_BRNG_ARS5).  Block n of a chain with key k = (k_lo, k_hi):
 *
 *     x = n ^ k0,  k0 = k,  k(i+1) = k(i) + W  (64-bit halves, W = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)),
 *     x = AESENC(x, k1) ... AESENC(x, k4),  x = AESENCLAST(x, k5),
 *
 * n being the 128-bit integer (low half the block index, high half 0), AESENC one AES round
 * (ShiftRows, SubBytes, MixColumns, AddRoundKey; FIPS-197) and AESENCLAST one without MixColumns,
 * bytes in x86 order (byte i of the state is bits 8i..8i+7 of the 128-bit integer).
 *
 * ii_ars5_fill(out, key, counter, n) writes n "words" of four uint64: word w is blocks counter + 2w
 * and counter + 2w + 1, each as (low, high) uint64.  Three implementations give the same bytes:
 * VAES (two blocks per instruction, AVX2 registers), AES-NI (one block per instruction) and
 * portable C (the FIPS-197 round with an S-box built at start-up); ii_ars5_init() picks the
 * fastest the CPU runs, ii_ars5_fill_with(impl, ...) runs a given one (tests).
 */
#ifndef II_ARS5_H
#define II_ARS5_H
#include <stdint.h>
#include <stddef.h>

#define II_ARS5_W0 0x9E3779B97F4A7C15ULL
#define II_ARS5_W1 0xBB67AE8584CAA73BULL

enum { II_ARS5_PORTABLE = 0, II_ARS5_AESNI = 1, II_ARS5_VAES = 2 };

/* ---------------------------------------------------------------------------------- portable C */
static uint8_t ii_aes_sbox[256];

static uint8_t ii_gf_mul(uint8_t a, uint8_t b) {  /* product in GF(2^8) mod x^8 + x^4 + x^3 + x + 1 */
    uint8_t p = 0;
    while (b) {
        if (b & 1) p ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1B : 0));
        b >>= 1;
    }
    return p;
}

static void ii_aes_build_sbox(void) {  /* S(x) = affine(x^-1), FIPS-197 section 5.1.1 */
    for (int x = 0; x < 256; x++) {
        uint8_t inv = 0;
        for (int y = 1; y < 256 && x; y++)
            if (ii_gf_mul((uint8_t)x, (uint8_t)y) == 1) { inv = (uint8_t)y; break; }
        uint8_t s = inv;
        for (int r = 1; r < 5; r++) s ^= (uint8_t)((inv << r) | (inv >> (8 - r)));
        ii_aes_sbox[x] = (uint8_t)(s ^ 0x63);
    }
}

static void ii_aes_round_portable(uint8_t *x, const uint8_t *k, int mix) {
    /* state byte r + 4c is row r, column c; ShiftRows moves row r left by r columns */
    uint8_t t[16];
    for (int c = 0; c < 4; c++)
        for (int r = 0; r < 4; r++) t[r + 4 * c] = ii_aes_sbox[x[r + 4 * ((c + r) & 3)]];
    for (int c = 0; c < 4; c++) {
        uint8_t *a = t + 4 * c, a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        if (mix) {
            x[4 * c + 0] = (uint8_t)(ii_gf_mul(a0, 2) ^ ii_gf_mul(a1, 3) ^ a2 ^ a3);
            x[4 * c + 1] = (uint8_t)(a0 ^ ii_gf_mul(a1, 2) ^ ii_gf_mul(a2, 3) ^ a3);
            x[4 * c + 2] = (uint8_t)(a0 ^ a1 ^ ii_gf_mul(a2, 2) ^ ii_gf_mul(a3, 3));
            x[4 * c + 3] = (uint8_t)(ii_gf_mul(a0, 3) ^ a1 ^ a2 ^ ii_gf_mul(a3, 2));
        } else {
            x[4 * c + 0] = a0; x[4 * c + 1] = a1; x[4 * c + 2] = a2; x[4 * c + 3] = a3;
        }
        for (int r = 0; r < 4; r++) x[4 * c + r] ^= k[4 * c + r];
    }
}

static void ii_u64_to_bytes(uint64_t lo, uint64_t hi, uint8_t *b) {
    for (int i = 0; i < 8; i++) { b[i] = (uint8_t)(lo >> (8 * i)); b[8 + i] = (uint8_t)(hi >> (8 * i)); }
}

static uint64_t ii_bytes_to_u64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static void ii_ars5_fill_portable(uint64_t *out, const uint64_t *key, uint64_t counter, ptrdiff_t n_words) {
    uint8_t k[6][16], x[16];
    uint64_t lo = key[0], hi = key[1];
    for (int i = 0; i < 6; i++, lo += II_ARS5_W0, hi += II_ARS5_W1) ii_u64_to_bytes(lo, hi, k[i]);
    for (ptrdiff_t b = 0; b < 2 * n_words; b++) {
        ii_u64_to_bytes(counter + (uint64_t)b, 0, x);
        for (int i = 0; i < 16; i++) x[i] ^= k[0][i];
        for (int r = 1; r <= 5; r++) ii_aes_round_portable(x, k[r], r < 5);
        out[2 * b] = ii_bytes_to_u64(x);
        out[2 * b + 1] = ii_bytes_to_u64(x + 8);
    }
}

/* ------------------------------------------------------------------ AES-NI and VAES (x86-64) */
#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9))
#define II_ARS5_X86 1
#include <immintrin.h>

__attribute__((target("aes,sse2")))
static void ii_ars5_fill_aesni(uint64_t *out, const uint64_t *key, uint64_t counter, ptrdiff_t n_words) {
    __m128i k[6], w = _mm_set_epi64x((long long)II_ARS5_W1, (long long)II_ARS5_W0);
    k[0] = _mm_set_epi64x((long long)key[1], (long long)key[0]);
    for (int i = 1; i < 6; i++) k[i] = _mm_add_epi64(k[i - 1], w);
    for (ptrdiff_t b = 0; b < 2 * n_words; b += 2) {
        __m128i x0 = _mm_xor_si128(_mm_set_epi64x(0, (long long)(counter + (uint64_t)b)), k[0]);
        __m128i x1 = _mm_xor_si128(_mm_set_epi64x(0, (long long)(counter + (uint64_t)b + 1)), k[0]);
        for (int r = 1; r < 5; r++) { x0 = _mm_aesenc_si128(x0, k[r]); x1 = _mm_aesenc_si128(x1, k[r]); }
        _mm_storeu_si128((__m128i *)(out + 2 * b), _mm_aesenclast_si128(x0, k[5]));
        _mm_storeu_si128((__m128i *)(out + 2 * b + 2), _mm_aesenclast_si128(x1, k[5]));
    }
}

__attribute__((target("avx2,aes,vaes")))
static void ii_ars5_fill_vaes(uint64_t *out, const uint64_t *key, uint64_t counter, ptrdiff_t n_words) {
    /* four words (eight blocks) per step, round by round, so that the AES units stay busy */
    __m256i k[6], w = _mm256_set_epi64x((long long)II_ARS5_W1, (long long)II_ARS5_W0,
                                        (long long)II_ARS5_W1, (long long)II_ARS5_W0);
    __m256i c = _mm256_set_epi64x(0, (long long)(counter + 1), 0, (long long)counter);
    __m256i two = _mm256_set_epi64x(0, 2, 0, 2);
    k[0] = _mm256_set_epi64x((long long)key[1], (long long)key[0], (long long)key[1], (long long)key[0]);
    for (int i = 1; i < 6; i++) k[i] = _mm256_add_epi64(k[i - 1], w);
    ptrdiff_t q = 0;
    for (; q + 4 <= n_words; q += 4) {
        __m256i x[4];
        for (int j = 0; j < 4; j++) { x[j] = _mm256_xor_si256(c, k[0]); c = _mm256_add_epi64(c, two); }
        for (int r = 1; r < 5; r++)
            for (int j = 0; j < 4; j++) x[j] = _mm256_aesenc_epi128(x[j], k[r]);
        for (int j = 0; j < 4; j++) _mm256_storeu_si256((__m256i *)(out + 4 * (q + j)), _mm256_aesenclast_epi128(x[j], k[5]));
    }
    for (; q < n_words; q++) {
        __m256i x = _mm256_xor_si256(c, k[0]);
        c = _mm256_add_epi64(c, two);
        for (int r = 1; r < 5; r++) x = _mm256_aesenc_epi128(x, k[r]);
        _mm256_storeu_si256((__m256i *)(out + 4 * q), _mm256_aesenclast_epi128(x, k[5]));
    }
}
#else
#define II_ARS5_X86 0
#endif

/* ------------------------------------------------------------------------------------ dispatch */
typedef void (*ii_ars5_fill_fn)(uint64_t *, const uint64_t *, uint64_t, ptrdiff_t);
static ii_ars5_fill_fn ii_ars5_fill = ii_ars5_fill_portable;
static int ii_ars5_best = II_ARS5_PORTABLE;

static int ii_ars5_runs(int impl) {  /* can this CPU run implementation impl? */
    if (impl == II_ARS5_PORTABLE) return 1;
#if II_ARS5_X86
    __builtin_cpu_init();
    if (impl == II_ARS5_AESNI) return __builtin_cpu_supports("aes") != 0;
    if (impl == II_ARS5_VAES) return __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("aes");
#endif
    return 0;
}

static void ii_ars5_init(void) {
    ii_aes_build_sbox();
#if II_ARS5_X86
    if (ii_ars5_runs(II_ARS5_VAES)) { ii_ars5_fill = ii_ars5_fill_vaes; ii_ars5_best = II_ARS5_VAES; }
    else if (ii_ars5_runs(II_ARS5_AESNI)) { ii_ars5_fill = ii_ars5_fill_aesni; ii_ars5_best = II_ARS5_AESNI; }
#endif
}

static int ii_ars5_fill_with(int impl, uint64_t *out, const uint64_t *key, uint64_t counter, ptrdiff_t n_words) {
    if (!ii_ars5_runs(impl)) return -1;
#if II_ARS5_X86
    if (impl == II_ARS5_VAES) { ii_ars5_fill_vaes(out, key, counter, n_words); return 0; }
    if (impl == II_ARS5_AESNI) { ii_ars5_fill_aesni(out, key, counter, n_words); return 0; }
#endif
    ii_ars5_fill_portable(out, key, counter, n_words);
    return 0;
}
#endif

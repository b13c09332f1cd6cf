/* exp(x) from IEEE additions, multiplications, rint and ldexp alone: the operations and constants of
   inverse_ising.reference.exp, one for one, so that the kernels' acceptance tests give the reference's
   bits on every CPU whatever exp its numpy or libm would pick.  Every product is rounded on its own
   (ii_product): a fused multiply-add, which compilers may form for the AVX2 build, rounds once.

   exp(x) = 2^k * sum_{n=0}^{13} r^n / n!,  k = rint(x / ln 2),  r = (x - k*LN2_HI) - k*LN2_LO;
   0 below x = -708 and inf above x = 709. */
#ifndef II_PORTABLE_EXP_H
#define II_PORTABLE_EXP_H
#include <math.h>

#define II_INV_LN2 0x1.71547652b82fep+0
#define II_LN2_HI 0x1.62e42feep-1
#define II_LN2_LO 0x1.a39ef35793c76p-33
#define II_EXP_MIN (-708.0)
#define II_EXP_MAX 709.0

/* a * b rounded to double before any later addition: the volatile store keeps the compiler from fusing
   it into a multiply-add (cheap here: exp is evaluated only inside the acceptance brackets) */
static inline double ii_product(double a, double b) {
    volatile double p = a * b;
    return p;
}

static inline double ii_exp(double x) {
    /* 1/n! for n = 0..13, each the correctly rounded quotient 1.0 / n! as the reference computes it */
    static const double inv_fact[14] = {
        1.0 / 1.0, 1.0 / 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0,
        1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0, 1.0 / 479001600.0,
        1.0 / 6227020800.0};
    double xc, k, r, p;
    int n;
    if (x < II_EXP_MIN) return 0.0;
    if (x > II_EXP_MAX) return HUGE_VAL;
    xc = x;  /* NaN falls through and stays NaN */
    k = rint(ii_product(xc, II_INV_LN2));
    r = (xc - ii_product(k, II_LN2_HI)) - ii_product(k, II_LN2_LO);
    p = inv_fact[13];
    for (n = 12; n >= 0; n--) {
        p = ii_product(p, r) + inv_fact[n];
    }
    return ldexp(p, (int)k);
}
#endif

// spdec's noise stream: Philox4x32-10 keyed by (seed, sample, step), and the
// Box-Muller transform to standard Gaussians. One source for the host (C++17
// and later, GCC or clang) and for CUDA device code compiled by NVRTC.
//
// This header has no #include at all: code generators paste its text verbatim
// into generated C++ and CUDA sources (the embedded copy is the string
// spdec::rng::kPhiloxSource in <spdec/rng/philox_source.hpp>, target
// spdec::rng), and those are compiled without any standard header.
//
// ---------------------------------------------------------------------------
// THE STREAM (a contract: changing any of this changes every sample ever drawn;
// tests/rng pins it with golden values)
//
// A state of shape [N, C, H, W] holds N samples of C*H*W values. Inside one
// sample the flat index is n = (c*H + y)*W + x. The value at (sample, n) drawn
// at time step `step` with seed `seed` (all three unsigned 64-bit) is
// spdec_gaussian(seed, sample, step, n):
//
//   key[2] = { lo32(seed), hi32(seed) }
//   ctr[4] = { block = n / 4,                      (n < 2^34)
//              lo32(step),
//              lo32(sample),
//              hi32(sample) XOR hi32(step) }
//   r[4]   = Philox4x32-10(ctr, key)               (Random123's definition,
//                                                   checked against its
//                                                   known-answer vectors)
//   (z0, z1) = BoxMuller(r[0], r[1]),  (z2, z3) = BoxMuller(r[2], r[3])
//   value  = z[n % 4]
//
// The 192 bits of (key, ctr) hold (seed, sample, lo32(step), block) exactly,
// so distinct (seed, sample, step, block) give distinct Philox inputs whenever
// step < 2^32 or sample < 2^32 (across all the draws being compared). The
// high word of step is folded into the high word of the sample so that even
// steps >= 2^32 stay distinct from each other as long as samples < 2^32; the
// one thing it cannot separate is (sample, step) pairs where both exceed
// 2^32 (e.g. (2^32, 0) and (0, 2^32) collide). A sample's values depend on
// (seed, sample, step) only, never on the batch it is computed in.
//
// BoxMuller(ra, rb) -> (z0, z1), in binary32 arithmetic, every operation
// correctly rounded (round to nearest even):
//   u     = float(ra) * 2^-32 + 2^-33     in [2^-33, 1], never 0
//   R     = sqrt(-2 * ln(u))              in [0, sqrt(66 ln 2) = 6.7637]
//   w     = rb + 2^29 (mod 2^32),  q = w >> 30 (the quadrant, 0..3),
//   f     = float(int(w mod 2^30) - 2^29) * 2^-30     in [-1/2, 1/2)
//   theta = (pi/2) * (q + f)              = 2*pi * rb / 2^32 up to the
//                                           rounding of f to 24 bits
//   z0    = R * cos(theta),  z1 = R * sin(theta)   (a zero is +0)
//
// ln, sin and cos are NOT the platform's logf/sinf/cosf (which differ between
// glibc, CUDA and their versions): they are written out below with float
// adds, multiplies, fused multiply-adds, one division and one square root:
//   ln(u):  u = 2^k m, m in [sqrt(2)/2, sqrt(2)), f = m - 1, s = f / (2 + f),
//           ln(u) = k ln2_hi + (f - f^2/2 + s (f^2/2 + R(s^2)) + k ln2_lo)
//           (fdlibm's logf kernel and coefficients Lg1..Lg4);
//           <= 0.76 ulp over every float in [2^-33, 1].
//   sin, cos of (pi/2) f: f P(f^2) and 1 + f^2 Q(f^2), minimax polynomials
//           (relative error < 4e-9 before rounding), then rotated by q
//           quarter turns; <= 0.99 ulp over all 2^32 values of rb.
// Against a double-precision evaluation of the same formula from the same
// r[], the Gaussians are within 1.9e-7 * max(1, |z|) (2.4 ulp) as measured
// over 2^20 values (tests/rng asserts 4e-7 * max(1, |z|)).
//
// WHY HOST AND GPU AGREE BIT FOR BIT. Every operation above is a correctly
// rounded IEEE-754 binary32 operation on both sides, and no intermediate is
// ever subnormal, so the results are fully determined:
//   device: the __fadd_rn/__fmul_rn/__fmaf_rn/__fdiv_rn/__fsqrt_rn and
//           __[u]int2float_rn intrinsics: ptxas never contracts them, and
//           NVRTC's --use_fast_math/--fmad/--prec-div/--prec-sqrt/--ftz do
//           not change them (the PTX carries .rn on every float instruction);
//   host:   plain + and * (SSE/NEON), __builtin_sqrtf, and spdec_rng_fma():
//           the fma instruction where the target has one (-mfma, AArch64),
//           otherwise an exact inline emulation (below). Every product that
//           feeds an addition is either exact (a power-of-two scale) or an
//           explicit fma, so -ffp-contract cannot change a result, and the
//           outputs are produced by an fma (R * cos + 0), so a caller's own
//           `x + z` cannot be fused into them either.
// So the stream is the same under -O0..-O3, -march=anything, -ffp-contract=
// fast or off, and any NVRTC flags. What breaks it is value-changing
// reassociation on the host (-ffast-math, -Ofast, -fassociative-math): the
// header refuses to compile under -ffast-math (__FAST_MATH__).
//
// Cost on the host, one thread (a shared 2-core AMD EPYC VM, so ranges): with
// -mfma or -march=native 45-80 M Gaussians/s (a glibc logf/sincosf Box-Muller
// does 30-80 M/s there); without (the x86-64 default, the fma emulated inline)
// 18-30 M/s; Philox alone 200-500 M uint32/s. Compile generated C++ with
// -march=native (or at least -mfma) where it runs.
// ---------------------------------------------------------------------------
//
// Functions (all SPDEC_RNG_FN: `static inline` on the host,
// `__device__ __forceinline__` in CUDA; define SPDEC_RNG_FN first to
// override):
//   void  spdec_philox4x32_10(const unsigned int ctr[4], const unsigned int key[2],
//                             unsigned int out[4]);
//   void  spdec_rng_bits4(unsigned long long seed, unsigned long long sample,
//                         unsigned long long step, unsigned int block, unsigned int out[4]);
//   float spdec_rng_uniform(unsigned int r);                 // u above, in (0, 1]
//   float spdec_rng_log(float x);                             // x normal, > 0
//   void  spdec_rng_sincos_turns(unsigned int r, float* s, float* c);  // theta above
//   void  spdec_rng_box_muller(unsigned int ra, unsigned int rb, float* z0, float* z1);
//   void  spdec_gaussian4(unsigned long long seed, unsigned long long sample,
//                         unsigned long long step, unsigned int block, float out[4]);
//   float spdec_gaussian(unsigned long long seed, unsigned long long sample,
//                        unsigned long long step, unsigned long long n);
// Kernels should call spdec_gaussian4 once per group of four values (n = 4*block
// .. 4*block+3) rather than spdec_gaussian four times.
// Helpers (also usable): spdec_rng_fma (a correctly rounded fmaf),
// spdec_rng_float_bits / spdec_rng_bits_float (bit casts), spdec_rng_mulhilo.
// All names start with spdec_ / SPDEC_RNG_; the arithmetic macros are
// #undef'd at the end.
//
// Types: only unsigned int (32 bits), int, unsigned long long (64 bits) and
// float; NVRTC has no <cstdint>. The host checks the sizes with static_assert.

#ifndef SPDEC_RNG_PHILOX_H
#define SPDEC_RNG_PHILOX_H

#if defined(__CUDACC_RTC__) || defined(__CUDA_ARCH__)
#define SPDEC_RNG_DEVICE 1
#else
#define SPDEC_RNG_DEVICE 0
#endif

#ifndef SPDEC_RNG_FN
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SPDEC_RNG_FN __device__ __forceinline__
#else
#define SPDEC_RNG_FN static inline __attribute__((unused))
#endif
#endif

#if !SPDEC_RNG_DEVICE
#if defined(__FAST_MATH__)
#error \
    "spdec philox.h: the host side must not be compiled with -ffast-math/-Ofast (the noise would no longer match the GPU bit for bit)"
#endif
#if defined(__FLT_EVAL_METHOD__) && __FLT_EVAL_METHOD__ != 0
#error \
    "spdec philox.h: float arithmetic must be evaluated in float (FLT_EVAL_METHOD 0; e.g. SSE, not the x87: -mfpmath=sse)"
#endif
static_assert(sizeof(unsigned int) == 4, "spdec philox.h needs a 32-bit unsigned int");
static_assert(sizeof(unsigned long long) == 8, "spdec philox.h needs a 64-bit unsigned long long");
static_assert(sizeof(float) == 4, "spdec philox.h needs a 32-bit float");
#endif

// --- correctly rounded float primitives -------------------------------------
// Device: the _rn intrinsics, which --use_fast_math, --fmad and --prec-* do
// not change and which ptxas never contracts. Host: plain operators, where
// every product that feeds an addition is exact or goes through an explicit
// fma, so -ffp-contract cannot change a result.
#if SPDEC_RNG_DEVICE
#define SPDEC_RNG_ADD(a, b) __fadd_rn((a), (b))
#define SPDEC_RNG_MUL(a, b) __fmul_rn((a), (b))
#define SPDEC_RNG_FMA(a, b, c) __fmaf_rn((a), (b), (c))
#define SPDEC_RNG_DIV(a, b) __fdiv_rn((a), (b))
#define SPDEC_RNG_SQRT(a) __fsqrt_rn((a))
#define SPDEC_RNG_U2F(a) __uint2float_rn((a))
#define SPDEC_RNG_I2F(a) __int2float_rn((a))
#else
#define SPDEC_RNG_ADD(a, b) ((a) + (b))
#define SPDEC_RNG_MUL(a, b) ((a) * (b))
#define SPDEC_RNG_FMA(a, b, c) spdec_rng_fma((a), (b), (c))
#define SPDEC_RNG_DIV(a, b) ((a) / (b))
#define SPDEC_RNG_SQRT(a) __builtin_sqrtf((a))
#define SPDEC_RNG_U2F(a) static_cast<float>(a)
#define SPDEC_RNG_I2F(a) static_cast<float>(a)
#endif

SPDEC_RNG_FN unsigned int spdec_rng_float_bits(float x) {
#if SPDEC_RNG_DEVICE
  return __float_as_uint(x);
#else
  unsigned int u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
#endif
}

SPDEC_RNG_FN float spdec_rng_bits_float(unsigned int u) {
#if SPDEC_RNG_DEVICE
  return __uint_as_float(u);
#else
  float x;
  __builtin_memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// fmaf(a, b, c), correctly rounded. Host targets with an FMA instruction use
// it; the others (x86-64 without -mfma, the default) would call glibc's fmaf,
// so they compute it inline: a*b is exact in double and p + c is rounded once
// to double; rounding that to float again is correct unless the double sum
// landed exactly halfway between two floats while the exact sum was not
// there (double rounding). In that rare case the exact error of the sum
// (TwoSum) moves it one double ulp towards the exact value, so the final
// rounding goes the right way. Valid for arguments whose product and sum are
// normal floats (all that occur here).
SPDEC_RNG_FN float spdec_rng_fma(float a, float b, float c) {
#if SPDEC_RNG_DEVICE
  return __fmaf_rn(a, b, c);
#elif defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__FP_FAST_FMAF)
  return __builtin_fmaf(a, b, c);
#else
  const double p = static_cast<double>(a) * static_cast<double>(b);  // exact
  const double dc = static_cast<double>(c);
  double s = p + dc;
  unsigned long long bits;
  __builtin_memcpy(&bits, &s, sizeof bits);
  if ((bits & 0x1FFFFFFFull) == 0x10000000ull) {  // s is a float midpoint
    const double bv = s - p;
    const double err = (p - (s - bv)) + (dc - bv);  // (p + dc) - s, exactly
    if (err != 0.0) {
      bits = ((err > 0.0) == (s > 0.0)) ? bits + 1u : bits - 1u;
      __builtin_memcpy(&s, &bits, sizeof s);
    }
  }
  return static_cast<float>(s);
#endif
}

// --- Philox4x32-10 (Salmon et al., SC'11; Random123's philox4x32_R(10)) ------
SPDEC_RNG_FN void spdec_rng_mulhilo(unsigned int a, unsigned int b, unsigned int* hi,
                                    unsigned int* lo) {
#if SPDEC_RNG_DEVICE
  *hi = __umulhi(a, b);
  *lo = a * b;
#else
  const unsigned long long p = static_cast<unsigned long long>(a) * b;
  *hi = static_cast<unsigned int>(p >> 32);
  *lo = static_cast<unsigned int>(p);
#endif
}

SPDEC_RNG_FN void spdec_philox4x32_10(const unsigned int ctr[4], const unsigned int key[2],
                                      unsigned int out[4]) {
  unsigned int c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  unsigned int k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;  // golden ratio
      k1 += 0xBB67AE85u;  // sqrt(3) - 1
    }
    unsigned int hi0, lo0, hi1, lo1;
    spdec_rng_mulhilo(0xD2511F53u, c0, &hi0, &lo0);
    spdec_rng_mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// The 128 random bits for values n = 4*block .. 4*block+3 of (seed, sample, step).
SPDEC_RNG_FN void spdec_rng_bits4(unsigned long long seed, unsigned long long sample,
                                  unsigned long long step, unsigned int block,
                                  unsigned int out[4]) {
  const unsigned int key[2] = {static_cast<unsigned int>(seed),
                               static_cast<unsigned int>(seed >> 32)};
  const unsigned int ctr[4] = {
      block, static_cast<unsigned int>(step), static_cast<unsigned int>(sample),
      static_cast<unsigned int>(sample >> 32) ^ static_cast<unsigned int>(step >> 32)};
  spdec_philox4x32_10(ctr, key, out);
}

// --- uniform, log, sin/cos ----------------------------------------------------
// u = float(r) * 2^-32 + 2^-33 in [2^-33, 1] (the product is exact).
SPDEC_RNG_FN float spdec_rng_uniform(unsigned int r) {
  return SPDEC_RNG_ADD(SPDEC_RNG_MUL(SPDEC_RNG_U2F(r), 0x1p-32f), 0x1p-33f);
}

// Natural logarithm of a positive normal float (all that spdec_rng_uniform
// returns); fdlibm's logf kernel with every contraction written out.
SPDEC_RNG_FN float spdec_rng_log(float x) {
  unsigned int ix = spdec_rng_float_bits(x);
  // Reduce x to m in [sqrt(2)/2, sqrt(2)): x = 2^k * m.
  ix += 0x3F800000u - 0x3F3504F3u;
  const int k = static_cast<int>(ix >> 23) - 0x7F;
  ix = (ix & 0x007FFFFFu) + 0x3F3504F3u;
  const float f = SPDEC_RNG_ADD(spdec_rng_bits_float(ix), -1.0f);  // m - 1, exact
  const float s = SPDEC_RNG_DIV(f, SPDEC_RNG_ADD(2.0f, f));
  const float z = SPDEC_RNG_MUL(s, s);
  const float w = SPDEC_RNG_MUL(z, z);
  // R = Lg1 z + Lg2 z^2 + Lg3 z^3 + Lg4 z^4 ~ (ln(1+s) - ln(1-s))/s - 2.
  const float t1 = SPDEC_RNG_MUL(w, SPDEC_RNG_FMA(w, 0x1.f13c4cp-3f, 0x1.999c26p-2f));
  const float r = SPDEC_RNG_FMA(z, SPDEC_RNG_FMA(w, 0x1.23d3dcp-2f, 0x1.555554p-1f), t1);
  const float hf = SPDEC_RNG_MUL(0.5f, f);  // exact
  const float dk = SPDEC_RNG_I2F(k);
  const float a = SPDEC_RNG_FMA(hf, f, r);                                  // f^2/2 + R
  const float b = SPDEC_RNG_FMA(s, a, SPDEC_RNG_MUL(dk, 0x1.2fefa2p-17f));  // + k ln2_lo
  const float c = SPDEC_RNG_ADD(SPDEC_RNG_FMA(-hf, f, b), f);               // - f^2/2 + f
  return SPDEC_RNG_FMA(dk, 0x1.62e3p-1f, c);  // + k ln2_hi (exact: ln2_hi has 17 bits)
}

// sin and cos of theta = 2*pi * r / 2^32.
SPDEC_RNG_FN void spdec_rng_sincos_turns(unsigned int r, float* sin_out, float* cos_out) {
  const unsigned int w = r + 0x20000000u;
  const unsigned int q = w >> 30;
  const int fi = static_cast<int>(w & 0x3FFFFFFFu) - 0x20000000;  // [-2^29, 2^29)
  const float f = SPDEC_RNG_MUL(SPDEC_RNG_I2F(fi), 0x1p-30f);     // [-1/2, 1/2), exact scale
  const float t = SPDEC_RNG_MUL(f, f);
  // sin(pi/2 f) = f * P(t), cos(pi/2 f) = 1 + t * Q(t), t = f^2 in [0, 1/4].
  // P(t) = S0 + t * P1(t), S0 = 0x1.921fb6p+0 + S0lo (about pi/2), summed last.
  const float p1 =
      SPDEC_RNG_FMA(t, SPDEC_RNG_FMA(t, -0x1.2d9302p-8f, 0x1.465e92p-4f), -0x1.4abbbap-1f);
  const float sn =
      SPDEC_RNG_FMA(f, 0x1.921fb6p+0f, SPDEC_RNG_MUL(f, SPDEC_RNG_FMA(t, p1, -0x1.a32bd0p-25f)));
  const float qq = SPDEC_RNG_FMA(
      t, SPDEC_RNG_FMA(t, SPDEC_RNG_FMA(t, 0x1.d9c34cp-11f, -0x1.55c5e2p-6f), 0x1.03c1dep-2f),
      -0x1.3bd3ccp+0f);
  const float cs = SPDEC_RNG_FMA(t, qq, 1.0f);
  // Rotate by q quarter turns: (cos, sin)(pi/2 (q + f)).
  float c = cs, s = sn;
  if (q & 1u) {
    c = -sn;
    s = cs;
  }
  if (q & 2u) {
    c = -c;
    s = -s;
  }
  *sin_out = s;
  *cos_out = c;
}

SPDEC_RNG_FN void spdec_rng_box_muller(unsigned int ra, unsigned int rb, float* z0, float* z1) {
  const float radius = SPDEC_RNG_SQRT(SPDEC_RNG_MUL(-2.0f, spdec_rng_log(spdec_rng_uniform(ra))));
  float s, c;
  spdec_rng_sincos_turns(rb, &s, &c);
  // radius * c + 0 as one fma: the same value as the rounded product (a -0
  // becomes +0), and a caller's `x + z` cannot be fused with the product.
  *z0 = SPDEC_RNG_FMA(radius, c, 0.0f);
  *z1 = SPDEC_RNG_FMA(radius, s, 0.0f);
}

// --- Gaussians ------------------------------------------------------------------
// The four standard Gaussians for n = 4*block .. 4*block+3 of (seed, sample, step).
SPDEC_RNG_FN void spdec_gaussian4(unsigned long long seed, unsigned long long sample,
                                  unsigned long long step, unsigned int block, float out[4]) {
  unsigned int r[4];
  spdec_rng_bits4(seed, sample, step, block, r);
  spdec_rng_box_muller(r[0], r[1], &out[0], &out[1]);
  spdec_rng_box_muller(r[2], r[3], &out[2], &out[3]);
}

// The standard Gaussian at flat index n (< 2^34) of (seed, sample, step).
SPDEC_RNG_FN float spdec_gaussian(unsigned long long seed, unsigned long long sample,
                                  unsigned long long step, unsigned long long n) {
  unsigned int r[4];
  spdec_rng_bits4(seed, sample, step, static_cast<unsigned int>(n >> 2), r);
  const unsigned int j = static_cast<unsigned int>(n & 3u);
  float z0, z1;
  spdec_rng_box_muller(r[j & 2u], r[(j & 2u) + 1u], &z0, &z1);
  return (j & 1u) ? z1 : z0;
}

#undef SPDEC_RNG_ADD
#undef SPDEC_RNG_MUL
#undef SPDEC_RNG_FMA
#undef SPDEC_RNG_DIV
#undef SPDEC_RNG_SQRT
#undef SPDEC_RNG_U2F
#undef SPDEC_RNG_I2F

#endif  // SPDEC_RNG_PHILOX_H

// INT8 GEMM (C = A B^T, int32 accumulate): reference loops and an AVX2 madd_epi16 kernel.
// Check: tst_kernels_int8.
#include "kernels/int8_gemm.h"

#include "kernels/fused_linear_q8.h"

#include <immintrin.h>

#include <cassert>
#include <vector>

#define QB_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

namespace qb::kernels {
namespace {

constexpr std::int64_t kMaxK = 131071;

inline __m256i load16_s16(const std::int8_t *p)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}

inline std::int32_t hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01001110));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10110001));
    return _mm_cvtsi128_si32(s);
}

std::int32_t dot_s8(const std::int8_t *a, const std::int8_t *b, std::int64_t k)
{
    __m256i acc = _mm256_setzero_si256();
    std::int64_t i = 0;
    for (; i + 16 <= k; i += 16)
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(load16_s16(a + i), load16_s16(b + i)));
    std::int32_t s = hsum(acc);
    for (; i < k; ++i)
        s += static_cast<std::int32_t>(a[i]) * b[i];
    return s;
}

// Two A rows against four B rows: eight int32 accumulators held in registers.
void micro_2x4(const std::int8_t *a0, const std::int8_t *a1, const std::int8_t *b,
               std::int64_t k, std::int32_t *c0, std::int32_t *c1)
{
    const std::int8_t *b0 = b, *b1 = b + k, *b2 = b + 2 * k, *b3 = b + 3 * k;
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s03 = s00;
    __m256i s10 = s00, s11 = s00, s12 = s00, s13 = s00;
    std::int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const __m256i x0 = load16_s16(a0 + i);
        const __m256i x1 = load16_s16(a1 + i);
        __m256i w = load16_s16(b0 + i);
        s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(x0, w));
        s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(x1, w));
        w = load16_s16(b1 + i);
        s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(x0, w));
        s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(x1, w));
        w = load16_s16(b2 + i);
        s02 = _mm256_add_epi32(s02, _mm256_madd_epi16(x0, w));
        s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(x1, w));
        w = load16_s16(b3 + i);
        s03 = _mm256_add_epi32(s03, _mm256_madd_epi16(x0, w));
        s13 = _mm256_add_epi32(s13, _mm256_madd_epi16(x1, w));
    }
    std::int32_t r0[4] = {hsum(s00), hsum(s01), hsum(s02), hsum(s03)};
    std::int32_t r1[4] = {hsum(s10), hsum(s11), hsum(s12), hsum(s13)};
    const std::int8_t *bs[4] = {b0, b1, b2, b3};
    for (; i < k; ++i)
        for (int j = 0; j < 4; ++j) {
            r0[j] += static_cast<std::int32_t>(a0[i]) * bs[j][i];
            r1[j] += static_cast<std::int32_t>(a1[i]) * bs[j][i];
        }
    for (int j = 0; j < 4; ++j) {
        c0[j] = r0[j];
        c1[j] = r1[j];
    }
}

// AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes, so A is taken as a + 128 (u8):
// Σ (a + 128) b = Σ a b + 128 Σ b, and 128 Σ b (one value per B row, computed once per call)
// comes off at the end. The int32 lanes wrap, but the true Σ a b fits in int32 (k ≤ kMaxK), so
// the result modulo 2^32 is exact.
QB_TARGET_VNNI inline __m512i load_bytes(const std::uint8_t *p, std::int64_t n)
{
    // Bytes past n read as 0, which adds nothing to a product.
    return n >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((__mmask64(1) << n) - 1, p);
}

// MR rows of A (as a + 128) against NB rows of B from b: c[i][j] = Σ a b. Full 64-byte chunks,
// then one masked tail; the accumulators stay in registers (MR · NB ≤ 16).
template <int MR, int NB>
QB_TARGET_VNNI void vnni_block(const std::uint8_t *const *a, const std::int8_t *b, std::int64_t k,
                               const std::int32_t *corr, std::int32_t (*c)[4])
{
    __m512i acc[MR][NB];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NB; ++j)
            acc[i][j] = _mm512_setzero_si512();
    auto chunk = [&](std::int64_t p, std::int64_t len) QB_TARGET_VNNI {
        __m512i w[NB];
        for (int j = 0; j < NB; ++j)
            w[j] = load_bytes(reinterpret_cast<const std::uint8_t *>(b + j * k + p), len);
        for (int i = 0; i < MR; ++i) {
            const __m512i x = load_bytes(a[i] + p, len);
            for (int j = 0; j < NB; ++j)
                acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, w[j]);
        }
    };
    std::int64_t p = 0;
    for (; p + 64 <= k; p += 64)
        chunk(p, 64);
    if (p < k)
        chunk(p, k - p);
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NB; ++j)
            c[i][j] = static_cast<std::int32_t>(
                static_cast<std::uint32_t>(_mm512_reduce_add_epi32(acc[i][j]))
                - static_cast<std::uint32_t>(corr[j]));
}

// Rows [i0, m) of A against B rows j .. j + NB - 1, four A rows at a time.
template <int NB>
QB_TARGET_VNNI void vnni_rows(const std::uint8_t *au, const std::int8_t *b, std::int64_t m,
                              std::int64_t n, std::int64_t k, std::int64_t j,
                              const std::int32_t *corr, std::int32_t *c)
{
    std::int32_t out[4][4];
    std::int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        const std::uint8_t *rows[4] = {au + i * k, au + (i + 1) * k, au + (i + 2) * k,
                                       au + (i + 3) * k};
        vnni_block<4, NB>(rows, b + j * k, k, corr, out);
        for (int r = 0; r < 4; ++r)
            for (int jj = 0; jj < NB; ++jj)
                c[(i + r) * n + j + jj] = out[r][jj];
    }
    for (; i < m; ++i) {
        const std::uint8_t *rows[1] = {au + i * k};
        vnni_block<1, NB>(rows, b + j * k, k, corr, out);
        for (int jj = 0; jj < NB; ++jj)
            c[i * n + j + jj] = out[0][jj];
    }
}

QB_TARGET_VNNI void gemm_cols_vnni(const std::int8_t *a, const std::int8_t *b, std::int64_t m,
                                   std::int64_t n, std::int64_t k, std::int32_t *c,
                                   std::int64_t col_begin, std::int64_t col_end)
{
    std::vector<std::uint8_t> au(static_cast<std::size_t>(m * k));
    for (std::int64_t i = 0; i < m * k; ++i)
        au[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(a[i] ^ 0x80);
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    for (std::int64_t j = col_begin; j < col_end; j += 4) {
        const std::int64_t nb = std::min<std::int64_t>(4, col_end - j);
        std::int32_t corr[4] = {};
        for (std::int64_t jj = 0; jj < nb; ++jj) {
            __m512i s = _mm512_setzero_si512();
            for (std::int64_t p = 0; p < k; p += 64)
                s = _mm512_dpbusd_epi32(
                    s, bias,
                    load_bytes(reinterpret_cast<const std::uint8_t *>(b + (j + jj) * k + p),
                               std::min<std::int64_t>(64, k - p)));
            corr[jj] = _mm512_reduce_add_epi32(s);
        }
        switch (nb) {
        case 4:
            vnni_rows<4>(au.data(), b, m, n, k, j, corr, c);
            break;
        case 3:
            vnni_rows<3>(au.data(), b, m, n, k, j, corr, c);
            break;
        case 2:
            vnni_rows<2>(au.data(), b, m, n, k, j, corr, c);
            break;
        default:
            vnni_rows<1>(au.data(), b, m, n, k, j, corr, c);
            break;
        }
    }
}

} // namespace

void gemm_s8s8s32_ref(const std::int8_t *a, const std::int8_t *b, std::int64_t m, std::int64_t n,
                      std::int64_t k, std::int32_t *c)
{
    assert(k <= kMaxK);
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            std::int32_t s = 0;
            for (std::int64_t p = 0; p < k; ++p)
                s += static_cast<std::int32_t>(a[i * k + p]) *
                     static_cast<std::int32_t>(b[j * k + p]);
            c[i * n + j] = s;
        }
}

void gemm_s8s8s32(const std::int8_t *a, const std::int8_t *b, std::int64_t m, std::int64_t n,
                  std::int64_t k, std::int32_t *c)
{
    gemm_s8s8s32_cols(a, b, m, n, k, c, 0, n);
}

void gemm_s8s8s32_cols(const std::int8_t *a, const std::int8_t *b, std::int64_t m,
                       std::int64_t n, std::int64_t k, std::int32_t *c, std::int64_t col_begin,
                       std::int64_t col_end)
{
    gemm_s8s8s32_cols(a, b, m, n, k, c, col_begin, col_end,
                      q8_vnni_supported() && active_kernel_path() == KernelPath::Avx512
                          ? KernelPath::Avx512
                          : KernelPath::Avx2);
}

void gemm_s8s8s32_cols(const std::int8_t *a, const std::int8_t *b, std::int64_t m,
                       std::int64_t n, std::int64_t k, std::int32_t *c, std::int64_t col_begin,
                       std::int64_t col_end, KernelPath path)
{
    assert(k <= kMaxK && 0 <= col_begin && col_begin <= col_end && col_end <= n);
    if (path == KernelPath::Avx512 && q8_vnni_supported()) {
        gemm_cols_vnni(a, b, m, n, k, c, col_begin, col_end);
        return;
    }
    // Blocks of four B rows (4k bytes, L1-resident for common k) are the outer loop; A streams.
    std::int64_t j = col_begin;
    for (; j + 4 <= col_end; j += 4) {
        const std::int8_t *bj = b + j * k;
        std::int64_t i = 0;
        for (; i + 2 <= m; i += 2)
            micro_2x4(a + i * k, a + (i + 1) * k, bj, k, c + i * n + j, c + (i + 1) * n + j);
        for (; i < m; ++i)
            for (std::int64_t jj = j; jj < j + 4; ++jj)
                c[i * n + jj] = dot_s8(a + i * k, b + jj * k, k);
    }
    for (; j < col_end; ++j)
        for (std::int64_t i = 0; i < m; ++i)
            c[i * n + j] = dot_s8(a + i * k, b + j * k, k);
}

} // namespace qb::kernels

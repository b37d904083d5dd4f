// Int8-activation dot-product kernels: activation quantization, the scalar reference and the
// AVX-512 VNNI path. See fused_linear_q8.h.
// Check: tst_kernels_fused_linear_q8; benchmark: quantbench-cli bench kernels.
#include "kernels/fused_linear_q8.h"

#include "kernels/fused_linear_impl.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
// GCC 12's AVX-512 reductions and shuffles start from _mm512_undefined_ps(), which it then warns
// about at every inlined use.
#pragma GCC diagnostic ignored "-Wuninitialized"
// gfni: for nibble_codes<true> only, run where the CPU has it (Q8Input::gfni); the other
// instantiations use no GFNI instruction (GCC 12 emits none of its own accord).
#define QB_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,gfni")))
#endif

namespace qb::kernels {

using namespace fused_detail;

namespace {

constexpr std::int64_t kChunk = 64; // columns per VNNI step (two activation blocks)
constexpr std::int64_t kBlock = 32; // columns per activation scale

// Natural column of kernel position p (0..63) within a 64-column chunk.
inline std::int64_t natural_column(bool nibbleOrder, std::int64_t p)
{
    if (!nibbleOrder)
        return p;
    return p < 32 ? 2 * p + 1 : 2 * (p - 32);
}

// Round to nearest, ties to even, for |v| < 2^22 (the default rounding mode; no SSE4.1 needed).
inline float round_even(float v)
{
    constexpr float kMagic = 12582912.0f; // 1.5 · 2^23
    return (v + kMagic) - kMagic;
}

inline float group_zero(const FusedWeight &w, std::int64_t k)
{
    return w.zeros_f    ? w.zeros_f[k]
           : w.zeros_u8 ? static_cast<float>(w.zeros_u8[k])
                        : static_cast<float>(1 << (w.bits - 1));
}

} // namespace

bool q8_supported(const FusedWeight &w)
{
    if (w.cols <= 0 || w.cols % kChunk != 0)
        return false;
    if (w.format == FusedFormat::Int8Row)
        return true;
    if (w.format == FusedFormat::Blockwise4)
        return w.block_size % kChunk == 0 && w.cols % w.block_size == 0;
    if (w.format != FusedFormat::IntGroup || (w.bits != 4 && w.bits != 8))
        return false;
    return w.group == 32 || w.group % kChunk == 0 || w.group >= w.cols;
}

bool q8_vnni_supported()
{
#if defined(__x86_64__) || defined(__i386__)
    return kernel_path_supported(KernelPath::Avx512) && __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

bool q8_gfni_supported()
{
#if defined(__x86_64__) || defined(__i386__)
    return q8_vnni_supported() && __builtin_cpu_supports("gfni");
#else
    return false;
#endif
}

std::array<std::int8_t, 16> q8_codebook(const FusedWeight &w)
{
    std::array<std::int8_t, 16> out{};
    for (int c = 0; c < 16; ++c)
        out[c] = static_cast<std::int8_t>(std::lround(127.0f * w.codebook[c]));
    return out;
}

float q8_weight(const FusedWeight &w, std::int64_t r, std::int64_t c)
{
    if (w.format != FusedFormat::Blockwise4)
        throw std::invalid_argument("q8_weight: only the 4-bit codebook formats round weights");
    const std::int64_t i = r * w.cols + c;
    return block_absmax(w, i / w.block_size) / 127.0f * q8_codebook(w)[code_at(w, r, c)];
}

namespace {

// Block of kernel position p (0..63) within its chunk: runs of four (one int32 lane each)
// alternate between blocks 0 and 1.
inline int block_of(std::int64_t p) { return static_cast<int>(p / 4 % 2); }

// One 64-column chunk of an activation row: its two blocks (kernel order, block_of) rounded to
// int8 with d = absmax / 127; sums[b][h]: the sum of the codes of block b that lie in column half
// h (columns 0-31 or 32-63) of the chunk.
using ChunkQuantizer = void (*)(const float *src, bool nibbleOrder, std::int8_t *q, float *d,
                                int sums[2][2]);

void quantize_chunk_ref(const float *src, bool nibbleOrder, std::int8_t *q, float *d,
                        int sums[2][2])
{
    float v[kChunk];
    for (std::int64_t p = 0; p < kChunk; ++p)
        v[p] = src[natural_column(nibbleOrder, p)];
    float amax[2] = {0.0f, 0.0f};
    for (std::int64_t p = 0; p < kChunk; ++p)
        amax[block_of(p)] = std::max(amax[block_of(p)], std::fabs(v[p]));
    float inv[2];
    for (int b = 0; b < 2; ++b) {
        d[b] = amax[b] / 127.0f;
        inv[b] = d[b] > 0.0f ? 1.0f / d[b] : 0.0f;
        sums[b][0] = sums[b][1] = 0;
    }
    for (std::int64_t p = 0; p < kChunk; ++p) {
        const int b = block_of(p);
        const float r = std::clamp(round_even(v[p] * inv[b]), -127.0f, 127.0f);
        q[p] = static_cast<std::int8_t>(r);
        sums[b][natural_column(nibbleOrder, p) / 32] += static_cast<int>(r);
    }
}

#if defined(__x86_64__) || defined(__i386__)
// The same with AVX-512: the same float operations per value (absmax, d = absmax / 127,
// 1 / d, v · (1 / d) rounded to nearest even by vcvtps2dq under the default rounding mode), so
// the codes and scales equal quantize_chunk_ref's bit for bit (tested). Register t holds
// positions 16t .. 16t + 15, of which elements 0-3 and 8-11 are block 0's.
QB_TARGET_VNNI void quantize_chunk_avx512(const float *src, bool nibbleOrder, std::int8_t *q,
                                          float *d, int sums[2][2])
{
    const __m512 a0 = _mm512_loadu_ps(src), a1 = _mm512_loadu_ps(src + 16);
    const __m512 a2 = _mm512_loadu_ps(src + 32), a3 = _mm512_loadu_ps(src + 48);
    __m512 v[4];
    if (nibbleOrder) { // positions 0-31: odd columns, 32-63: even columns
        const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                              29, 31);
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                               28, 30);
        v[0] = _mm512_permutex2var_ps(a0, odd, a1);
        v[1] = _mm512_permutex2var_ps(a2, odd, a3);
        v[2] = _mm512_permutex2var_ps(a0, even, a1);
        v[3] = _mm512_permutex2var_ps(a2, even, a3);
    } else {
        v[0] = a0;
        v[1] = a1;
        v[2] = a2;
        v[3] = a3;
    }
    constexpr __mmask16 kFirst = 0x0F0F; // block 0's lanes of each register
    const __m512 m = _mm512_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])),
                                   _mm512_max_ps(_mm512_abs_ps(v[2]), _mm512_abs_ps(v[3])));
    const float amax[2] = {_mm512_mask_reduce_max_ps(kFirst, m),
                           _mm512_mask_reduce_max_ps(static_cast<__mmask16>(~kFirst), m)};
    float inv[2];
    for (int b = 0; b < 2; ++b) {
        d[b] = amax[b] / 127.0f;
        inv[b] = d[b] > 0.0f ? 1.0f / d[b] : 0.0f;
        sums[b][0] = sums[b][1] = 0;
    }
    const __m512 invv = _mm512_mask_blend_ps(kFirst, _mm512_set1_ps(inv[1]),
                                             _mm512_set1_ps(inv[0]));
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int t = 0; t < 4; ++t) {
        const __m512i qt = _mm512_min_epi32(
            _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v[t], invv)), lo), hi);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 16 * t), _mm512_cvtepi32_epi8(qt));
        // Column half of register t: nibble order puts columns 32-63 in positions 16-31 and
        // 48-63, natural order in 32-63.
        const int h = nibbleOrder ? t % 2 : t / 2;
        sums[0][h] += _mm512_mask_reduce_add_epi32(kFirst, qt);
        sums[1][h] += _mm512_mask_reduce_add_epi32(static_cast<__mmask16>(~kFirst), qt);
    }
}

ChunkQuantizer chunk_quantizer() { return quantize_chunk_avx512; }
#else
ChunkQuantizer chunk_quantizer() { return quantize_chunk_ref; }
#endif

Q8Input prepare(const FusedWeight &w, const float *x, std::int64_t m, bool simd)
{
    if (!q8_supported(w))
        throw std::invalid_argument("q8_prepare_input: format not supported by the int8 path");
    Q8Input in;
    in.m = m;
    in.cols = w.cols;
    in.gfni = simd && q8_gfni_supported();
    in.nibble_order = (w.format == FusedFormat::IntGroup && w.bits == 4)
        || w.format == FusedFormat::Blockwise4;
    const bool lanes = w.format == FusedFormat::Blockwise4;
    const std::int64_t blocks = w.cols / kBlock;
    in.q.resize(static_cast<std::size_t>(m * w.cols));
    in.d.resize(static_cast<std::size_t>(m * blocks));
    const std::int64_t groups = w.format == FusedFormat::IntGroup ? w.groups_per_row() : 0;
    in.group_sum.assign(static_cast<std::size_t>(m * groups), 0.0f);
    // Σ d q per group in double: every product d · q is exact there, and so are the sums.
    std::vector<double> sums(static_cast<std::size_t>(groups));
    const ChunkQuantizer quantize = simd ? chunk_quantizer() : quantize_chunk_ref;
    // The group of each 32-column segment, worked out once instead of per chunk and row.
    std::vector<std::int32_t> segmentGroup(static_cast<std::size_t>(groups ? w.cols / 32 : 0));
    for (std::size_t g = 0; g < segmentGroup.size(); ++g)
        segmentGroup[g] = static_cast<std::int32_t>(static_cast<std::int64_t>(g) * 32 / w.group);
    for (std::int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * w.cols;
        std::int8_t *qi = in.q.data() + i * w.cols;
        float *di = in.d.data() + i * blocks;
        std::fill(sums.begin(), sums.end(), 0.0);
        for (std::int64_t c0 = 0; c0 < w.cols; c0 += kChunk) {
            int blockSums[2][2];
            quantize(xi + c0, in.nibble_order, qi + c0, di + c0 / kBlock, blockSums);
            if (!groups)
                continue;
            // Each 32-column half of the chunk lies in one group.
            for (int b = 0; b < 2; ++b)
                for (int h = 0; h < 2; ++h)
                    sums[static_cast<std::size_t>(segmentGroup[c0 / 32 + h])]
                        += double(di[c0 / kBlock + b]) * blockSums[b][h];
        }
        for (std::int64_t g = 0; g < groups; ++g)
            in.group_sum[static_cast<std::size_t>(i * groups + g)] = static_cast<float>(sums[g]);
    }
    if (lanes) {
        const auto book = q8_codebook(w);
        for (int c = 0; c < 16; ++c)
            in.book_lut[c] = static_cast<std::uint8_t>(book[c] + 128);
        // -128 · (sum of the four codes of each 32-bit lane): the offset the unsigned weight
        // bytes (book + 128) add to every lane's dot product.
        in.neg_lanes.resize(in.q.size() / 4);
        for (std::size_t l = 0; l < in.neg_lanes.size(); ++l)
            in.neg_lanes[l] = -128 * (in.q[4 * l] + in.q[4 * l + 1] + in.q[4 * l + 2] + in.q[4 * l + 3]);
        // The activation scales over 127 (the codebook's int8 step), once per call, so that
        // the kernels' per-chunk products are d / 127 · absmax: the same two roundings as
        // absmax / 127 · d in the other order, and no division per weight row.
        in.d_book.resize(in.d.size());
        for (std::size_t b = 0; b < in.d.size(); ++b)
            in.d_book[b] = in.d[b] / 127.0f;
    } else {
        in.d_lanes.resize(in.d.size() * 8);
        for (std::size_t k = 0; k < in.d.size() / 2; ++k)
            for (std::size_t l = 0; l < 16; ++l)
                in.d_lanes[k * 16 + l] = in.d[2 * k + l % 2];
    }
    return in;
}

} // namespace

Q8Input q8_prepare_input(const FusedWeight &w, const float *x, std::int64_t m)
{
    return prepare(w, x, m, q8_vnni_supported());
}

Q8Input q8_prepare_input_ref(const FusedWeight &w, const float *x, std::int64_t m)
{
    return prepare(w, x, m, false);
}

float q8_dequantized(const Q8Input &in, std::int64_t i, std::int64_t c)
{
    const std::int64_t c0 = c / kChunk * kChunk, local = c - c0;
    std::int64_t p = local;
    if (in.nibble_order)
        p = local % 2 ? local / 2 : 32 + local / 2;
    const float d
        = in.d[static_cast<std::size_t>(i * (in.cols / kBlock) + c0 / kBlock + block_of(p))];
    return d * in.q[static_cast<std::size_t>(i * in.cols + c0 + p)];
}

void fused_linear_q8_ref(const FusedWeight &w, const Q8Input &in, float *y,
                         std::int64_t row_begin, std::int64_t row_end)
{
    const std::int64_t blocks = w.cols / kBlock;
    const std::int64_t groups = w.format == FusedFormat::IntGroup ? w.groups_per_row() : 0;
    const bool book4 = w.format == FusedFormat::Blockwise4;
    const auto book = book4 ? q8_codebook(w) : std::array<std::int8_t, 16>{};
    // Weight (r, c) as scale · code: NF4/FP4 absmax / 127 · book8[code]; INT groups their scale
    // · code (zero points taken out after the sum); INT8 rows 1 · code (row scale after the sum).
    auto scale = [&](std::int64_t r, std::int64_t c) {
        if (book4)
            return block_absmax(w, (r * w.cols + c) / w.block_size) / 127.0;
        return groups ? double(w.scales[r * groups + c / w.group]) : 1.0;
    };
    auto code = [&](std::int64_t r, std::int64_t c) {
        return book4 ? double(book[code_at(w, r, c)]) : double(code_at(w, r, c));
    };
    for (std::int64_t r = row_begin; r < row_end; ++r)
        for (std::int64_t i = 0; i < in.m; ++i) {
            const std::int8_t *qi = in.q.data() + i * w.cols;
            double acc = 0.0;
            for (std::int64_t k = 0; k < w.cols; ++k) {
                const std::int64_t c0 = k / kChunk * kChunk;
                const std::int64_t c = c0 + natural_column(in.nibble_order, k - c0);
                const double d
                    = in.d[static_cast<std::size_t>(i * blocks + c0 / kBlock + block_of(k - c0))];
                acc += scale(r, c) * d * code(r, c) * double(qi[k]);
            }
            if (groups)
                for (std::int64_t g = 0; g < groups; ++g)
                    acc -= double(w.scales[r * groups + g]) * group_zero(w, r * groups + g)
                         * in.group_sum[static_cast<std::size_t>(i * groups + g)];
            else if (!book4)
                acc *= w.scales[r];
            y[i * w.rows + r] = static_cast<float>(w.bias ? acc + w.bias[r] : acc);
        }
}

#if defined(__x86_64__) || defined(__i386__)

namespace {

// Σ_g s_g z_g group_sum[g] of row r for one activation row.
QB_TARGET_VNNI float zero_correction(const FusedWeight &w, std::int64_t r, const float *gsum)
{
    const std::int64_t groups = w.groups_per_row();
    const float *s = w.scales + r * groups;
    if (groups < 16) {
        // Narrow rows (a few groups): the tail loop below alone, without the vector sum of
        // nothing; the same products added in the same order, so the same result.
        float total = 0.0f;
        if (w.zeros_f)
            for (std::int64_t g = 0; g < groups; ++g)
                total += s[g] * w.zeros_f[r * groups + g] * gsum[g];
        else if (w.zeros_u8)
            for (std::int64_t g = 0; g < groups; ++g)
                total += s[g] * static_cast<float>(w.zeros_u8[r * groups + g]) * gsum[g];
        else
            for (std::int64_t g = 0; g < groups; ++g)
                total += s[g] * static_cast<float>(1 << (w.bits - 1)) * gsum[g];
        return total;
    }
    __m512 acc = _mm512_setzero_ps();
    std::int64_t g = 0;
    if (!w.zeros_f && w.zeros_u8) {
        const std::uint8_t *z = w.zeros_u8 + r * groups;
        for (; g + 16 <= groups; g += 16) {
            const __m512 zf = _mm512_cvtepi32_ps(
                _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(z + g))));
            acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_loadu_ps(s + g), zf),
                                  _mm512_loadu_ps(gsum + g), acc);
        }
    } else if (w.zeros_f) {
        const float *z = w.zeros_f + r * groups;
        for (; g + 16 <= groups; g += 16)
            acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_loadu_ps(s + g), _mm512_loadu_ps(z + g)),
                                  _mm512_loadu_ps(gsum + g), acc);
    }
    float total = _mm512_reduce_add_ps(acc);
    for (; g < groups; ++g)
        total += s[g] * group_zero(w, r * groups + g) * gsum[g];
    return total;
}

#define QB_INLINE_VNNI QB_TARGET_VNNI inline __attribute__((always_inline))

// 32 bytes of 4-bit pairs in both 256-bit halves, the upper half shifted right by 4 within
// 16-bit words: byte j of the lower half holds code 2j + 1 (odd column) in its low 4 bits, byte
// j of the upper half code 2j (even column); the bits above are the neighbours' and must be
// ignored or masked. One broadcast load and one shift (a 256-bit shift and an insert before:
// the insert was one 512-bit operation more per 64 codes on the vector pipes that bound these
// loops).
QB_INLINE_VNNI __m512i nibble_pairs(const std::uint8_t *p)
{
    const __m512i v
        = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
    const __m512i shifts = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    return _mm512_srlv_epi16(v, shifts);
}

// The 64 codes of 32 bytes of 4-bit pairs: [low nibbles (odd columns), high nibbles (even
// columns)]. With GFNI one affine transform per byte does the shift and the mask: the matrix of
// each 64-bit lane keeps bits 0-3 (lower half) or moves bits 4-7 down (upper half), one vector
// operation fewer per 64 codes on the pipes that bound these loops (one thread, 128x4096 in
// cache: INT4 g128 11.0 -> 10.5 us, NF4 dq b64 15.2 -> 14.5).
template <bool Gfni> QB_INLINE_VNNI __m512i nibble_codes(const std::uint8_t *p)
{
    if constexpr (Gfni) {
        constexpr long long kLow = 0x0102040800000000LL, kHigh = 0x1020408000000000LL;
        const __m512i v
            = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
        return _mm512_gf2p8affine_epi64_epi8(
            v, _mm512_set_epi64(kHigh, kHigh, kHigh, kHigh, kLow, kLow, kLow, kLow), 0);
    } else {
        return _mm512_and_si512(nibble_pairs(p), _mm512_set1_epi8(0x0F));
    }
}

// Chunks [k, end) through step(chunk, accumulators), alternating between two sets of
// accumulators so that no multiply-add waits on the one before; an odd last chunk goes to the
// first set. Returns end.
template <class Step, class Acc>
QB_INLINE_VNNI std::int64_t alternate_chunks(std::int64_t k, std::int64_t end, Step &&step,
                                             Acc &even, Acc &odd)
{
    for (; k + 2 <= end; k += 2) {
        step(k, even);
        step(k + 1, odd);
    }
    if (k < end)
        step(k, even);
    return end;
}

// The sixteen lane scales of a chunk from its two block scales p[0], p[1] (block_of: lanes
// alternate): one 64-bit broadcast load. On Zen 4 that is a load and a vector operation, where
// a plain load of in.d_lanes is a load alone, so the INT formats' loops read d_lanes (INT4 g128,
// one thread, 128x4096 in cache: 11.3 us broadcasting, 10.5 loading).
QB_INLINE_VNNI __m512 lane_scales(const float *p)
{
    double pair;
    std::memcpy(&pair, p, sizeof pair);
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
}

// Chunk k of the activation rows against signed INT8 codes cw: a[j] += d · Σ c q per lane.
// dx[j]: activation row j's lane scales (in.d_lanes).
template <int MR>
QB_INLINE_VNNI void int8_step(__m512i cw, const std::int8_t *const *q, const float *const *dx,
                              std::int64_t k, __m512 *a)
{
    const __m512i zero = _mm512_setzero_si512();
    for (int j = 0; j < MR; ++j) {
        const __m512i xq = _mm512_loadu_si512(q[j] + k * kChunk);
        // |x| is the unsigned operand; the weight takes x's sign.
        const __m512i ws = _mm512_mask_sub_epi8(cw, _mm512_movepi8_mask(xq), zero, cw);
        const __m512i dot = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(xq), ws);
        a[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_loadu_ps(dx[j] + k * 16), a[j]);
    }
}

// The same against unsigned codes (INT-k groups), each lane's product also times sv.
template <int MR, bool Scaled>
QB_INLINE_VNNI void uint_step(__m512i cw, const std::int8_t *const *q, const float *const *dx,
                              std::int64_t k, __m512 sv, __m512 *a)
{
    const __m512i zero = _mm512_setzero_si512();
    for (int j = 0; j < MR; ++j) {
        const __m512i dot = _mm512_dpbusd_epi32(zero, cw, _mm512_loadu_si512(q[j] + k * kChunk));
        __m512 d = _mm512_loadu_ps(dx[j] + k * 16);
        if (Scaled)
            d = _mm512_mul_ps(d, sv);
        a[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, a[j]);
    }
}

// NF4 / FP4 blocks (block length a multiple of 64 within a row): the codes index a 16-byte table
// of book8 + 128 (vpshufb), which vpdpbusd multiplies with the signed activations; the lanes'
// offset 128 Σ q is taken out by starting each dot product from in.neg_lanes. ds[j]: per chunk
// the two products d_b / 127 · absmax of activation row i0 + j with weight row r
// (scale_products), so each chunk takes one multiply-add.
template <int MR, bool Gfni>
QB_TARGET_VNNI void q8_tile_book(const FusedWeight &w, const Q8Input &in,
                                 const float *const *ds, std::int64_t r, std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, chunks = cols / kChunk;
    const std::int64_t stride = cols / 2;
    const auto *row = static_cast<const std::uint8_t *>(w.codes) + r * stride;
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(in.book_lut.data())));
    const std::int8_t *q[MR];
    const std::int32_t *neg[MR];
    __m512 acc[MR], odd[MR];
    for (int j = 0; j < MR; ++j) {
        q[j] = in.q.data() + (i0 + j) * cols;
        neg[j] = in.neg_lanes.data() + (i0 + j) * cols / 4;
        acc[j] = odd[j] = _mm512_setzero_ps();
    }
    // Each chunk's products into two accumulators (even and odd chunks), so no multiply-add
    // waits on the one before.
    auto step = [&](std::int64_t k, __m512 *a) QB_TARGET_VNNI {
        // As the INT4 rows: one weight row ahead in flight (past the last row the fetch is
        // wasted, never a fault).
        if (MR == 1 && k % 2 == 0)
            _mm_prefetch(reinterpret_cast<const char *>(row + stride + k * 32), _MM_HINT_T0);
        const __m512i cw = _mm512_shuffle_epi8(lut, nibble_codes<Gfni>(row + k * 32));
        for (int j = 0; j < MR; ++j) {
            const __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512(neg[j] + k * 16), cw,
                                                    _mm512_loadu_si512(q[j] + k * kChunk));
            a[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), lane_scales(ds[j] + 2 * k), a[j]);
        }
    };
    alternate_chunks(0, chunks, step, acc, odd);
    for (int j = 0; j < MR; ++j) {
        const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[j], odd[j]));
        y[(i0 + j) * w.rows + r] = w.bias ? v + w.bias[r] : v;
    }
}

// MR activation rows against NR weight rows r .. r + NR - 1 of NF4 / FP4 blocks: each chunk of
// activations (codes, lane offsets) is loaded once for NR weight rows. Every (activation row,
// weight row) pair takes exactly q8_tile_book's steps, so results do not depend on the rows
// computed together. ds[j * NR + n]: the pair's scale products.
template <int MR, int NR, bool Gfni>
QB_TARGET_VNNI void q8_block_book(const FusedWeight &w, const Q8Input &in,
                                  const float *const *ds, std::int64_t r, std::int64_t i0,
                                  float *y)
{
    const std::int64_t cols = w.cols, chunks = cols / kChunk, stride = cols / 2;
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(in.book_lut.data())));
    const std::uint8_t *rows[NR];
    for (int n = 0; n < NR; ++n)
        rows[n] = static_cast<const std::uint8_t *>(w.codes) + (r + n) * stride;
    __m512 acc[MR][NR], odd[MR][NR];
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n)
            acc[j][n] = odd[j][n] = _mm512_setzero_ps();
    auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
        __m512i cw[NR];
        for (int n = 0; n < NR; ++n)
            cw[n] = _mm512_shuffle_epi8(lut, nibble_codes<Gfni>(rows[n] + k * 32));
        for (int j = 0; j < MR; ++j) {
            const std::int64_t row = i0 + j;
            const __m512i neg = _mm512_loadu_si512(in.neg_lanes.data() + row * cols / 4 + k * 16);
            const __m512i xq = _mm512_loadu_si512(in.q.data() + row * cols + k * kChunk);
            for (int n = 0; n < NR; ++n)
                a[j][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg, cw[n], xq)),
                                          lane_scales(ds[j * NR + n] + 2 * k), a[j][n]);
        }
    };
    alternate_chunks(0, chunks, step, acc, odd);
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n) {
            const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][n], odd[j][n]));
            y[(i0 + j) * w.rows + r + n] = w.bias ? v + w.bias[r + n] : v;
        }
}

// Activation rows i0 .. i0 + MR - 1 of the INT formats' tiles: codes, lane scales, and two
// zeroed accumulators each.
template <int MR>
QB_INLINE_VNNI void start_rows(const Q8Input &in, std::int64_t i0, const std::int8_t **q,
                               const float **dx, __m512 *acc, __m512 *odd)
{
    const std::int64_t chunks = in.cols / kChunk;
    for (int j = 0; j < MR; ++j) {
        q[j] = in.q.data() + (i0 + j) * in.cols;
        dx[j] = in.d_lanes.data() + (i0 + j) * chunks * 16;
        acc[j] = odd[j] = _mm512_setzero_ps();
    }
}

// Activation rows i0 .. i0 + MR - 1 against weight row r of INT-k groups (Nib: 4-bit codes,
// else bytes). Two accumulators per activation row (even and odd chunks) hide the latency of the
// float multiply-adds.
template <int MR, bool Nib, bool Gfni>
QB_TARGET_VNNI void q8_tile_groups(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                                   std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, chunks = cols / kChunk;
    const std::int8_t *q[MR];
    const float *dx[MR];
    __m512 acc[MR], odd[MR];
    start_rows<MR>(in, i0, q, dx, acc, odd);
    const std::int64_t groups = w.groups_per_row();
    const float *s = w.scales + r * groups;
    const std::int64_t stride = int_group_row_stride(w);
    const auto *row = static_cast<const std::uint8_t *>(w.codes) + r * stride;
    auto codes = [&](std::int64_t k) QB_TARGET_VNNI {
        // One activation row of 4-bit codes: fetch the next weight row's cache line as this
        // row's is used (the rows lie back to back, so this keeps one row ahead in flight; on
        // the 2-core VM INT4 g128 GEMV read 27-35 GB/s with it, 22-32 without). Past the last
        // row the fetch is wasted, never a fault.
        if (MR == 1 && Nib && k % 2 == 0)
            _mm_prefetch(reinterpret_cast<const char *>(row + stride + k * 32), _MM_HINT_T0);
        if constexpr (Nib)
            return nibble_codes<Gfni>(row + k * 32);
        else
            return _mm512_loadu_si512(row + k * kChunk);
    };
    const __m512 one = _mm512_set1_ps(1.0f);
    if (w.group == 32) {
        // Two groups per chunk: lane-wise scales. Nibble order puts columns 0..31 in lanes 0-3
        // and 8-11, natural order in lanes 0-7.
        const __mmask16 second = Nib ? 0xF0F0 : 0xFF00;
        auto sv = [&](std::int64_t k) QB_TARGET_VNNI {
            return _mm512_mask_blend_ps(second, _mm512_set1_ps(s[2 * k]),
                                        _mm512_set1_ps(s[2 * k + 1]));
        };
        alternate_chunks(
            0, chunks,
            [&](std::int64_t k, __m512 *a) QB_TARGET_VNNI {
                uint_step<MR, true>(codes(k), q, dx, k, sv(k), a);
            },
            acc, odd);
    } else {
        // Whole chunks per group: the group's d · Σ c q in two accumulators, scaled once.
        const std::int64_t perGroup = w.group >= cols ? chunks : w.group / kChunk;
        auto group = [&](std::int64_t g, std::int64_t k, std::int64_t end) QB_TARGET_VNNI {
            __m512 ga[MR], gb[MR];
            for (int j = 0; j < MR; ++j)
                ga[j] = gb[j] = _mm512_setzero_ps();
            alternate_chunks(
                k, end,
                [&](std::int64_t c, __m512 *a) QB_TARGET_VNNI {
                    uint_step<MR, false>(codes(c), q, dx, c, one, a);
                },
                ga, gb);
            const __m512 scale = _mm512_set1_ps(s[g]);
            for (int j = 0; j < MR; ++j)
                acc[j] = _mm512_fmadd_ps(_mm512_add_ps(ga[j], gb[j]), scale, acc[j]);
        };
        // Groups of 128 (the int method's default) as one loop of two chunks a group: the same
        // operations, without a loop per group around them (INT4 g128, one thread, 128x4096 in
        // cache: 13.3 -> 10.5 us together with GFNI nibbles; the loop alone 11.0).
        if (perGroup == 2)
            for (std::int64_t g = 0; g < groups; ++g)
                group(g, 2 * g, 2 * g + 2);
        else
            for (std::int64_t g = 0, k = 0; k < chunks; ++g, k += perGroup)
                group(g, k, k + perGroup);
    }
    for (int j = 0; j < MR; ++j) {
        const float *gsum = in.group_sum.data() + (i0 + j) * groups;
        const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[j], odd[j]))
            - zero_correction(w, r, gsum);
        y[(i0 + j) * w.rows + r] = w.bias ? v + w.bias[r] : v;
    }
}

// Activation rows i0 .. i0 + MR - 1 against weight row r of INT8 rows or INT-k groups.
template <int MR, bool Gfni>
QB_TARGET_VNNI void q8_tile(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                            std::int64_t i0, float *y)
{
    if (w.format == FusedFormat::IntGroup) {
        if (w.bits == 4)
            q8_tile_groups<MR, true, Gfni>(w, in, r, i0, y);
        else
            q8_tile_groups<MR, false, Gfni>(w, in, r, i0, y);
        return;
    }
    const std::int64_t cols = w.cols, chunks = cols / kChunk;
    const std::int8_t *q[MR];
    const float *dx[MR];
    __m512 acc[MR], odd[MR];
    start_rows<MR>(in, i0, q, dx, acc, odd);
    const auto *row = static_cast<const std::int8_t *>(w.codes) + r * cols;
    alternate_chunks(
        0, chunks,
        [&](std::int64_t k, __m512 *a) QB_TARGET_VNNI {
            int8_step<MR>(_mm512_loadu_si512(row + k * kChunk), q, dx, k, a);
        },
        acc, odd);
    for (int j = 0; j < MR; ++j) {
        const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[j], odd[j])) * w.scales[r];
        y[(i0 + j) * w.rows + r] = w.bias ? v + w.bias[r] : v;
    }
}

// MR activation rows against NR weight rows r .. r + NR - 1 (INT8 rows, or groups of whole
// chunks): each loaded chunk of codes serves MR activation rows and each activation chunk NR
// weight rows, and NR rows stream from memory at once. Every (activation row, weight row) pair
// sums its chunks in the same order and accumulators as q8_tile, so a row's result does not
// depend on the rows beside it.
template <int MR, int NR, bool Gfni>
QB_TARGET_VNNI void q8_block(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                             std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, chunks = cols / kChunk;
    const __m512i zero = _mm512_setzero_si512();
    const std::int8_t *q[MR];
    const float *dx[MR];
    for (int j = 0; j < MR; ++j) {
        q[j] = in.q.data() + (i0 + j) * cols;
        dx[j] = in.d_lanes.data() + (i0 + j) * chunks * 16;
    }
    __m512 acc[MR][NR], odd[MR][NR];
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n)
            acc[j][n] = odd[j][n] = _mm512_setzero_ps();
    if (w.format == FusedFormat::Int8Row) {
        // x + 128 is the unsigned operand; -128 Σ w per lane, started in the accumulator, takes
        // the offset back out, so each dot product is Σ q_x q_w exactly (as the sign trick).
        const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
        const std::int8_t *rows[NR];
        for (int n = 0; n < NR; ++n)
            rows[n] = static_cast<const std::int8_t *>(w.codes) + (r + n) * cols;
        auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
            __m512i cw[NR], neg[NR];
            for (int n = 0; n < NR; ++n) {
                cw[n] = _mm512_loadu_si512(rows[n] + k * kChunk);
                neg[n] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, cw[n]));
            }
            for (int j = 0; j < MR; ++j) {
                const __m512i u = _mm512_xor_si512(_mm512_loadu_si512(q[j] + k * kChunk), bias);
                const __m512 d = _mm512_loadu_ps(dx[j] + k * 16);
                for (int n = 0; n < NR; ++n)
                    a[j][n] = _mm512_fmadd_ps(
                        _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg[n], u, cw[n])), d, a[j][n]);
            }
        };
        alternate_chunks(0, chunks, step, acc, odd);
        for (int j = 0; j < MR; ++j)
            for (int n = 0; n < NR; ++n) {
                const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][n], odd[j][n]))
                    * w.scales[r + n];
                y[(i0 + j) * w.rows + r + n] = w.bias ? v + w.bias[r + n] : v;
            }
        return;
    }
    const std::int64_t groups = w.groups_per_row();
    const bool nib = w.bits == 4;
    const std::uint8_t *rows[NR];
    for (int n = 0; n < NR; ++n)
        rows[n] = static_cast<const std::uint8_t *>(w.codes) + (r + n) * int_group_row_stride(w);
    auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
        __m512i cw[NR];
        for (int n = 0; n < NR; ++n)
            cw[n] = nib ? nibble_codes<Gfni>(rows[n] + k * 32)
                        : _mm512_loadu_si512(rows[n] + k * kChunk);
        for (int j = 0; j < MR; ++j) {
            const __m512i xq = _mm512_loadu_si512(q[j] + k * kChunk);
            const __m512 d = _mm512_loadu_ps(dx[j] + k * 16);
            for (int n = 0; n < NR; ++n)
                a[j][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, cw[n], xq)),
                                          d, a[j][n]);
        }
    };
    const std::int64_t perGroup = w.group >= cols ? chunks : w.group / kChunk;
    for (std::int64_t g = 0, k = 0; k < chunks; ++g) {
        __m512 ga[MR][NR], gb[MR][NR];
        for (int j = 0; j < MR; ++j)
            for (int n = 0; n < NR; ++n)
                ga[j][n] = gb[j][n] = _mm512_setzero_ps();
        k = alternate_chunks(k, k + perGroup, step, ga, gb);
        for (int n = 0; n < NR; ++n) {
            const __m512 scale = _mm512_set1_ps(w.scales[(r + n) * groups + g]);
            for (int j = 0; j < MR; ++j)
                acc[j][n] = _mm512_fmadd_ps(_mm512_add_ps(ga[j][n], gb[j][n]), scale, acc[j][n]);
        }
    }
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n) {
            const float *gsum = in.group_sum.data() + (i0 + j) * groups;
            const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][n], odd[j][n]))
                - zero_correction(w, r + n, gsum);
            y[(i0 + j) * w.rows + r + n] = w.bias ? v + w.bias[r + n] : v;
        }
}

// Activation rows i .. m - 1 against one weight row: tiles of four, then one of the rest;
// tile(std::integral_constant<int, MR>{}, i0) runs the MR rows from i0.
template <class Tile> void activation_tiles(std::int64_t i, std::int64_t m, Tile &&tile)
{
    for (; i + 4 <= m; i += 4)
        tile(std::integral_constant<int, 4>{}, i);
    switch (m - i) {
    case 3:
        tile(std::integral_constant<int, 3>{}, i);
        break;
    case 2:
        tile(std::integral_constant<int, 2>{}, i);
        break;
    case 1:
        tile(std::integral_constant<int, 1>{}, i);
        break;
    default:
        break;
    }
}

// out[2k + h] = d[2k + h] · scale[k / perBlock] for chunks k < chunks: an activation row's block
// scales (over 127) times a weight row's block absmax, the float product the kernels would
// otherwise take per chunk. Blocks of one chunk (the default 64): eight chunks a multiply.
QB_TARGET_VNNI void scale_products(const float *d, const float *scale, std::int64_t perBlock,
                                   std::int64_t chunks, float *out)
{
    std::int64_t k = 0;
    if (perBlock == 1) {
        const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        for (; k + 8 <= chunks; k += 8) {
            const __m512 s = _mm512_permutexvar_ps(
                pairs, _mm512_castps256_ps512(_mm256_loadu_ps(scale + k)));
            _mm512_storeu_ps(out + 2 * k, _mm512_mul_ps(_mm512_loadu_ps(d + 2 * k), s));
        }
    }
    for (; k < chunks; ++k) {
        const float s = scale[k / perBlock];
        out[2 * k] = d[2 * k] * s;
        out[2 * k + 1] = d[2 * k + 1] * s;
    }
}

template <bool Gfni>
void fused_linear_q8_vnni(const FusedWeight &w, const Q8Input &in, float *y,
                          std::int64_t row_begin, std::int64_t row_end)
{
    if (w.format == FusedFormat::Blockwise4) {
        // Each weight row's block absmax decoded once (double-quantized absmax included),
        // multiplied into the activation rows' block scales per tile (one multiply per sixteen
        // scale products instead of one per chunk), then read by the tile's chunks.
        const std::int64_t chunks = w.cols / kChunk, n = 2 * chunks;
        const std::int64_t blocks = w.cols / w.block_size, perBlock = w.block_size / kChunk;
        std::vector<float> scales(static_cast<std::size_t>(2 * blocks));
        std::vector<float> products(static_cast<std::size_t>(8 * n));
        auto decode = [&](std::int64_t r, float *out) {
            block_absmax_avx512(w, r * blocks, blocks, out);
        };
        // in.d_book: the activation scales over 127 (made once by prepare). NF4 dq b64, one
        // thread, 128x4096 in cache: 16.2 us multiplying per chunk, 15.8 with the products,
        // 14.5 without a division per weight row.
        const float *ds[8];
        // ds[j * rows + k]: activation row i0 + j against the k-th of the decoded weight rows.
        auto multiply = [&](std::int64_t i0, int mr, int rows) {
            for (int j = 0; j < mr; ++j)
                for (int k = 0; k < rows; ++k) {
                    float *out = products.data() + (j * rows + k) * n;
                    scale_products(in.d_book.data() + (i0 + j) * n, scales.data() + k * blocks,
                                   perBlock, chunks, out);
                    ds[j * rows + k] = out;
                }
        };
        const std::int64_t whole = in.m / 4 * 4;
        std::int64_t r = row_begin;
        if (whole > 0) // pairs of weight rows against tiles of four activation rows
            for (; r + 2 <= row_end; r += 2) {
                decode(r, scales.data());
                decode(r + 1, scales.data() + blocks);
                for (std::int64_t i = 0; i < whole; i += 4) {
                    multiply(i, 4, 2);
                    q8_block_book<4, 2, Gfni>(w, in, ds, r, i, y);
                }
            }
        for (std::int64_t rr = row_begin; rr < row_end; ++rr) {
            if (rr < r && whole == in.m)
                continue;
            decode(rr, scales.data());
            // rows done in pairs need only the rest
            activation_tiles(rr < r ? whole : 0, in.m, [&](auto mr, std::int64_t i) {
                multiply(i, decltype(mr)::value, 1);
                q8_tile_book<decltype(mr)::value, Gfni>(w, in, ds, rr, i, y);
            });
        }
        return;
    }
    // Four activation rows against two weight rows through q8_block where the format allows
    // (not groups of 32). A single activation row runs one weight row at a time: streaming four
    // rows at once was faster on one thread but slower on two (bench kernels, 2-core VM).
    const std::int64_t whole = in.m / 4 * 4;
    const bool blocked = whole > 0 && w.group != 32;
    std::int64_t r = row_begin;
    if (blocked)
        for (; r + 2 <= row_end; r += 2)
            for (std::int64_t i = 0; i < whole; i += 4)
                q8_block<4, 2, Gfni>(w, in, r, i, y);
    for (std::int64_t rr = row_begin; rr < row_end; ++rr)
        // rows done by q8_block need only the rest
        activation_tiles(rr < r ? whole : 0, in.m, [&](auto mr, std::int64_t i) {
            q8_tile<decltype(mr)::value, Gfni>(w, in, rr, i, y);
        });
}

} // namespace

#endif

void fused_linear_q8(const FusedWeight &w, const Q8Input &in, float *y, std::int64_t row_begin,
                     std::int64_t row_end)
{
#if defined(__x86_64__) || defined(__i386__)
    if (q8_vnni_supported() && active_kernel_path() == KernelPath::Avx512) {
        if (in.gfni)
            fused_linear_q8_vnni<true>(w, in, y, row_begin, row_end);
        else
            fused_linear_q8_vnni<false>(w, in, y, row_begin, row_end);
        return;
    }
#endif
    fused_linear_q8_ref(w, in, y, row_begin, row_end);
}

} // namespace qb::kernels

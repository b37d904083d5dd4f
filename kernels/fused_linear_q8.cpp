// Int8-activation dot-product kernels: activation quantization, the scalar reference and the
// AVX-512 VNNI path. See fused_linear_q8.h.
// Check: tst_kernels_fused_linear_q8; benchmark: quantbench-cli bench kernels.
#include "kernels/fused_linear_q8.h"

#include "kernels/fused_linear_impl.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
// GCC 12's AVX-512 reductions and shuffles start from _mm512_undefined_ps(), which it then warns
// about at every inlined use.
#pragma GCC diagnostic ignored "-Wuninitialized"
// gfni, avx512vbmi: for the <Fast = true> decoders only, run where the CPU has both
// (Q8Input::gfni_vbmi); the other instantiations use neither (GCC 12 emits none of its own
// accord; checked with objdump).
#define QB_TARGET_VNNI                                                                         \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,gfni")))
#endif

namespace qb::kernels {

using namespace fused_detail;

namespace {

constexpr std::int64_t kChunk = 64;  // columns of one vpdpbusd (64 byte products)
constexpr std::int64_t kSuper = 128; // 4-bit columns of one step (a 64-byte load of codes)
constexpr std::int64_t kBlock = 32;  // columns per activation scale
// Many activation rows (prefill): blocks of this many weight rows (even) and activation rows (a
// multiple of four) meet in L2 (fused_linear_q8_vnni).
constexpr std::int64_t kWeightBlock = 64, kActivationBlock = 64;

// A row's steps: 4-bit codes run 128-column superchunks and, where cols % 128 == 64, one last
// 64-column chunk; byte codes run 64-column chunks. Step s starts at column s · first width.
inline std::int64_t step_count(bool nibbles, std::int64_t cols)
{
    return nibbles ? (cols + kSuper - 1) / kSuper : cols / kChunk;
}

// Natural column (within its step, `width` columns wide) of kernel position p. A superchunk's
// positions 0-63 meet the low nibbles of its 64 code bytes (the odd columns of its two 64-column
// halves), positions 64-127 the high nibbles (the even columns); a lone 4-bit chunk's positions
// 0-31 its odd columns, 32-63 its even ones; byte codes keep natural order.
inline std::int64_t natural_column(bool nibbles, std::int64_t width, std::int64_t p)
{
    if (!nibbles)
        return p;
    if (width == kChunk)
        return p < 32 ? 2 * p + 1 : 2 * (p - 32);
    return 64 * (p % 64 / 32) + 2 * (p % 32) + (p < 64 ? 1 : 0);
}

// Kernel position of natural column c of an activation row: the inverse of natural_column over
// the row's steps.
inline std::int64_t position_of(bool nibbles, std::int64_t cols, std::int64_t c)
{
    if (!nibbles)
        return c;
    const std::int64_t s0 = c / kSuper * kSuper;
    if (s0 + kSuper <= cols) {
        const std::int64_t local = c - s0;
        return s0 + (local % 2 ? 0 : 64) + 32 * (local / 64) + local % 64 / 2;
    }
    const std::int64_t c0 = c / kChunk * kChunk, local = c - c0;
    return c0 + (local % 2 ? local / 2 : 32 + local / 2);
}

// Round to nearest, ties to even, for |v| < 2^22 (the default rounding mode; no SSE4.1 needed).
inline float round_even(float v)
{
    constexpr float kMagic = 12582912.0f; // 1.5 · 2^23
    return (v + kMagic) - kMagic;
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

bool q8_gfni_vbmi_supported()
{
#if defined(__x86_64__) || defined(__i386__)
    return q8_vnni_supported() && __builtin_cpu_supports("gfni")
        && __builtin_cpu_supports("avx512vbmi");
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

// One 64-column chunk of an activation row (natural order at src): its two blocks of 32 columns
// rounded to int8 with d = absmax / 127, sums[b] the sum of block b's codes. The codes go to two
// 32-byte runs: 4-bit formats put the odd columns in `first` and the even ones in `second`
// (natural_column), byte formats columns 0-31 and 32-63.
using ChunkQuantizer = void (*)(const float *src, bool nibbles, std::int8_t *first,
                                std::int8_t *second, float *d, int sums[2]);

void quantize_chunk_ref(const float *src, bool nibbles, std::int8_t *first, std::int8_t *second,
                        float *d, int sums[2])
{
    float inv[2];
    for (int b = 0; b < 2; ++b) {
        float amax = 0.0f;
        for (std::int64_t c = kBlock * b; c < kBlock * (b + 1); ++c)
            amax = std::max(amax, std::fabs(src[c]));
        d[b] = amax / 127.0f;
        inv[b] = d[b] > 0.0f ? 1.0f / d[b] : 0.0f;
        sums[b] = 0;
    }
    for (std::int64_t c = 0; c < kChunk; ++c) {
        const int b = static_cast<int>(c / kBlock);
        const float r = std::clamp(round_even(src[c] * inv[b]), -127.0f, 127.0f);
        std::int8_t *dst = nibbles ? (c % 2 ? first : second) + c / 2
                                   : (b ? second : first) + c % kBlock;
        *dst = static_cast<std::int8_t>(r);
        sums[b] += static_cast<int>(r);
    }
}

#if defined(__x86_64__) || defined(__i386__)
// The same with AVX-512: the same float operations per value (absmax, d = absmax / 127,
// 1 / d, v · (1 / d) rounded to nearest even by vcvtps2dq under the default rounding mode), so
// the codes and scales equal quantize_chunk_ref's bit for bit (tested).
QB_TARGET_VNNI void quantize_chunk_avx512(const float *src, bool nibbles, std::int8_t *first,
                                          std::int8_t *second, float *d, int sums[2])
{
    const __m512 a0 = _mm512_loadu_ps(src), a1 = _mm512_loadu_ps(src + 16);
    const __m512 a2 = _mm512_loadu_ps(src + 32), a3 = _mm512_loadu_ps(src + 48);
    const float amax[2] = {
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1))),
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a2), _mm512_abs_ps(a3)))};
    __m512 inv[2];
    for (int b = 0; b < 2; ++b) {
        d[b] = amax[b] / 127.0f;
        inv[b] = _mm512_set1_ps(d[b] > 0.0f ? 1.0f / d[b] : 0.0f);
        sums[b] = 0;
    }
    // Register t goes to first (t < 2) or second (t >= 2), 16 codes each.
    __m512 v[4];
    int block[4];
    if (nibbles) { // odd columns of each block, then even ones
        const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                              29, 31);
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                               28, 30);
        v[0] = _mm512_permutex2var_ps(a0, odd, a1);
        v[1] = _mm512_permutex2var_ps(a2, odd, a3);
        v[2] = _mm512_permutex2var_ps(a0, even, a1);
        v[3] = _mm512_permutex2var_ps(a2, even, a3);
        block[0] = block[2] = 0;
        block[1] = block[3] = 1;
    } else {
        v[0] = a0;
        v[1] = a1;
        v[2] = a2;
        v[3] = a3;
        block[0] = block[1] = 0;
        block[2] = block[3] = 1;
    }
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int t = 0; t < 4; ++t) {
        const __m512i qt = _mm512_min_epi32(
            _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v[t], inv[block[t]])), lo), hi);
        std::int8_t *dst = t < 2 ? first + 16 * t : second + 16 * (t - 2);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst), _mm512_cvtepi32_epi8(qt));
        sums[block[t]] += _mm512_reduce_add_epi32(qt);
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
    in.gfni_vbmi = simd && q8_gfni_vbmi_supported();
    const bool nibbles = (w.format == FusedFormat::IntGroup && w.bits == 4)
        || w.format == FusedFormat::Blockwise4;
    in.nibble_order = nibbles;
    const std::int64_t cols = w.cols, blocks = cols / kBlock, steps = step_count(nibbles, cols);
    in.q.resize(static_cast<std::size_t>(m * cols));
    in.d.resize(static_cast<std::size_t>(m * blocks));
    const std::int64_t groups = w.format == FusedFormat::IntGroup ? w.groups_per_row() : 0;
    in.group_sum.assign(static_cast<std::size_t>(m * groups), 0.0f);
    // Σ d q per group in double: every product d · q is exact there, and so are the sums.
    std::vector<double> sums(static_cast<std::size_t>(groups));
    const ChunkQuantizer quantize = simd ? chunk_quantizer() : quantize_chunk_ref;
    for (std::int64_t i = 0; i < m; ++i) {
        const float *xi = x + i * cols;
        std::int8_t *qi = in.q.data() + i * cols;
        float *di = in.d.data() + i * blocks;
        std::fill(sums.begin(), sums.end(), 0.0);
        for (std::int64_t c0 = 0; c0 < cols; c0 += kChunk) {
            // Where the chunk's two runs of codes go (natural_column).
            std::int8_t *first = qi + c0, *second = qi + c0 + 32;
            const std::int64_t s0 = c0 / kSuper * kSuper;
            if (nibbles && s0 + kSuper <= cols) {
                const std::int64_t half = (c0 - s0) / kChunk;
                first = qi + s0 + 32 * half;
                second = qi + s0 + 64 + 32 * half;
            }
            int blockSums[2];
            quantize(xi + c0, nibbles, first, second, di + c0 / kBlock, blockSums);
            for (std::int64_t b = 0; b < 2 && groups; ++b) // a block lies in one group
                sums[static_cast<std::size_t>((c0 + kBlock * b) / w.group)]
                    += double(di[c0 / kBlock + b]) * blockSums[b];
        }
        for (std::int64_t g = 0; g < groups; ++g)
            in.group_sum[static_cast<std::size_t>(i * groups + g)] = static_cast<float>(sums[g]);
    }
    // Per step, the sixteen int32 lanes of its dot product: lane l holds positions 4l .. 4l + 3
    // (and 64 + 4l .. 64 + 4l + 3 of a superchunk, whose two halves add into the same lanes),
    // all of one block.
    auto eachLane = [&](auto &&f) {
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t s = 0; s < steps; ++s) {
                const std::int64_t c0 = s * (nibbles ? kSuper : kChunk);
                const std::int64_t width = nibbles && c0 + kSuper <= cols ? kSuper : kChunk;
                for (std::int64_t l = 0; l < 16; ++l)
                    f(i, c0, width, l, (i * steps + s) * 16 + l);
            }
    };
    if (w.format == FusedFormat::Blockwise4) {
        const auto book = q8_codebook(w);
        for (int c = 0; c < 16; ++c)
            in.book_lut[c] = static_cast<std::uint8_t>(book[c] + 128);
        // -128 · (sum of each lane's codes): the offset the unsigned weight bytes (book + 128)
        // add to the lane's dot product.
        in.neg_lanes.resize(static_cast<std::size_t>(m * steps * 16));
        eachLane([&](std::int64_t i, std::int64_t c0, std::int64_t width, std::int64_t l,
                     std::int64_t out) {
            const std::int8_t *q = in.q.data() + i * cols + c0 + 4 * l;
            std::int32_t sum = q[0] + q[1] + q[2] + q[3];
            if (width == kSuper)
                sum += q[64] + q[65] + q[66] + q[67];
            in.neg_lanes[static_cast<std::size_t>(out)] = -128 * sum;
        });
        // The activation scales over 127 (the codebook's int8 step), once per call, so that
        // the kernels' per-chunk products are d / 127 · absmax: the same two roundings as
        // absmax / 127 · d in the other order, and no division per weight row.
        in.d_book.resize(in.d.size());
        for (std::size_t b = 0; b < in.d.size(); ++b)
            in.d_book[b] = in.d[b] / 127.0f;
    }
    // Each lane's block scale: d for the INT formats, d / 127 for NF4 / FP4 (whose blocks of 64
    // make their lane scales in the step, q8_rows_book).
    const std::vector<float> &laneScale
        = w.format == FusedFormat::Blockwise4 ? in.d_book : in.d;
    in.d_lanes.resize(static_cast<std::size_t>(m * steps * 16));
    eachLane([&](std::int64_t i, std::int64_t c0, std::int64_t width, std::int64_t l,
                 std::int64_t out) {
        const std::int64_t c = c0 + natural_column(nibbles, width, 4 * l);
        in.d_lanes[static_cast<std::size_t>(out)] = laneScale[i * blocks + c / kBlock];
    });
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
    const std::int64_t p = position_of(in.nibble_order, in.cols, c);
    return in.d[static_cast<std::size_t>(i * (in.cols / kBlock) + c / kBlock)]
        * in.q[static_cast<std::size_t>(i * in.cols + p)];
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
        return groups ? double(w.row_scales(r)[c / w.group]) : 1.0;
    };
    auto code = [&](std::int64_t r, std::int64_t c) {
        return book4 ? double(book[code_at(w, r, c)]) : double(code_at(w, r, c));
    };
    for (std::int64_t r = row_begin; r < row_end; ++r)
        for (std::int64_t i = 0; i < in.m; ++i) {
            double acc = 0.0;
            for (std::int64_t c = 0; c < w.cols; ++c) {
                const std::int64_t p = position_of(in.nibble_order, w.cols, c);
                const double xq = double(in.d[static_cast<std::size_t>(i * blocks + c / kBlock)])
                    * in.q[static_cast<std::size_t>(i * w.cols + p)];
                acc += scale(r, c) * code(r, c) * xq;
            }
            if (groups)
                for (std::int64_t g = 0; g < groups; ++g)
                    acc -= double(w.row_scales(r)[g]) * w.group_zero(r, g)
                         * in.group_sum[static_cast<std::size_t>(i * groups + g)];
            else if (!book4)
                acc *= w.scales[r];
            y[i * w.rows + r] = static_cast<float>(w.bias ? acc + w.bias[r] : acc);
        }
}

#if defined(__x86_64__) || defined(__i386__)

namespace {

#define QB_INLINE_VNNI QB_TARGET_VNNI inline __attribute__((always_inline))

QB_INLINE_VNNI __mmask16 group_mask(std::int64_t groups, std::int64_t g)
{
    return groups - g >= 16 ? static_cast<__mmask16>(0xFFFF)
                            : static_cast<__mmask16>((1u << (groups - g)) - 1);
}

// s_g z_g of weight row r's groups g .. g + 15 (masked by m).
QB_INLINE_VNNI __m512 scaled_zeros(const FusedWeight &w, std::int64_t r, std::int64_t g,
                                   __mmask16 m)
{
    __m512 z;
    if (w.zeros_f)
        z = _mm512_maskz_loadu_ps(m, w.row_zeros_f(r) + g);
    else if (w.zeros_u8)
        z = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, w.row_zeros(r) + g)));
    else
        z = _mm512_set1_ps(static_cast<float>(1 << (w.bits - 1)));
    return _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w.row_scales(r) + g), z);
}

// Σ_g s_g z_g group_sum[g] (INT groups' zero points against an activation row's group sums)
// as sixteen lane sums, for activation rows i0 .. i0 + MR - 1 against weight rows r .. r + NR - 1
// (zl[j * NR + n]; s_g z_g made once per weight row), the last groups by masked loads: taken
// from the pair's accumulators before their one reduction (a function of its own with a
// reduction of its own was 11-16% of an INT4 g128 GEMV in cache).
template <int MR, int NR>
QB_INLINE_VNNI void zero_lanes(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                               std::int64_t i0, __m512 *zl)
{
    // Every row has a group; the first takes zero as its addend instead of a zeroing loop,
    // which GCC turns into a `rep stos` that cost a 4 x 2 block of 256-column rows 15%.
    const std::int64_t groups = w.groups_per_row();
    for (std::int64_t g = 0; g < groups; g += 16) {
        const __mmask16 m = group_mask(groups, g);
        __m512 sz[NR];
        for (int n = 0; n < NR; ++n)
            sz[n] = scaled_zeros(w, r + n, g, m);
        for (int j = 0; j < MR; ++j) {
            const __m512 gs
                = _mm512_maskz_loadu_ps(m, in.group_sum.data() + (i0 + j) * groups + g);
            for (int n = 0; n < NR; ++n)
                zl[j * NR + n] = _mm512_fmadd_ps(sz[n], gs,
                                                 g == 0 ? _mm512_setzero_ps() : zl[j * NR + n]);
        }
    }
}

// The sums of v[0] .. v[7], each added in _mm512_reduce_add_ps's order (lanes i and i + 8, then
// i and i + 4, i and i + 2, then the last two; GCC 12's avx512fintrin.h), so each equals that
// reduction of its vector bit for bit, by 26 vector operations instead of eight reductions' ~56
// (a 4 x 2 block of 256-column rows spent more on its eight reductions than on its products).
QB_INLINE_VNNI void reduce8(const __m512 *v, float *out)
{
    __m512 u[4]; // 128-bit lanes 0-1: v[2k]'s upper 256 bits + lower; 2-3: v[2k + 1]'s
    for (int k = 0; k < 4; ++k)
        u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int k = 0; k < 2; ++k) {
        // 128-bit lane t: vector 4k + t's upper 128 of the 256 + lower
        __m512 p = _mm512_add_ps(
            _mm512_shuffle_f32x4(u[2 * k], u[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
            _mm512_shuffle_f32x4(u[2 * k], u[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
        p = _mm512_add_ps(p, _mm512_permute_ps(p, _MM_SHUFFLE(1, 0, 3, 2)));
        p = _mm512_add_ps(p, _mm512_permute_ps(p, _MM_SHUFFLE(2, 3, 0, 1)));
        alignas(64) float lanes[16];
        _mm512_store_ps(lanes, p);
        for (int t = 0; t < 4; ++t)
            out[4 * k + t] = lanes[4 * t];
    }
}

// y[i0 + j, r + n] for a tile or block of pairs from their two accumulators acc[j * NR + n],
// odd[j * NR + n], less zl[j * NR + n] where given: each pair's vector summed as
// _mm512_reduce_add_ps would (reduce8 for 4 x 2, the same bits), times scale[n] where given,
// plus the bias. Every tile and block finishes here, so a row's result does not depend on the
// rows computed with it.
template <int MR, int NR>
QB_INLINE_VNNI void store_sums(const FusedWeight &w, std::int64_t r, std::int64_t i0,
                               const __m512 *acc, const __m512 *odd, const __m512 *zl,
                               const float *scale, float *y)
{
    __m512 v[MR * NR];
    for (int e = 0; e < MR * NR; ++e)
        v[e] = zl ? _mm512_sub_ps(_mm512_add_ps(acc[e], odd[e]), zl[e])
                  : _mm512_add_ps(acc[e], odd[e]);
    float sums[MR * NR];
    if constexpr (MR * NR == 8)
        reduce8(v, sums);
    else
        for (int e = 0; e < MR * NR; ++e)
            sums[e] = _mm512_reduce_add_ps(v[e]);
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n) {
            const float t = scale ? sums[j * NR + n] * scale[n] : sums[j * NR + n];
            y[(i0 + j) * w.rows + r + n] = w.bias ? t + w.bias[r + n] : t;
        }
}

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
template <bool Fast> QB_INLINE_VNNI __m512i nibble_codes(const std::uint8_t *p)
{
    if constexpr (Fast) {
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

// The 128 codes of a superchunk's 64 bytes of 4-bit pairs, one code a byte: lo the low nibbles
// (the odd columns of its two 64-column halves), hi the high ones (the even columns). Fast: one
// GFNI affine transform each (nibble_codes' matrices), else masks and a shift. A plain 64-byte
// load, where a lone chunk's 64 codes take a broadcast load and a transform: per 128 codes two
// vector operations instead of four.
template <bool Fast>
QB_INLINE_VNNI void nibble_halves(const std::uint8_t *p, __m512i &lo, __m512i &hi)
{
    const __m512i v = _mm512_loadu_si512(p);
    if constexpr (Fast) {
        constexpr long long kLow = 0x0102040800000000LL, kHigh = 0x1020408000000000LL;
        lo = _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64(kLow), 0);
        hi = _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64(kHigh), 0);
    } else {
        const __m512i mask = _mm512_set1_epi8(0x0F);
        lo = _mm512_and_si512(v, mask);
        hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
    }
}

// The same codes looked up in the 16-byte table that lut repeats four times (book8 + 128).
// Fast: vpermb (AVX-512 VBMI) reads only an index's low six bits and the table repeats every 16
// bytes, so neither half needs a mask (the high half a shift: the byte above's bits land in
// bits 4-7, which the repetition ignores); else masks and vpshufb.
template <bool Fast>
QB_INLINE_VNNI void book_halves(const std::uint8_t *p, __m512i lut, __m512i &lo, __m512i &hi)
{
    const __m512i v = _mm512_loadu_si512(p);
    if constexpr (Fast) {
        lo = _mm512_permutexvar_epi8(v, lut);
        hi = _mm512_permutexvar_epi8(_mm512_srli_epi16(v, 4), lut);
    } else {
        const __m512i mask = _mm512_set1_epi8(0x0F);
        lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, mask));
        hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
    }
}

// How a 4-bit INT row's group scales spread over a superchunk's lanes (lane l: columns c0 + 8l
// .. c0 + 8l + 7): four groups of 32 (four lanes each), groups that are a multiple of 128 (or the
// whole row) one scale, other multiples of 64 one per half. A template parameter of the loops, so
// that no step tests it.
enum class GroupLanes { Quarters, Halves, Whole };

// f(std::integral_constant<GroupLanes, L>{}) for w's spread.
template <class F> void with_group_lanes(const FusedWeight &w, F &&f)
{
    if (w.group == 32)
        f(std::integral_constant<GroupLanes, GroupLanes::Quarters>{});
    else if (w.group % kSuper == 0 || w.group >= w.cols)
        f(std::integral_constant<GroupLanes, GroupLanes::Whole>{});
    else
        f(std::integral_constant<GroupLanes, GroupLanes::Halves>{});
}

// The group of column c: a shift where the group length is a power of two or the whole row, else
// a division (a 64-bit division per step cost INT4 g128 more than its arithmetic).
struct GroupOf
{
    int shift = -1;
    std::int64_t group = 1;
    explicit GroupOf(const FusedWeight &w) : group(w.group)
    {
        if (w.group >= w.cols)
            shift = 62;
        else if ((w.group & (w.group - 1)) == 0)
            shift = __builtin_ctzll(static_cast<unsigned long long>(w.group));
    }
    std::int64_t operator()(std::int64_t c) const { return shift >= 0 ? c >> shift : c / group; }
};

// The lanes' group scales of the superchunk at column c0 (s: the weight row's scales).
template <GroupLanes L>
QB_INLINE_VNNI __m512 super_group_scales(const float *s, const GroupOf &groupOf, std::int64_t c0)
{
    if constexpr (L == GroupLanes::Quarters)
        return _mm512_permutexvar_ps(
            _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
            _mm512_castps128_ps512(_mm_loadu_ps(s + c0 / 32)));
    else if constexpr (L == GroupLanes::Halves)
        return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(s[groupOf(c0)]),
                                    _mm512_set1_ps(s[groupOf(c0 + 64)]));
    else
        return _mm512_set1_ps(s[groupOf(c0)]);
}

// The same for a lone last chunk at c0: lanes 0-7 hold its odd columns, 8-15 its even ones, so
// with groups of 32 lanes 0-3 and 8-11 are the first group's.
template <GroupLanes L>
QB_INLINE_VNNI __m512 chunk_group_scales(const float *s, const GroupOf &groupOf, std::int64_t c0)
{
    if constexpr (L == GroupLanes::Quarters)
        return _mm512_mask_blend_ps(0xF0F0, _mm512_set1_ps(s[c0 / 32]),
                                    _mm512_set1_ps(s[c0 / 32 + 1]));
    else
        return _mm512_set1_ps(s[groupOf(c0)]);
}

// a + (lane dot products) · dl · sv for one activation row: a superchunk's two halves chained in
// one dot product per lane (lo against positions 0-63 of q, hi against 64-127), or a lone
// chunk's codes cw against q's 64. dl: the lanes' activation scales, sv their group scales. The
// tiles and the blocks of rows both take these, so a row's result does not depend on the rows
// computed with it.
QB_INLINE_VNNI __m512 super_fma(__m512i lo, __m512i hi, const std::int8_t *q, const float *dl,
                                __m512 sv, __m512 a)
{
    const __m512i dot = _mm512_dpbusd_epi32(
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(q)), hi,
        _mm512_loadu_si512(q + 64));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(_mm512_loadu_ps(dl), sv), a);
}

QB_INLINE_VNNI __m512 chunk_fma(__m512i cw, const std::int8_t *q, const float *dl, __m512 sv,
                                __m512 a)
{
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), cw, _mm512_loadu_si512(q));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(_mm512_loadu_ps(dl), sv), a);
}

// The NF4 / FP4 twins: each lane's dot product starts from its offset neg (in.neg_lanes) and is
// scaled by its block's product d / 127 · absmax (ds: per 64-column chunk the products of its
// two activation blocks, scale_products). A superchunk's lanes 0-3, 4-7, 8-11 and 12-15 are
// columns 0-31, 32-63, 64-95 and 96-127 (ds[0..3]); a lone chunk's lanes 0-3 and 8-11 columns
// 0-31, the others 32-63.
QB_INLINE_VNNI __m512 book_super_fma(__m512i lo, __m512i hi, const std::int8_t *q,
                                     const std::int32_t *neg, const float *ds, __m512 a)
{
    const __m512i dot = _mm512_dpbusd_epi32(
        _mm512_dpbusd_epi32(_mm512_loadu_si512(neg), lo, _mm512_loadu_si512(q)), hi,
        _mm512_loadu_si512(q + 64));
    const __m512 scales
        = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                _mm512_castps128_ps512(_mm_loadu_ps(ds)));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, a);
}

QB_INLINE_VNNI __m512 book_chunk_fma(__m512i cw, const std::int8_t *q, const std::int32_t *neg,
                                     const float *ds, __m512 a)
{
    const __m512i dot
        = _mm512_dpbusd_epi32(_mm512_loadu_si512(neg), cw, _mm512_loadu_si512(q));
    const __m512 scales = _mm512_permutexvar_ps(
        _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1),
        _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double *>(ds)))));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, a);
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

// The same against unsigned codes (8-bit INT groups), each lane's product also times sv.
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
// of book8 + 128, which vpdpbusd multiplies with the signed activations; the lanes' offset
// 128 Σ q is taken out by starting each dot product from in.neg_lanes. ds[j]: per chunk the two
// products d_b / 127 · absmax of activation row i0 + j with weight row r (scale_products).
// Superchunks, then a lone last chunk where cols % 128 == 64.
template <int MR, bool Fast>
QB_TARGET_VNNI void q8_tile_book(const FusedWeight &w, const Q8Input &in,
                                 const float *const *ds, std::int64_t r, std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, supers = cols / kSuper, steps = step_count(true, cols);
    const std::int64_t stride = w.code_stride;
    const std::uint8_t *row = w.row_codes(r);
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(in.book_lut.data())));
    const std::int8_t *q[MR];
    const std::int32_t *neg[MR];
    __m512 acc[MR], odd[MR];
    for (int j = 0; j < MR; ++j) {
        q[j] = in.q.data() + (i0 + j) * cols;
        neg[j] = in.neg_lanes.data() + (i0 + j) * steps * 16;
        acc[j] = odd[j] = _mm512_setzero_ps();
    }
    // Even and odd superchunks into two accumulators, so no multiply-add waits on the one before.
    auto step = [&](std::int64_t k, __m512 *a) QB_TARGET_VNNI {
        // As the INT4 rows: one weight row ahead in flight (past the last row the fetch is
        // wasted, never a fault).
        if (MR == 1)
            _mm_prefetch(reinterpret_cast<const char *>(row + stride + k * 64), _MM_HINT_T0);
        __m512i lo, hi;
        book_halves<Fast>(row + k * 64, lut, lo, hi);
        for (int j = 0; j < MR; ++j)
            a[j] = book_super_fma(lo, hi, q[j] + k * kSuper, neg[j] + k * 16, ds[j] + 4 * k, a[j]);
    };
    alternate_chunks(0, supers, step, acc, odd);
    if (supers < steps) {
        const std::int64_t c0 = supers * kSuper;
        const __m512i cw = _mm512_shuffle_epi8(lut, nibble_codes<Fast>(row + c0 / 2));
        for (int j = 0; j < MR; ++j)
            acc[j] = book_chunk_fma(cw, q[j] + c0, neg[j] + supers * 16, ds[j] + 4 * supers,
                                    acc[j]);
    }
    store_sums<MR, 1>(w, r, i0, acc, odd, nullptr, nullptr, y);
}

// What every NF4 / FP4 block of tiles reads besides its scales: the codebook table (book8 + 128),
// NR weight rows' codes from r, MR activation rows' codes and lane offsets from i0.
template <int MR, int NR> struct BookBlock
{
    __m512i lut;
    const std::uint8_t *rows[NR];
    const std::int8_t *q[MR];
    const std::int32_t *neg[MR];

    QB_INLINE_VNNI BookBlock(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                             std::int64_t i0)
    {
        const std::int64_t steps = step_count(true, w.cols);
        lut = _mm512_broadcast_i32x4(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(in.book_lut.data())));
        for (int n = 0; n < NR; ++n)
            rows[n] = w.row_codes(r + n);
        for (int j = 0; j < MR; ++j) {
            q[j] = in.q.data() + (i0 + j) * w.cols;
            neg[j] = in.neg_lanes.data() + (i0 + j) * steps * 16;
        }
    }
};

// Zeroed accumulators of an MR x NR block, two a pair (even and odd steps).
template <int MR, int NR>
QB_INLINE_VNNI void zero_block(__m512 (&acc)[MR][NR], __m512 (&odd)[MR][NR])
{
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n)
            acc[j][n] = odd[j][n] = _mm512_setzero_ps();
}

// MR activation rows against NR weight rows r .. r + NR - 1 of NF4 / FP4 blocks: each step of
// activations (codes, lane offsets) is loaded once for NR weight rows. Every (activation row,
// weight row) pair takes exactly q8_tile_book's steps, so results do not depend on the rows
// computed together. ds[j * NR + n]: the pair's scale products.
template <int MR, int NR, bool Fast>
QB_TARGET_VNNI void q8_block_book(const FusedWeight &w, const Q8Input &in,
                                  const float *const *ds, std::int64_t r, std::int64_t i0,
                                  float *y)
{
    const std::int64_t supers = w.cols / kSuper, steps = step_count(true, w.cols);
    const BookBlock<MR, NR> b(w, in, r, i0);
    __m512 acc[MR][NR], odd[MR][NR];
    zero_block(acc, odd);
    auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
        __m512i lo[NR], hi[NR];
        for (int n = 0; n < NR; ++n)
            book_halves<Fast>(b.rows[n] + k * 64, b.lut, lo[n], hi[n]);
        for (int j = 0; j < MR; ++j)
            for (int n = 0; n < NR; ++n)
                a[j][n] = book_super_fma(lo[n], hi[n], b.q[j] + k * kSuper, b.neg[j] + k * 16,
                                         ds[j * NR + n] + 4 * k, a[j][n]);
    };
    alternate_chunks(0, supers, step, acc, odd);
    if (supers < steps) {
        const std::int64_t c0 = supers * kSuper;
        for (int n = 0; n < NR; ++n) {
            const __m512i cw = _mm512_shuffle_epi8(b.lut, nibble_codes<Fast>(b.rows[n] + c0 / 2));
            for (int j = 0; j < MR; ++j)
                acc[j][n] = book_chunk_fma(cw, b.q[j] + c0, b.neg[j] + supers * 16,
                                           ds[j * NR + n] + 4 * supers, acc[j][n]);
        }
    }
    store_sums<MR, NR>(w, r, i0, &acc[0][0], &odd[0][0], nullptr, nullptr, y);
}

// Activation rows i0 .. i0 + MR - 1 against weight rows r .. r + NR - 1 of NF4 / FP4 blocks of
// 64 whose absmax is at hand (absmax[n]: row r + n's, decoded or float32 where it lies):
// q8_block_book's steps with each lane's scale d / 127 · absmax made in the step, from
// in.d_lanes and the row's two block absmax, instead of read from a table of products made per
// tile first (for short rows that table cost more than the steps). The same two factors, so
// the same products and the same bits.
template <int MR, int NR, bool Fast>
QB_TARGET_VNNI void q8_rows_book(const FusedWeight &w, const Q8Input &in,
                                 const float *const *absmax, std::int64_t r, std::int64_t i0,
                                 float *y)
{
    const std::int64_t supers = w.cols / kSuper, steps = step_count(true, w.cols);
    const BookBlock<MR, NR> b(w, in, r, i0);
    __m512 acc[MR][NR], odd[MR][NR];
    zero_block(acc, odd);
    const float *dl[MR];
    for (int j = 0; j < MR; ++j)
        dl[j] = in.d_lanes.data() + (i0 + j) * steps * 16;
    // lanes 0-7 take the first block's absmax, 8-15 the second's
    const __m512i halves = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
        __m512i lo[NR], hi[NR];
        __m512 s[NR];
        for (int n = 0; n < NR; ++n) {
            book_halves<Fast>(b.rows[n] + k * 64, b.lut, lo[n], hi[n]);
            s[n] = _mm512_permutexvar_ps(
                halves, _mm512_castpd_ps(_mm512_castpd128_pd512(
                            _mm_load_sd(reinterpret_cast<const double *>(absmax[n] + 2 * k)))));
        }
        for (int j = 0; j < MR; ++j) {
            const __m512 d = _mm512_loadu_ps(dl[j] + 16 * k);
            const __m512i start = _mm512_loadu_si512(b.neg[j] + 16 * k);
            const __m512i xlo = _mm512_loadu_si512(b.q[j] + k * kSuper);
            const __m512i xhi = _mm512_loadu_si512(b.q[j] + k * kSuper + 64);
            for (int n = 0; n < NR; ++n) {
                const __m512i dot
                    = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo[n], xlo), hi[n], xhi);
                a[j][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, s[n]),
                                          a[j][n]);
            }
        }
    };
    alternate_chunks(0, supers, step, acc, odd);
    if (supers < steps) {
        const std::int64_t c0 = supers * kSuper;
        for (int n = 0; n < NR; ++n) {
            const __m512i cw = _mm512_shuffle_epi8(b.lut, nibble_codes<Fast>(b.rows[n] + c0 / 2));
            const __m512 s = _mm512_set1_ps(absmax[n][2 * supers]);
            for (int j = 0; j < MR; ++j) {
                const __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512(b.neg[j] + supers * 16),
                                                        cw, _mm512_loadu_si512(b.q[j] + c0));
                acc[j][n] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(dot),
                    _mm512_mul_ps(_mm512_loadu_ps(dl[j] + 16 * supers), s), acc[j][n]);
            }
        }
    }
    store_sums<MR, NR>(w, r, i0, &acc[0][0], &odd[0][0], nullptr, nullptr, y);
}

// Activation rows i0 .. i0 + MR - 1 of the INT formats' tiles: codes, lane scales, and two
// zeroed accumulators each.
template <int MR>
QB_INLINE_VNNI void start_rows(const Q8Input &in, std::int64_t i0, const std::int8_t **q,
                               const float **dx, __m512 *acc, __m512 *odd)
{
    const std::int64_t steps = step_count(in.nibble_order, in.cols);
    for (int j = 0; j < MR; ++j) {
        q[j] = in.q.data() + (i0 + j) * in.cols;
        dx[j] = in.d_lanes.data() + (i0 + j) * steps * 16;
        acc[j] = odd[j] = _mm512_setzero_ps();
    }
}

// y of INT groups' pairs (store_sums' layout), less the zero points' share.
template <int MR, int NR>
QB_INLINE_VNNI void finish_int(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                               std::int64_t i0, const __m512 *acc, const __m512 *odd, float *y)
{
    __m512 zl[MR * NR];
    zero_lanes<MR, NR>(w, in, r, i0, zl);
    store_sums<MR, NR>(w, r, i0, acc, odd, zl, nullptr, y);
}

// Activation rows i0 .. i0 + MR - 1 against weight row r of 4-bit INT groups, a superchunk a
// step: the low and high codes' dot products chained into one per lane (a lane's eight columns
// share an activation block and a group), then one conversion and one multiply-add (one thread,
// 128x4096 in cache: INT4 g128 8.8 -> 6.8 us against 64-column steps; docs/kernels.md).
template <int MR, bool Fast, GroupLanes L>
QB_TARGET_VNNI void q8_tile_nibbles(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                                    std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, supers = cols / kSuper;
    const std::int8_t *q[MR];
    const float *dx[MR];
    __m512 acc[MR], odd[MR];
    start_rows<MR>(in, i0, q, dx, acc, odd);
    const float *s = w.row_scales(r);
    const std::int64_t stride = w.code_stride;
    const std::uint8_t *row = w.row_codes(r);
    const GroupOf groupOf(w);
    alternate_chunks(
        0, supers,
        [&](std::int64_t k, __m512 *a) QB_TARGET_VNNI {
            // One activation row: fetch the next weight row's line as this row's is used (the
            // rows lie back to back, so this keeps one row ahead in flight; on the 2-core VM
            // INT4 g128 GEMV read 27-35 GB/s with it, 22-32 without). Past the last row the
            // fetch is wasted, never a fault.
            if (MR == 1)
                _mm_prefetch(reinterpret_cast<const char *>(row + stride + k * 64), _MM_HINT_T0);
            __m512i lo, hi;
            nibble_halves<Fast>(row + k * 64, lo, hi);
            const __m512 sv = super_group_scales<L>(s, groupOf, k * kSuper);
            for (int j = 0; j < MR; ++j)
                a[j] = super_fma(lo, hi, q[j] + k * kSuper, dx[j] + k * 16, sv, a[j]);
        },
        acc, odd);
    if (supers * kSuper < cols) {
        const std::int64_t c0 = supers * kSuper;
        const __m512i cw = nibble_codes<Fast>(row + c0 / 2);
        const __m512 sv = chunk_group_scales<L>(s, groupOf, c0);
        for (int j = 0; j < MR; ++j)
            acc[j] = chunk_fma(cw, q[j] + c0, dx[j] + supers * 16, sv, acc[j]);
    }
    finish_int<MR, 1>(w, in, r, i0, acc, odd, y);
}

// MR activation rows against NR weight rows of 4-bit INT groups: q8_tile_nibbles' steps for
// every pair, each step's codes decoded once for MR rows and its activations loaded once for NR.
template <int MR, int NR, bool Fast, GroupLanes L>
QB_TARGET_VNNI void q8_block_nibbles(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                                     std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, supers = cols / kSuper;
    const std::int8_t *q[MR];
    const float *dx[MR];
    __m512 acc[MR][NR], odd[MR][NR];
    for (int j = 0; j < MR; ++j) {
        q[j] = in.q.data() + (i0 + j) * cols;
        dx[j] = in.d_lanes.data() + (i0 + j) * step_count(true, cols) * 16;
    }
    for (int j = 0; j < MR; ++j)
        for (int n = 0; n < NR; ++n)
            acc[j][n] = odd[j][n] = _mm512_setzero_ps();
    const std::uint8_t *rows[NR];
    const float *s[NR];
    for (int n = 0; n < NR; ++n) {
        rows[n] = w.row_codes(r + n);
        s[n] = w.row_scales(r + n);
    }
    const GroupOf groupOf(w);
    auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
        __m512i lo[NR], hi[NR];
        __m512 sv[NR];
        for (int n = 0; n < NR; ++n) {
            nibble_halves<Fast>(rows[n] + k * 64, lo[n], hi[n]);
            sv[n] = super_group_scales<L>(s[n], groupOf, k * kSuper);
        }
        for (int j = 0; j < MR; ++j)
            for (int n = 0; n < NR; ++n)
                a[j][n] = super_fma(lo[n], hi[n], q[j] + k * kSuper, dx[j] + k * 16, sv[n],
                                    a[j][n]);
    };
    alternate_chunks(0, supers, step, acc, odd);
    if (supers * kSuper < cols) {
        const std::int64_t c0 = supers * kSuper;
        for (int n = 0; n < NR; ++n) {
            const __m512i cw = nibble_codes<Fast>(rows[n] + c0 / 2);
            const __m512 sv = chunk_group_scales<L>(s[n], groupOf, c0);
            for (int j = 0; j < MR; ++j)
                acc[j][n] = chunk_fma(cw, q[j] + c0, dx[j] + supers * 16, sv, acc[j][n]);
        }
    }
    finish_int<MR, NR>(w, in, r, i0, &acc[0][0], &odd[0][0], y);
}

// Activation rows i0 .. i0 + MR - 1 against weight row r of 8-bit INT groups. Two accumulators
// per activation row (even and odd chunks) hide the latency of the float multiply-adds.
template <int MR>
QB_TARGET_VNNI void q8_tile_groups(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                                   std::int64_t i0, float *y)
{
    const std::int64_t cols = w.cols, chunks = cols / kChunk;
    const std::int8_t *q[MR];
    const float *dx[MR];
    __m512 acc[MR], odd[MR];
    start_rows<MR>(in, i0, q, dx, acc, odd);
    const float *s = w.row_scales(r);
    const std::uint8_t *row = w.row_codes(r);
    auto codes = [&](std::int64_t k) QB_TARGET_VNNI {
        return _mm512_loadu_si512(row + k * kChunk);
    };
    const __m512 one = _mm512_set1_ps(1.0f);
    if (w.group == 32) {
        // Two groups per chunk: lane-wise scales, columns 0..31 in lanes 0-7.
        auto sv = [&](std::int64_t k) QB_TARGET_VNNI {
            return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(s[2 * k]),
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
        for (std::int64_t g = 0, k = 0; k < chunks; ++g, k += perGroup) {
            __m512 ga[MR], gb[MR];
            for (int j = 0; j < MR; ++j)
                ga[j] = gb[j] = _mm512_setzero_ps();
            alternate_chunks(
                k, k + perGroup,
                [&](std::int64_t c, __m512 *a) QB_TARGET_VNNI {
                    uint_step<MR, false>(codes(c), q, dx, c, one, a);
                },
                ga, gb);
            const __m512 scale = _mm512_set1_ps(s[g]);
            for (int j = 0; j < MR; ++j)
                acc[j] = _mm512_fmadd_ps(_mm512_add_ps(ga[j], gb[j]), scale, acc[j]);
        }
    }
    finish_int<MR, 1>(w, in, r, i0, acc, odd, y);
}

// Activation rows i0 .. i0 + MR - 1 against weight row r of INT8 rows or INT-k groups.
template <int MR, bool Fast>
QB_TARGET_VNNI void q8_tile(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                            std::int64_t i0, float *y)
{
    if (w.format == FusedFormat::IntGroup) {
        if (w.bits == 4)
            with_group_lanes(w, [&](auto lanes) {
                q8_tile_nibbles<MR, Fast, decltype(lanes)::value>(w, in, r, i0, y);
            });
        else
            q8_tile_groups<MR>(w, in, r, i0, y);
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
    store_sums<MR, 1>(w, r, i0, acc, odd, nullptr, w.scales + r, y);
}


// MR activation rows against NR weight rows r .. r + NR - 1 (INT8 rows, or groups of whole
// chunks; 4-bit groups: q8_block_nibbles): each loaded chunk of codes serves MR activation rows
// and each activation chunk NR weight rows, and NR rows stream from memory at once. Every
// (activation row, weight row) pair sums its chunks in the same order and accumulators as
// q8_tile, so a row's result does not depend on the rows beside it.
template <int MR, int NR, bool Fast>
QB_TARGET_VNNI void q8_block(const FusedWeight &w, const Q8Input &in, std::int64_t r,
                             std::int64_t i0, float *y)
{
    if (w.format == FusedFormat::IntGroup && w.bits == 4) {
        with_group_lanes(w, [&](auto lanes) {
            q8_block_nibbles<MR, NR, Fast, decltype(lanes)::value>(w, in, r, i0, y);
        });
        return;
    }
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
        store_sums<MR, NR>(w, r, i0, &acc[0][0], &odd[0][0], nullptr, w.scales + r, y);
        return;
    }
    const std::uint8_t *rows[NR];
    for (int n = 0; n < NR; ++n)
        rows[n] = w.row_codes(r + n);
    auto step = [&](std::int64_t k, __m512 (*a)[NR]) QB_TARGET_VNNI {
        __m512i cw[NR];
        for (int n = 0; n < NR; ++n)
            cw[n] = _mm512_loadu_si512(rows[n] + k * kChunk);
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
            const __m512 scale = _mm512_set1_ps(w.row_scales(r + n)[g]);
            for (int j = 0; j < MR; ++j)
                acc[j][n] = _mm512_fmadd_ps(_mm512_add_ps(ga[j][n], gb[j][n]), scale, acc[j][n]);
        }
    }
    finish_int<MR, NR>(w, in, r, i0, &acc[0][0], &odd[0][0], y);
}

// out[2k + h] = d[2k + h] · scale[k / perBlock] for chunks k < chunks: an activation row's block
// scales (over 127) times a weight row's block absmax, the float product the kernels would
// otherwise take per chunk. Blocks of one chunk (the default 64): eight chunks a multiply, and
// with maskedTail the last ones masked (rows of 256 columns have four: a scalar loop there cost a
// 4 x 2 block of NF4 rows more than its products). Not right after the scales were decoded,
// though: a 512-bit load of values just written one float at a time waits for those stores (one
// activation row, NF4 640x256 in cache: 15 us scalar, 19 masked).
QB_TARGET_VNNI void scale_products(const float *d, const float *scale, std::int64_t perBlock,
                                   std::int64_t chunks, bool maskedTail, float *out)
{
    std::int64_t k = 0;
    if (perBlock == 1) {
        const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        for (; k + 8 <= chunks; k += 8) {
            const __m512 s = _mm512_permutexvar_ps(
                pairs, _mm512_castps256_ps512(_mm256_loadu_ps(scale + k)));
            _mm512_storeu_ps(out + 2 * k, _mm512_mul_ps(_mm512_loadu_ps(d + 2 * k), s));
        }
        for (; maskedTail && k < chunks; k += 8) {
            const std::int64_t left = std::min<std::int64_t>(8, chunks - k);
            const __mmask16 m8 = static_cast<__mmask16>((1u << left) - 1);
            const __mmask16 m16 = static_cast<__mmask16>((1u << (2 * left)) - 1);
            const __m512 s = _mm512_permutexvar_ps(pairs, _mm512_maskz_loadu_ps(m8, scale + k));
            _mm512_mask_storeu_ps(out + 2 * k, m16,
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(m16, d + 2 * k), s));
        }
    }
    for (; k < chunks; ++k) {
        const float s = scale[k / perBlock];
        out[2 * k] = d[2 * k] * s;
        out[2 * k + 1] = d[2 * k + 1] * s;
    }
}

// Double-quantized absmax (map[code] · scale + offset, as block_absmax) of flattened blocks
// first .. first + n - 1, 64 at a time by byte-plane table lookups (AVX-512 VBMI `vpermi2b`):
// each byte of the 256-entry float map is its own 256-byte table, four 64-byte registers, and
// two lookups and a blend by the code's top bit give that byte of 64 values; unpacking the four
// planes gives the floats. ~30 vector operations per 64 blocks against ~80 for
// block_absmax_avx512's sixteen-at-a-time permutes and blends; the same values, so the same
// bits (the tests run NF4 double-quantized cases with and without it).
class DqByteTables
{
public:
    QB_TARGET_VNNI explicit DqByteTables(const FusedWeight &w)
    {
        alignas(64) std::uint8_t planes[4][256];
        for (int c = 0; c < 256; ++c) {
            std::uint32_t bits;
            std::memcpy(&bits, w.dq_map + c, sizeof bits);
            for (int p = 0; p < 4; ++p)
                planes[p][c] = static_cast<std::uint8_t>(bits >> (8 * p));
        }
        for (int p = 0; p < 4; ++p)
            for (int t = 0; t < 4; ++t)
                m_table[p][t] = _mm512_load_si512(planes[p] + 64 * t);
    }

    QB_TARGET_VNNI void decode(const FusedWeight &w, std::int64_t first, std::int64_t n,
                               float *out) const
    {
        const std::int64_t i = each_sixteen(w, first, n, [&](std::int64_t b, __m512 v)
                                                QB_TARGET_VNNI { _mm512_storeu_ps(out + b, v); });
        if (i < n)
            block_absmax_avx512(w, first + i, n - i, out + i);
    }

    // scale_products of one activation row (d: its n scales over 127, two a chunk) with the
    // decoded absmax of blocks first .. first + n - 1, blocks of one chunk: out[2b + h] =
    // d[2b + h] · absmax_b, taken straight from the decoded registers. The same products as
    // decode then scale_products, without the round trip through memory (one activation row,
    // NF4 dq 128x4096 in cache: the products' pass was 16% of the time).
    QB_TARGET_VNNI void decode_products(const FusedWeight &w, std::int64_t first, std::int64_t n,
                                        const float *d, float *out) const
    {
        const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
        const std::int64_t i = each_sixteen(w, first, n, [&](std::int64_t b, __m512 v)
                                                QB_TARGET_VNNI {
            _mm512_storeu_ps(out + 2 * b,
                             _mm512_mul_ps(_mm512_loadu_ps(d + 2 * b), _mm512_permutexvar_ps(lo, v)));
            _mm512_storeu_ps(out + 2 * b + 16, _mm512_mul_ps(_mm512_loadu_ps(d + 2 * b + 16),
                                                             _mm512_permutexvar_ps(hi, v)));
        });
        if (i < n) { // under 64 blocks left
            float rest[64];
            block_absmax_avx512(w, first + i, n - i, rest);
            scale_products(d + 2 * i, rest, 1, n - i, false, out + 2 * i);
        }
    }

private:
    // emit(b, v): the absmax of blocks first + b .. first + b + 15, for b = 0, 16, ... while 64
    // remain; returns how many were decoded. The blocks lie in one row (their codes follow one
    // another in either layout).
    template <class Emit>
    QB_TARGET_VNNI std::int64_t each_sixteen(const FusedWeight &w, std::int64_t first,
                                             std::int64_t n, Emit &&emit) const
    {
        // Codes reordered so that the lane-wise unpacks below leave the floats in order: byte
        // 16L + 4k + e of the reordered codes is code 16k + 4L + e.
        alignas(64) std::uint8_t order[64];
        for (int L = 0; L < 4; ++L)
            for (int k = 0; k < 4; ++k)
                for (int e = 0; e < 4; ++e)
                    order[16 * L + 4 * k + e] = static_cast<std::uint8_t>(16 * k + 4 * L + e);
        const __m512i reorder = _mm512_load_si512(order);
        const __m512 offset = _mm512_set1_ps(w.absmax_offset);
        const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        std::int64_t g0 = first / w.dq_block_size, next = (g0 + 1) * w.dq_block_size;
        const std::uint8_t *row = w.absmax_codes + w.absmax_index(first);
        std::int64_t i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m512i codes
                = _mm512_permutexvar_epi8(reorder, _mm512_loadu_si512(row + i));
            const __mmask64 high = _mm512_movepi8_mask(codes);
            __m512i plane[4];
            for (int p = 0; p < 4; ++p)
                plane[p] = _mm512_mask_blend_epi8(
                    high, _mm512_permutex2var_epi8(m_table[p][0], codes, m_table[p][1]),
                    _mm512_permutex2var_epi8(m_table[p][2], codes, m_table[p][3]));
            const __m512i w01lo = _mm512_unpacklo_epi8(plane[0], plane[1]);
            const __m512i w01hi = _mm512_unpackhi_epi8(plane[0], plane[1]);
            const __m512i w23lo = _mm512_unpacklo_epi8(plane[2], plane[3]);
            const __m512i w23hi = _mm512_unpackhi_epi8(plane[2], plane[3]);
            const __m512i values[4] = {
                _mm512_unpacklo_epi16(w01lo, w23lo), _mm512_unpackhi_epi16(w01lo, w23lo),
                _mm512_unpacklo_epi16(w01hi, w23hi), _mm512_unpackhi_epi16(w01hi, w23hi)};
            for (int k = 0; k < 4; ++k) {
                const std::int64_t b = first + i + 16 * k;
                if (b >= next) {
                    ++g0;
                    next += w.dq_block_size;
                }
                // Lanes past a group boundary take the next group's scale.
                __m512 scale = _mm512_set1_ps(w.absmax_scales[g0]);
                if (b + 15 >= next) {
                    const __mmask16 past = _mm512_cmpge_epi32_mask(
                        lane, _mm512_set1_epi32(static_cast<int>(next - b)));
                    scale = _mm512_mask_blend_ps(past, scale,
                                                 _mm512_set1_ps(w.absmax_scales[g0 + 1]));
                }
                emit(i + 16 * k,
                     _mm512_add_ps(_mm512_mul_ps(_mm512_castsi512_ps(values[k]), scale), offset));
            }
        }
        return i;
    }

    __m512i m_table[4][4]; // [byte][64-entry quarter]
};

template <bool Fast>
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
        // Double-quantized absmax through byte tables where the CPU has VBMI and a row has 64
        // blocks or more (the tables cost ~1,000 scalar operations a call).
        std::optional<DqByteTables> tables;
        if (Fast && !w.absmax && w.dq_block_size >= 16 && blocks >= 64)
            tables.emplace(w);
        auto decode = [&](std::int64_t r, float *out) {
            if (tables)
                tables->decode(w, r * blocks, blocks, out);
            else
                block_absmax_avx512(w, r * blocks, blocks, out);
        };
        // in.d_book: the activation scales over 127 (made once by prepare). NF4 dq b64, one
        // thread, 128x4096 in cache: 16.2 us multiplying per chunk, 15.8 with the products,
        // 14.5 without a division per weight row.
        const float *ds[8];
        // ds[j * rows + k]: activation row i0 + j against the k-th of the decoded weight rows.
        // rowScales: the decoded absmax of the rows, one row after the other.
        auto multiply = [&](std::int64_t i0, int mr, int rows, bool maskedTail,
                            const float *rowScales) {
            for (int j = 0; j < mr; ++j)
                for (int k = 0; k < rows; ++k) {
                    float *out = products.data() + (j * rows + k) * n;
                    scale_products(in.d_book.data() + (i0 + j) * n, rowScales + k * blocks,
                                   perBlock, chunks, maskedTail, out);
                    ds[j * rows + k] = out;
                }
        };
        // Pairs of weight rows against tiles of four activation rows; or, for one activation
        // row and short rows, against it alone: two rows' chains in flight where one row's few
        // steps would leave the multiply-adds waiting (one activation row, in cache: NF4 dq
        // 640x256 15.9 -> 12.7 us, 256x640 9.6 -> 8.2; INT4 g128 640x256 8.9 -> 6.0).
        const bool shortPairs = in.m == 1 && w.cols <= 1024;
        const std::int64_t whole = shortPairs ? 1 : in.m / 4 * 4;
        std::int64_t r = row_begin;
        if (shortPairs) {
            // Rows of fewer than sixteen blocks decoded 64 blocks' worth (a multiple of four
            // rows) at a time: one row's few blocks went one by one (block_absmax_avx512), with
            // the decoder's tables loaded per call. NF4 dq b64, one thread, in cache: 640x256
            // 15.8-15.9 -> 9.2-9.5 us, 3534x256 94-96 -> 52 (the float path's run_rows does the
            // same). Float32 absmax is read where it lies.
            const std::int64_t ahead
                = blocks < 16 ? std::max<std::int64_t>(4, 64 / blocks / 4 * 4) : 4;
            std::vector<float> rowScales(static_cast<std::size_t>(ahead * blocks));
            // Row rr's block absmax; rows come in order, so the first of each window decodes it.
            auto decoded = [&](std::int64_t rr) {
                const std::int64_t at = (rr - row_begin) % ahead;
                // (No byte tables here: they need 64 blocks a row, short rows have 16 at most.)
                if (at == 0)
                    block_absmax_avx512(w, rr * blocks, std::min(ahead, row_end - rr) * blocks,
                                        rowScales.data());
                return static_cast<const float *>(rowScales.data() + at * blocks);
            };
            auto rowAbsmax = [&](std::int64_t rr) {
                return w.absmax && w.absmax_stride ? w.absmax + rr * w.absmax_stride : decoded(rr);
            };
            if (perBlock == 1) {
                // Blocks of 64: four rows at a time, each step making its lanes' scales from
                // d / 127 and the row's absmax instead of reading products made per row pair
                // (one thread, in cache, against pairs through scale_products: NF4 dq b64
                // 640x256 9.6-9.9 -> 5.2-5.5 us, 3534x256 53.2-56.7 -> 29.0, 256x640 5.7 ->
                // 4.5-4.6; float32 absmax, read where it lies, 640x256 10.2-10.3 -> 3.1-3.2).
                for (; r + 4 <= row_end; r += 4) {
                    const float *absmax[4];
                    for (int n = 0; n < 4; ++n)
                        absmax[n] = rowAbsmax(r + n);
                    q8_rows_book<1, 4, Fast>(w, in, absmax, r, 0, y);
                }
                for (; r + 2 <= row_end; r += 2) {
                    const float *absmax[2] = {rowAbsmax(r), rowAbsmax(r + 1)};
                    q8_rows_book<1, 2, Fast>(w, in, absmax, r, 0, y);
                }
            } else {
                for (; r + 2 <= row_end; r += 2) {
                    multiply(0, 1, 2, false, decoded(r));
                    q8_block_book<1, 2, Fast>(w, in, ds, r, 0, y);
                }
            }
        } else if (whole > 0) {
            // Blocks of weight rows against blocks of activation rows, as the INT formats below;
            // a block's absmax decoded once, then read for every block of activation rows.
            // Blocks of 64 make their lane scales in the step (q8_rows_book) instead of a table
            // of products per tile, which in short rows cost more than the tile's few steps
            // (one thread, in cache, NF4 dq b64: 640x256 at 256 activation rows 1,659-1,792 ->
            // 853-943 us, at 8 rows 55-57 -> 33-38; 256x640 at 256 rows 982-989 -> 575-635;
            // float32 absmax 640x256 at 256 rows 1,569-1,710 -> 761-1,093; 64x4096 at 256 rows
            // 848-858 -> 824-828, at 8 rows unchanged).
            const bool laneScales = perBlock == 1;
            const std::int64_t pairsEnd = row_begin + (row_end - row_begin) / 2 * 2;
            std::vector<float> blockScales(static_cast<std::size_t>(kWeightBlock * blocks));
            for (std::int64_t rb = row_begin; rb < pairsEnd; rb += kWeightBlock) {
                const std::int64_t re = std::min(rb + kWeightBlock, pairsEnd);
                for (std::int64_t rr = rb; rr < re; ++rr)
                    decode(rr, blockScales.data() + (rr - rb) * blocks);
                for (std::int64_t ib = 0; ib < whole; ib += kActivationBlock)
                    for (std::int64_t rr = rb; rr < re; rr += 2)
                        for (std::int64_t i = ib; i < std::min(ib + kActivationBlock, whole);
                             i += 4) {
                            const float *own = blockScales.data() + (rr - rb) * blocks;
                            if (laneScales) {
                                const float *absmax[2] = {own, own + blocks};
                                q8_rows_book<4, 2, Fast>(w, in, absmax, rr, i, y);
                                continue;
                            }
                            multiply(i, 4, 2, true, own);
                            q8_block_book<4, 2, Fast>(w, in, ds, rr, i, y);
                        }
            }
            r = pairsEnd;
        }
        for (std::int64_t rr = row_begin; rr < row_end; ++rr) {
            if (rr < r && whole == in.m)
                continue;
            if (tables && in.m == 1 && perBlock == 1) {
                tables->decode_products(w, rr * blocks, blocks, in.d_book.data(), products.data());
                ds[0] = products.data();
                q8_tile_book<1, Fast>(w, in, ds, rr, 0, y);
                continue;
            }
            decode(rr, scales.data());
            // rows done in pairs need only the rest
            activation_tiles(rr < r ? whole : 0, in.m, [&](auto mr, std::int64_t i) {
                // one product table per decoded row at one activation row: scalar tail
                multiply(i, decltype(mr)::value, 1, false, scales.data());
                q8_tile_book<decltype(mr)::value, Fast>(w, in, ds, rr, i, y);
            });
        }
        return;
    }
    // Four activation rows against two weight rows through q8_block where the format allows
    // (not byte groups of 32). A single activation row runs one weight row at a time unless rows
    // are short: streaming four long rows at once was faster on one thread but slower on two
    // (bench kernels, 2-core VM).
    // Short rows at one activation row: eight weight rows at a time, then pairs. Eight rows'
    // sums take one reduce8 instead of eight reductions, and their chains overlap (one thread,
    // in cache, against pairs alone: INT4 g128 640x256 5.2-5.7 -> 4.7-4.8 us, 3534x256 29.9-31.2
    // -> 26.2-27.0; INT8 640x256 3.65-3.9 -> 3.2-3.4, 256x640 2.77-2.90 -> 2.17-2.27).
    const bool shortPairs = in.m == 1 && w.cols <= 1024;
    const std::int64_t whole = shortPairs ? 1 : in.m / 4 * 4;
    const bool blocked
        = whole > 0 && (w.format != FusedFormat::IntGroup || w.bits == 4 || w.group != 32);
    std::int64_t r = row_begin;
    if (blocked && shortPairs) {
        for (; r + 8 <= row_end; r += 8)
            q8_block<1, 8, Fast>(w, in, r, 0, y);
        for (; r + 2 <= row_end; r += 2)
            q8_block<1, 2, Fast>(w, in, r, 0, y);
    } else if (blocked) {
        // Blocks of kWeightBlock weight rows by kActivationBlock activation rows, so that both
        // stay in L2 while they meet: pair after pair of weight rows against every activation
        // row read all the activations once per pair (2 MB at 512 rows of 4096 columns) from
        // L3. One thread, INT4 g128 4096x4096 at 512 rows: 104-123 ms -> 73 (docs/kernels.md).
        // Each (activation row, weight row) pair takes the same q8_block steps in either order.
        const std::int64_t pairsEnd = row_begin + (row_end - row_begin) / 2 * 2;
        for (std::int64_t rb = row_begin; rb < pairsEnd; rb += kWeightBlock)
            for (std::int64_t ib = 0; ib < whole; ib += kActivationBlock)
                for (std::int64_t rr = rb; rr < std::min(rb + kWeightBlock, pairsEnd); rr += 2)
                    for (std::int64_t i = ib; i < std::min(ib + kActivationBlock, whole); i += 4)
                        q8_block<4, 2, Fast>(w, in, rr, i, y);
        r = pairsEnd;
    }
    for (std::int64_t rr = row_begin; rr < row_end; ++rr)
        // rows done by q8_block need only the rest
        activation_tiles(rr < r ? whole : 0, in.m, [&](auto mr, std::int64_t i) {
            q8_tile<decltype(mr)::value, Fast>(w, in, rr, i, y);
        });
}

} // namespace

#endif

void fused_linear_q8(const FusedWeight &w, const Q8Input &in, float *y, std::int64_t row_begin,
                     std::int64_t row_end)
{
#if defined(__x86_64__) || defined(__i386__)
    if (q8_vnni_supported() && active_kernel_path() == KernelPath::Avx512) {
        if (in.gfni_vbmi)
            fused_linear_q8_vnni<true>(w, in, y, row_begin, row_end);
        else
            fused_linear_q8_vnni<false>(w, in, y, row_begin, row_end);
        return;
    }
#endif
    fused_linear_q8_ref(w, in, y, row_begin, row_end);
}

} // namespace qb::kernels

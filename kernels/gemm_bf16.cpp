// bfloat16 GEMM: rounding, packing, the AVX-512 BF16 micro-kernel. See gemm_bf16.h.
#include "kernels/gemm_bf16.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QB_GEMM_BF16_X86 1
#define QB_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#endif

#include <algorithm>
#include <cstring>

namespace qb::kernels {

std::uint16_t bf16_round(float v)
{
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep the sign and a quiet payload
        return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
    if ((bits & 0x7F800000u) == 0) // zero or denormal: signed zero, as the instructions do
        return static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    // Round to nearest even on the 16 bits dropped: add 0x7FFF plus the kept part's lowest bit.
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return static_cast<std::uint16_t>(bits >> 16);
}

float bf16_value(std::uint16_t b)
{
    const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

bool gemm_bf16_supported()
{
#ifdef QB_GEMM_BF16_X86
    return kernel_path_supported(KernelPath::Avx512) && __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

std::int64_t gemm_bf16_pairs(std::int64_t cols) { return (cols + 1) / 2; }

std::int64_t gemm_bf16_packed_words(std::int64_t rows, std::int64_t cols)
{
    return gemm_f32_panels(rows) * gemm_bf16_pairs(cols) * kGemmPanel;
}

namespace {

std::uint32_t pair_word(const float *row, std::int64_t t, std::int64_t cols)
{
    const std::uint32_t lo = bf16_round(row[2 * t]);
    const std::uint32_t hi = 2 * t + 1 < cols ? bf16_round(row[2 * t + 1]) : 0u;
    return lo | hi << 16;
}

} // namespace

void gemm_bf16_pack_panels(const float *w, std::int64_t rows, std::int64_t cols,
                           std::uint32_t *packed, std::int64_t panel_begin,
                           std::int64_t panel_end)
{
    const std::int64_t pairs = gemm_bf16_pairs(cols);
    for (std::int64_t p = panel_begin; p < panel_end; ++p) {
        std::uint32_t *panel = packed + p * pairs * kGemmPanel;
        for (std::int64_t l = 0; l < kGemmPanel; ++l) {
            const std::int64_t r = p * kGemmPanel + l;
            for (std::int64_t t = 0; t < pairs; ++t)
                panel[t * kGemmPanel + l] = r < rows ? pair_word(w + r * cols, t, cols) : 0u;
        }
    }
}

#ifdef QB_GEMM_BF16_X86
namespace {

// Thirty-two values at a time by `vcvtne2ps2bf16` (the same rounding as bf16_round, tested);
// the pairs layout is the values' natural order as 16-bit words.
QB_TARGET_BF16 std::int64_t pack_row_bf16(const float *row, std::int64_t k, std::uint32_t *out)
{
    std::int64_t c = 0;
    for (; c + 32 <= k; c += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + c + 16),
                                               _mm512_loadu_ps(row + c));
        _mm512_storeu_si512(out + c / 2, (__m512i)v);
    }
    return c;
}

} // namespace
#endif

void gemm_bf16_pack_rows(const float *x, std::int64_t ldx, std::int64_t k, std::uint32_t *out,
                         std::int64_t row_begin, std::int64_t row_end)
{
    const std::int64_t pairs = gemm_bf16_pairs(k);
#ifdef QB_GEMM_BF16_X86
    static const bool simd = gemm_bf16_supported();
#else
    constexpr bool simd = false;
#endif
    for (std::int64_t i = row_begin; i < row_end; ++i) {
        std::int64_t c = 0;
#ifdef QB_GEMM_BF16_X86
        if (simd)
            c = pack_row_bf16(x + i * ldx, k, out + i * pairs);
#endif
        for (std::int64_t t = c / 2; t < pairs; ++t)
            out[i * pairs + t] = pair_word(x + i * ldx, t, k);
    }
}

std::int64_t gemm_bf16_items(const GemmBf16Args &a) { return gemm_items(a.m, a.n); }
std::int64_t gemm_bf16_item_work(const GemmBf16Args &a) { return gemm_item_work(a.m, a.k); }

void gemm_bf16_ref(const float *x, std::int64_t m, std::int64_t ldx, const float *w,
                   std::int64_t n, std::int64_t k, const float *bias, float *y, std::int64_t ldy)
{
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            double acc = 0.0;
            for (std::int64_t kk = 0; kk < k; ++kk)
                acc += double(bf16_value(bf16_round(x[i * ldx + kk])))
                    * double(bf16_value(bf16_round(w[j * k + kk])));
            y[i * ldy + j] = static_cast<float>(bias ? acc + bias[j] : acc);
        }
}

namespace {

// Rows of one panel; `cols` of its 32 columns are real. Each path writes 32 columns into `out`
// (row stride ldo): y itself for a full panel, a scratch tile for the last, partial one.
struct PanelJob
{
    const std::uint32_t *x; // the first row's pairs
    std::int64_t pairs;
    const std::uint32_t *panel; // [pairs][32]
    const float *bias;          // 32 biases, or nullptr
};

// Plain C++ on the packed data: per pair, the odd element's product added, then the even one's
// (Intel's order for `vdpbf16ps`; products of two bf16 are exact in float32).
void panel_portable(const PanelJob &j, std::int64_t rows, float *out, std::int64_t ldo)
{
    for (std::int64_t i = 0; i < rows; ++i) {
        float acc[kGemmPanel] = {};
        const std::uint32_t *xi = j.x + i * j.pairs;
        for (std::int64_t t = 0; t < j.pairs; ++t) {
            const float xl = bf16_value(static_cast<std::uint16_t>(xi[t]));
            const float xh = bf16_value(static_cast<std::uint16_t>(xi[t] >> 16));
            for (int l = 0; l < kGemmPanel; ++l) {
                const std::uint32_t wv = j.panel[t * kGemmPanel + l];
                acc[l] += xh * bf16_value(static_cast<std::uint16_t>(wv >> 16));
                acc[l] += xl * bf16_value(static_cast<std::uint16_t>(wv));
            }
        }
        for (int l = 0; l < kGemmPanel; ++l)
            out[i * ldo + l] = j.bias ? acc[l] + j.bias[l] : acc[l];
    }
}

#ifdef QB_GEMM_BF16_X86

// MR rows x the panel's 32 columns, MR <= 12: 2 · MR accumulators; per pair two loads of the
// panel and one broadcast of each row's pair.
template <int MR>
QB_TARGET_BF16 void tile_bf16(const PanelJob &j, float *out, std::int64_t ldo)
{
    __m512 c0[MR], c1[MR];
    for (int i = 0; i < MR; ++i)
        c0[i] = c1[i] = _mm512_setzero_ps();
    const std::uint32_t *p = j.panel;
    for (std::int64_t t = 0; t < j.pairs; ++t, p += kGemmPanel) {
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(p);
        const __m512bh w1 = (__m512bh)_mm512_loadu_si512(p + 16);
        for (int i = 0; i < MR; ++i) {
            // The pair as one float's bits: a broadcast load (vbroadcastss), no vector work.
            float word;
            std::memcpy(&word, j.x + i * j.pairs + t, sizeof word);
            const __m512bh a = (__m512bh)_mm512_castps_si512(_mm512_set1_ps(word));
            c0[i] = _mm512_dpbf16_ps(c0[i], a, w0);
            c1[i] = _mm512_dpbf16_ps(c1[i], a, w1);
        }
    }
    if (j.bias) {
        const __m512 b0 = _mm512_loadu_ps(j.bias), b1 = _mm512_loadu_ps(j.bias + 16);
        for (int i = 0; i < MR; ++i) {
            c0[i] = _mm512_add_ps(c0[i], b0);
            c1[i] = _mm512_add_ps(c1[i], b1);
        }
    }
    for (int i = 0; i < MR; ++i) {
        _mm512_storeu_ps(out + i * ldo, c0[i]);
        _mm512_storeu_ps(out + i * ldo + 16, c1[i]);
    }
}

template <int MR> void tile_rows(const PanelJob &j, std::int64_t rows, float *out, std::int64_t ldo)
{
    if constexpr (MR > 1)
        if (rows < MR)
            return tile_rows<MR - 1>(j, rows, out, ldo);
    tile_bf16<MR>(j, out, ldo);
}

void panel_bf16(PanelJob j, std::int64_t rows, float *out, std::int64_t ldo)
{
    constexpr int kRows = 12;
    for (std::int64_t i = 0; i < rows; i += kRows, j.x += kRows * j.pairs, out += kRows * ldo)
        tile_rows<kRows>(j, std::min<std::int64_t>(kRows, rows - i), out, ldo);
}

#endif

void run_panel(const GemmBf16Args &a, std::int64_t r0, std::int64_t r1, std::int64_t p,
               KernelPath path)
{
    const std::int64_t pairs = gemm_bf16_pairs(a.k);
    const int cols = static_cast<int>(std::min(kGemmPanel, a.n - p * kGemmPanel));
    float biasTile[kGemmPanel] = {};
    const float *bias = nullptr;
    if (a.bias) {
        std::copy(a.bias + p * kGemmPanel, a.bias + p * kGemmPanel + cols, biasTile);
        bias = biasTile;
    }
    const PanelJob job{a.x + r0 * pairs, pairs, a.packed + p * pairs * kGemmPanel, bias};
    // Whole panels straight into y; a partial one through a 32-wide scratch tile.
    float scratch[12 * kGemmPanel];
    for (std::int64_t r = r0; r < r1; r += 12) {
        const std::int64_t rows = std::min<std::int64_t>(12, r1 - r);
        PanelJob part = job;
        part.x = a.x + r * pairs;
        float *y = a.y + r * a.ldy + p * kGemmPanel;
        float *out = cols == kGemmPanel ? y : scratch;
        const std::int64_t ldo = cols == kGemmPanel ? a.ldy : kGemmPanel;
#ifdef QB_GEMM_BF16_X86
        if (path == KernelPath::Avx512)
            panel_bf16(part, rows, out, ldo);
        else
            panel_portable(part, rows, out, ldo);
#else
        (void)path;
        panel_portable(part, rows, out, ldo);
#endif
        if (out == scratch)
            for (std::int64_t i = 0; i < rows; ++i)
                std::copy(scratch + i * kGemmPanel, scratch + i * kGemmPanel + cols,
                          y + i * a.ldy);
    }
}

} // namespace

void gemm_bf16(const GemmBf16Args &a, std::int64_t item_begin, std::int64_t item_end,
               KernelPath path)
{
    const std::int64_t panels = gemm_f32_panels(a.n);
    if (path == KernelPath::Avx512 && !gemm_bf16_supported())
        path = KernelPath::Portable;
    for (std::int64_t item = item_begin; item < item_end; ++item) {
        const std::int64_t r0 = item / panels * kGemmRowBlock;
        run_panel(a, r0, std::min(a.m, r0 + kGemmRowBlock), item % panels, path);
    }
}

} // namespace qb::kernels

#include "kernels/gemm_f32.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QB_GEMM_X86 1
#define QB_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define QB_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,fma")))
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace qb::kernels {

std::int64_t gemm_f32_panels(std::int64_t rows) { return (rows + kGemmPanel - 1) / kGemmPanel; }

std::int64_t gemm_f32_packed_floats(std::int64_t rows, std::int64_t cols)
{
    return gemm_f32_panels(rows) * cols * kGemmPanel;
}

namespace {

// Rows [rb, re) x columns [cb, ce) of a panel's 32 rows (row-major, from `w` at its first row)
// into the panel, one value at a time.
void pack_block_plain(const float *w, std::int64_t cols, float *panel, std::int64_t rb,
                      std::int64_t re, std::int64_t cb, std::int64_t ce)
{
    for (std::int64_t r = rb; r < re; ++r)
        for (std::int64_t c = cb; c < ce; ++c)
            panel[c * kGemmPanel + r] = w[r * cols + c];
}

#ifdef QB_GEMM_X86
// The 8 x 8 block at `w` (row stride cols) transposed into `out` (row stride kGemmPanel): three
// rounds of shuffles, 24 instructions for 64 values instead of 64 scalar stores.
QB_TARGET_AVX2 void transpose8(const float *w, std::int64_t cols, float *out)
{
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; ++i)
        r[i] = _mm256_loadu_ps(w + i * cols);
    for (int i = 0; i < 8; i += 2) { // pairs of rows interleaved
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) { // four rows' columns c and c + 4, c = 0..3
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) { // rows 0-3 and 4-7 of columns c and c + 4
        _mm256_storeu_ps(out + c * kGemmPanel, _mm256_permute2f128_ps(u[c], u[c + 4], 0x20));
        _mm256_storeu_ps(out + (c + 4) * kGemmPanel,
                         _mm256_permute2f128_ps(u[c], u[c + 4], 0x31));
    }
}

// The panel's rows [0, rows) in 8 x 8 blocks, the rest of the rows and columns one by one.
QB_TARGET_AVX2 void pack_panel_avx2(const float *w, std::int64_t rows, std::int64_t cols,
                                    float *panel)
{
    const std::int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
    for (std::int64_t c = 0; c < cols8; c += 8)
        for (std::int64_t r = 0; r < rows8; r += 8)
            transpose8(w + r * cols + c, cols, panel + c * kGemmPanel + r);
    pack_block_plain(w, cols, panel, 0, rows8, cols8, cols);
    pack_block_plain(w, cols, panel, rows8, rows, 0, cols);
}
#endif

} // namespace

void gemm_f32_pack_panels(const float *w, std::int64_t rows, std::int64_t cols, float *packed,
                          std::int64_t panel_begin, std::int64_t panel_end, KernelPath path)
{
    for (std::int64_t p = panel_begin; p < panel_end; ++p) {
        float *panel = packed + p * cols * kGemmPanel;
        const std::int64_t r0 = p * kGemmPanel, r1 = std::min(rows, r0 + kGemmPanel);
        if (r1 - r0 < kGemmPanel)
            std::memset(panel, 0, sizeof(float) * cols * kGemmPanel);
#ifdef QB_GEMM_X86
        if (path == KernelPath::Avx2 || path == KernelPath::Avx512) {
            pack_panel_avx2(w + r0 * cols, r1 - r0, cols, panel);
            continue;
        }
#endif
        // Blocks of 16 columns: each row's 16 values are one read, each k's 32 lanes one
        // contiguous write.
        for (std::int64_t c0 = 0; c0 < cols; c0 += 16)
            pack_block_plain(w + r0 * cols, cols, panel, 0, r1 - r0, c0,
                             std::min(cols, c0 + 16));
    }
}

void gemm_f32_pack_rows(const float *w, std::int64_t rows, std::int64_t cols, float *panel,
                        std::int64_t row_offset, KernelPath path)
{
    if (row_offset < 0 || rows < 0 || row_offset + rows > kGemmPanel)
        throw std::invalid_argument("gemm_f32_pack_rows: rows " + std::to_string(row_offset)
                                    + ".." + std::to_string(row_offset + rows)
                                    + " outside a panel of " + std::to_string(kGemmPanel));
    // The panel's layout puts row r of column c at c * kGemmPanel + r, so rows placed from
    // row_offset are the panel's rows packed from a pointer row_offset floats on.
#ifdef QB_GEMM_X86
    if (path == KernelPath::Avx2 || path == KernelPath::Avx512) {
        pack_panel_avx2(w, rows, cols, panel + row_offset);
        return;
    }
#endif
    for (std::int64_t c0 = 0; c0 < cols; c0 += 16)
        pack_block_plain(w, cols, panel + row_offset, 0, rows, c0, std::min(cols, c0 + 16));
}

void gemm_f32_pack_panels(const float *w, std::int64_t rows, std::int64_t cols, float *packed,
                          std::int64_t panel_begin, std::int64_t panel_end)
{
    gemm_f32_pack_panels(w, rows, cols, packed, panel_begin, panel_end, active_kernel_path());
}

void gemm_f32_pack(const float *w, std::int64_t rows, std::int64_t cols, float *packed)
{
    gemm_f32_pack_panels(w, rows, cols, packed, 0, gemm_f32_panels(rows));
}

std::int64_t gemm_items(std::int64_t m, std::int64_t n)
{
    return (m + kGemmRowBlock - 1) / kGemmRowBlock * gemm_f32_panels(n);
}

std::int64_t gemm_item_work(std::int64_t m, std::int64_t k)
{
    return std::min(m, kGemmRowBlock) * kGemmPanel * k;
}

std::int64_t gemm_f32_items(const GemmF32Args &a) { return gemm_items(a.m, a.n); }
std::int64_t gemm_f32_item_work(const GemmF32Args &a) { return gemm_item_work(a.m, a.k); }

void gemm_f32_ref(const float *x, std::int64_t m, std::int64_t ldx, const float *w,
                  std::int64_t n, std::int64_t k, const float *bias, float *y, std::int64_t ldy)
{
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (std::int64_t kk = 0; kk < k; ++kk)
                acc = std::fma(x[i * ldx + kk], w[j * k + kk], acc);
            y[i * ldy + j] = bias ? acc + bias[j] : acc;
        }
}

namespace {

// Rows [r0, r1) of one panel; `cols` of its 32 columns are real (the rest padding). Each path
// writes the tile into `out` with row stride ldo: y itself for a full panel, a 32-wide scratch
// tile for the last, partial one.
struct PanelJob
{
    const float *x;
    std::int64_t ldx, k;
    const float *panel; // [k][32]
    const float *bias;  // the panel's first column's bias, or nullptr
    int cols;
};

// Plain C++ and the scalar path: the reference's arithmetic on the packed panel.
void panel_portable(const PanelJob &j, std::int64_t rows, float *out, std::int64_t ldo)
{
    for (std::int64_t i = 0; i < rows; ++i) {
        float acc[kGemmPanel] = {};
        const float *xi = j.x + i * j.ldx;
        for (std::int64_t kk = 0; kk < j.k; ++kk)
            for (int l = 0; l < kGemmPanel; ++l)
                acc[l] = std::fma(xi[kk], j.panel[kk * kGemmPanel + l], acc[l]);
        for (int l = 0; l < j.cols; ++l)
            out[i * ldo + l] = j.bias ? acc[l] + j.bias[l] : acc[l];
    }
}

#ifdef QB_GEMM_X86

// MR rows × 16 columns (half `h`) of NP panels side by side (panel q's data at
// j.panel + q · stride, its columns at out + 32q), MR ≤ 6: 2 · MR · NP accumulators.
template <int MR, int NP = 1>
QB_TARGET_AVX2 void tile_avx2(const PanelJob &j, int h, std::int64_t stride, float *out,
                              std::int64_t ldo)
{
    __m256 c0[MR][NP], c1[MR][NP];
    for (int i = 0; i < MR; ++i)
        for (int q = 0; q < NP; ++q)
            c0[i][q] = c1[i][q] = _mm256_setzero_ps();
    const float *p = j.panel + 16 * h;
    for (std::int64_t kk = 0; kk < j.k; ++kk, p += kGemmPanel)
        for (int q = 0; q < NP; ++q) {
            const __m256 w0 = _mm256_loadu_ps(p + q * stride);
            const __m256 w1 = _mm256_loadu_ps(p + q * stride + 8);
            for (int i = 0; i < MR; ++i) {
                const __m256 a = _mm256_broadcast_ss(j.x + i * j.ldx + kk);
                c0[i][q] = _mm256_fmadd_ps(a, w0, c0[i][q]);
                c1[i][q] = _mm256_fmadd_ps(a, w1, c1[i][q]);
            }
        }
    for (int q = 0; q < NP; ++q) {
        if (j.bias) {
            const __m256 b0 = _mm256_loadu_ps(j.bias + 32 * q + 16 * h);
            const __m256 b1 = _mm256_loadu_ps(j.bias + 32 * q + 16 * h + 8);
            for (int i = 0; i < MR; ++i) {
                c0[i][q] = _mm256_add_ps(c0[i][q], b0);
                c1[i][q] = _mm256_add_ps(c1[i][q], b1);
            }
        }
        for (int i = 0; i < MR; ++i) {
            _mm256_storeu_ps(out + i * ldo + 32 * q + 16 * h, c0[i][q]);
            _mm256_storeu_ps(out + i * ldo + 32 * q + 16 * h + 8, c1[i][q]);
        }
    }
}

QB_TARGET_AVX2 void panel_avx2(PanelJob j, std::int64_t rows, float *out, std::int64_t ldo)
{
    constexpr int kRows = 6;
    for (std::int64_t i = 0; i < rows; i += kRows, j.x += kRows * j.ldx, out += kRows * ldo)
        for (int h = 0; h < 2; ++h)
            switch (std::min<std::int64_t>(kRows, rows - i)) {
            case 6: tile_avx2<6>(j, h, 0, out, ldo); break;
            case 5: tile_avx2<5>(j, h, 0, out, ldo); break;
            case 4: tile_avx2<4>(j, h, 0, out, ldo); break;
            case 3: tile_avx2<3>(j, h, 0, out, ldo); break;
            case 2: tile_avx2<2>(j, h, 0, out, ldo); break;
            default: tile_avx2<1>(j, h, 0, out, ldo); break;
            }
}

// MR rows × the 32 columns of NP panels side by side (panel q's data at j.panel + q · stride,
// its columns at out + 32q), MR · NP ≤ 12: 2 · MR · NP accumulators, and per k two loads of each
// panel and MR broadcasts of x.
template <int MR, int NP = 1>
QB_TARGET_AVX512 void tile_avx512(const PanelJob &j, std::int64_t stride, float *out,
                                  std::int64_t ldo)
{
    __m512 c0[MR][NP], c1[MR][NP];
    for (int i = 0; i < MR; ++i)
        for (int q = 0; q < NP; ++q)
            c0[i][q] = c1[i][q] = _mm512_setzero_ps();
    const float *p = j.panel;
    for (std::int64_t kk = 0; kk < j.k; ++kk, p += kGemmPanel) {
        __m512 w0[NP], w1[NP];
        for (int q = 0; q < NP; ++q) {
            w0[q] = _mm512_loadu_ps(p + q * stride);
            w1[q] = _mm512_loadu_ps(p + q * stride + 16);
        }
        for (int i = 0; i < MR; ++i) {
            const __m512 a = _mm512_set1_ps(j.x[i * j.ldx + kk]);
            for (int q = 0; q < NP; ++q) {
                c0[i][q] = _mm512_fmadd_ps(a, w0[q], c0[i][q]);
                c1[i][q] = _mm512_fmadd_ps(a, w1[q], c1[i][q]);
            }
        }
    }
    for (int q = 0; q < NP; ++q) {
        if (j.bias) {
            const __m512 b0 = _mm512_loadu_ps(j.bias + 32 * q);
            const __m512 b1 = _mm512_loadu_ps(j.bias + 32 * q + 16);
            for (int i = 0; i < MR; ++i) {
                c0[i][q] = _mm512_add_ps(c0[i][q], b0);
                c1[i][q] = _mm512_add_ps(c1[i][q], b1);
            }
        }
        for (int i = 0; i < MR; ++i) {
            _mm512_storeu_ps(out + i * ldo + 32 * q, c0[i][q]);
            _mm512_storeu_ps(out + i * ldo + 32 * q + 16, c1[i][q]);
        }
    }
}

QB_TARGET_AVX512 void panel_avx512(PanelJob j, std::int64_t rows, float *out, std::int64_t ldo)
{
    constexpr int kRows = 12;
    for (std::int64_t i = 0; i < rows; i += kRows, j.x += kRows * j.ldx, out += kRows * ldo)
        switch (std::min<std::int64_t>(kRows, rows - i)) {
        case 12: tile_avx512<12>(j, 0, out, ldo); break;
        case 11: tile_avx512<11>(j, 0, out, ldo); break;
        case 10: tile_avx512<10>(j, 0, out, ldo); break;
        case 9: tile_avx512<9>(j, 0, out, ldo); break;
        case 8: tile_avx512<8>(j, 0, out, ldo); break;
        case 7: tile_avx512<7>(j, 0, out, ldo); break;
        case 6: tile_avx512<6>(j, 0, out, ldo); break;
        case 5: tile_avx512<5>(j, 0, out, ldo); break;
        case 4: tile_avx512<4>(j, 0, out, ldo); break;
        case 3: tile_avx512<3>(j, 0, out, ldo); break;
        case 2: tile_avx512<2>(j, 0, out, ldo); break;
        default: tile_avx512<1>(j, 0, out, ldo); break;
        }
}

#endif

// Rows [r0, r1) of panel p (its data at `panel`) through `path`. The SIMD paths always write
// 32 columns (and read 32 biases), so a partial panel goes through a scratch tile whose real
// columns are copied out.
void run_panel(const GemmF32Args &a, const float *panel, std::int64_t r0, std::int64_t r1,
               std::int64_t p, KernelPath path)
{
    const int cols = static_cast<int>(std::min(kGemmPanel, a.n - p * kGemmPanel));
    float bias_tile[kGemmPanel] = {};
    const float *bias = nullptr;
    if (a.bias) {
        std::copy(a.bias + p * kGemmPanel, a.bias + p * kGemmPanel + cols, bias_tile);
        bias = cols == kGemmPanel ? a.bias + p * kGemmPanel : bias_tile;
    }
    const PanelJob job{a.x + r0 * a.ldx, a.ldx, a.k, panel, bias, cols};
    float *y = a.y + r0 * a.ldy + p * kGemmPanel;
#ifdef QB_GEMM_X86
    const bool simd = path == KernelPath::Avx2 || path == KernelPath::Avx512;
    if (simd && cols < kGemmPanel) {
        float scratch[12 * kGemmPanel];
        for (std::int64_t r = r0; r < r1; r += 12) {
            const std::int64_t rows = std::min<std::int64_t>(12, r1 - r);
            PanelJob part = job;
            part.x = a.x + r * a.ldx;
            if (path == KernelPath::Avx512)
                panel_avx512(part, rows, scratch, kGemmPanel);
            else
                panel_avx2(part, rows, scratch, kGemmPanel);
            for (std::int64_t i = 0; i < rows; ++i)
                std::copy(scratch + i * kGemmPanel, scratch + i * kGemmPanel + cols,
                          a.y + (r + i) * a.ldy + p * kGemmPanel);
        }
        return;
    }
    if (path == KernelPath::Avx512)
        return panel_avx512(job, r1 - r0, y, a.ldy);
    if (path == KernelPath::Avx2)
        return panel_avx2(job, r1 - r0, y, a.ldy);
#endif
    panel_portable(job, r1 - r0, y, a.ldy);
}

// Full panels p .. p + np - 1 side by side for a few rows: one row's chains over one panel
// (two accumulators, each waiting on its last fused multiply-add) leave the multiply-adds
// mostly idle, and the panels beside it give them independent work. The same chain per output,
// so the bits of run_panel. Returns false where the path has no such tile.
constexpr std::int64_t kWideRows = 3;

std::int64_t wide_panels(std::int64_t rows) { return rows == 1 ? 4 : 2; }

bool run_wide(const GemmF32Args &a, std::int64_t r0, std::int64_t rows, std::int64_t p,
              std::int64_t np, KernelPath path)
{
#ifdef QB_GEMM_X86
    const PanelJob job{a.x + r0 * a.ldx, a.ldx, a.k, a.packed + p * a.k * kGemmPanel,
                       a.bias ? a.bias + p * kGemmPanel : nullptr, int(kGemmPanel)};
    const std::int64_t stride = a.k * kGemmPanel;
    float *y = a.y + r0 * a.ldy + p * kGemmPanel;
    const std::int64_t key = rows * 10 + np;
    if (path == KernelPath::Avx512) {
        switch (key) {
        case 14: tile_avx512<1, 4>(job, stride, y, a.ldy); return true;
        case 13: tile_avx512<1, 3>(job, stride, y, a.ldy); return true;
        case 12: tile_avx512<1, 2>(job, stride, y, a.ldy); return true;
        case 22: tile_avx512<2, 2>(job, stride, y, a.ldy); return true;
        case 32: tile_avx512<3, 2>(job, stride, y, a.ldy); return true;
        default: return false;
        }
    }
    if (path == KernelPath::Avx2) {
        for (int h = 0; h < 2; ++h)
            switch (key) {
            case 14: tile_avx2<1, 4>(job, h, stride, y, a.ldy); break;
            case 13: tile_avx2<1, 3>(job, h, stride, y, a.ldy); break;
            case 12: tile_avx2<1, 2>(job, h, stride, y, a.ldy); break;
            case 22: tile_avx2<2, 2>(job, h, stride, y, a.ldy); break;
            case 32: tile_avx2<3, 2>(job, h, stride, y, a.ldy); break;
            default: return false;
            }
        return true;
    }
#endif
    (void)a, (void)r0, (void)rows, (void)p, (void)np, (void)path;
    return false;
}

} // namespace

void gemm_f32(const GemmF32Args &a, std::int64_t item_begin, std::int64_t item_end,
              KernelPath path)
{
    const std::int64_t panels = gemm_f32_panels(a.n), full = a.n / kGemmPanel;
    for (std::int64_t item = item_begin; item < item_end;) {
        const std::int64_t r0 = item / panels * kGemmRowBlock;
        const std::int64_t p = item % panels;
        const std::int64_t r1 = std::min(a.m, r0 + kGemmRowBlock);
        if (r1 - r0 <= kWideRows) {
            // full panels of this row block within the range
            const std::int64_t np = std::min({wide_panels(r1 - r0), full - p, item_end - item});
            if (np > 1 && run_wide(a, r0, r1 - r0, p, np, path)) {
                item += np;
                continue;
            }
        }
        run_panel(a, a.packed + p * a.k * kGemmPanel, r0, r1, p, path);
        ++item;
    }
}

void gemm_f32_panel(const GemmF32Args &a, const float *panel, std::int64_t p,
                    std::int64_t row_begin, std::int64_t row_end, KernelPath path)
{
    for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kGemmRowBlock)
        run_panel(a, panel, r0, std::min(row_end, r0 + kGemmRowBlock), p, path);
}

} // namespace qb::kernels

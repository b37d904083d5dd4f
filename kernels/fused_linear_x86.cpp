// Fused dequantize-GEMV/GEMM, AVX2 + FMA and AVX-512 paths. This file is compiled for baseline
// x86-64; each function carries its own target attribute and runs only when the CPU has it
// (fused_linear.cpp checks). See fused_linear.h for the formats.
//
// Per output row and tile of up to 4 activation rows: for each segment (group, block, row) the
// 16 possible 4-bit weights are put in one table (zmm, or two ymm halves), so a 4-bit chunk of
// 32 (16) weights is one load, a zero-extension, a shift and two permutes (AVX2's INT groups
// compute (code - zero) · scale instead); 2- and 3-bit codes in groups of a multiple of 64 are
// read 64 (AVX2: 32) at a time, four codes a lane, and take the same table (quad_codes); in
// other groups 16 (8) at a time from the packed row (a big-endian load, a broadcast, a variable
// shift and a mask); 8-bit codes (INT8 rows and groups) are sign/zero-extended and converted.
// Two chunks are in flight with separate accumulators, to hide FMA latency.
// Benchmark: quantbench-cli bench kernels.
#include "kernels/fused_linear_impl.h"

#include <immintrin.h>

#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)

#define QB_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define QB_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

namespace qb::kernels::fused_detail {

namespace {

// Row r of an 8-bit IntGroup weight: its codes, one byte a column as stored.
const std::uint8_t *byte_codes(const FusedWeight &w, std::int64_t r)
{
    return w.row_codes(r);
}

// What run_rows prepares for a row's tiles: 8-bit groups' codes, and double-quantized absmax
// decoded for the row's blocks (when the blocks tile the rows; nullptr otherwise).
struct RowData
{
    const std::uint8_t *bytes = nullptr;
    const float *absmax = nullptr;
};


// Scalar columns [begin, end) of a segment, added to tail[j] for the tile's MR rows.
template <int MR>
inline void scalar_cols(const FusedWeight &w, const float *const *x, std::int64_t r,
                        std::int64_t begin, std::int64_t end, float scale, float zero,
                        float *tail)
{
    for (std::int64_t c = begin; c < end; ++c) {
        const float v = segment_value(w, code_at(w, r, c), scale, zero);
        for (int j = 0; j < MR; ++j)
            tail[j] += x[j][c] * v;
    }
}

#define QB_INLINE __attribute__((always_inline)) inline
// The AVX-512 loops' lambdas, inlined whatever the unit's size: past GCC's unit growth limit
// (reached when rows_tile was added) tile_avx512's lutOf and sixtyFour were left out of line.
// Not the steps handed to two_in_flight, whose AVX2 target cannot take them forced.
#define QB_LAMBDA_AVX512 __attribute__((always_inline)) QB_TARGET_AVX512

// Columns [c, end) in steps of W with two steps in flight: step(col, a) and step(col + W, b)
// while 2W columns remain, then step(col, a) while W remain (each accumulator's chain waits on
// every other step only). Returns where it stopped. AVX2's target, a subset of the AVX-512 one,
// so both paths' tiles inline it.
template <std::int64_t W, class Step, class Acc>
QB_TARGET_AVX2 QB_INLINE std::int64_t two_in_flight(std::int64_t c, std::int64_t end,
                                                    Step &&step, Acc &a, Acc &b)
{
    for (; c + 2 * W <= end; c += 2 * W) {
        step(c, a);
        step(c + W, b);
    }
    for (; c + W <= end; c += W)
        step(c, a);
    return c;
}

// ---------------------------------------------------------------- AVX-512

// 32 nibbles (16 bytes at src): high nibbles (even columns) against xp[j][col..col+16), low
// nibbles (odd columns) against xp[j][col+16..col+32) (the reordered activations).
template <int MR>
QB_TARGET_AVX512 QB_INLINE void nibbles512(const std::uint8_t *src, const float *const *xp,
                                           std::int64_t col, __m512 lut, __m512 (&hi)[MR],
                                           __m512 (&lo)[MR])
{
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src)));
    const __m512 wh = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut);
    const __m512 wl = _mm512_permutexvar_ps(v, lut); // uses the low 4 bits of each index
    for (int j = 0; j < MR; ++j) {
        hi[j] = _mm512_fmadd_ps(wh, _mm512_loadu_ps(xp[j] + col), hi[j]);
        lo[j] = _mm512_fmadd_ps(wl, _mm512_loadu_ps(xp[j] + col + 16), lo[j]);
    }
}

// 16 int8 codes (raw; the row scale comes after the sum).
template <int MR>
QB_TARGET_AVX512 QB_INLINE void int8x16(const std::int8_t *src, const float *const *x,
                                        std::int64_t col, __m512 (&acc)[MR])
{
    const __m512 wv = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src))));
    for (int j = 0; j < MR; ++j)
        acc[j] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[j] + col), acc[j]);
}

// 16 unsigned codes: (code - zero) * scale.
template <int MR>
QB_TARGET_AVX512 QB_INLINE void uint8x16(const std::uint8_t *src, const float *const *x,
                                         std::int64_t col, __m512 vz, __m512 vs,
                                         __m512 (&acc)[MR])
{
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src)));
    const __m512 wv = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(v), vz), vs);
    for (int j = 0; j < MR; ++j)
        acc[j] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[j] + col), acc[j]);
}

// Codes c .. c + 15 of a 2- or 3-bit row (MSB-first bit-stream; c a multiple of 16, so they
// start on a byte) as sixteen 32-bit lanes: their 32 or 48 bits read big-endian, the first eight
// codes' bits in lanes 0-7 and the last eight's in lanes 8-15, each lane shifted to its code.
// `wide`: 8 bytes may be read from the chunk's first (3 bits: a later chunk of the row follows).
template <int Bits>
QB_TARGET_AVX512 QB_INLINE __m512i small_codes16(const std::uint8_t *row, std::int64_t c,
                                                 bool wide)
{
    constexpr int half = 8 * Bits; // bits of eight codes: 16 or 24
    const std::uint8_t *p = row + c * Bits / 8;
    std::uint64_t v = 0;
    if (Bits == 2) {
        std::uint32_t u;
        std::memcpy(&u, p, 4);
        v = __builtin_bswap32(u);
    } else if (wide) {
        std::memcpy(&v, p, 8);
        v = __builtin_bswap64(v) >> 16;
    } else {
        for (int i = 0; i < 6; ++i) // most significant first
            v = (v << 8) | p[i];
    }
    const __m512i hi = _mm512_set1_epi32(static_cast<int>(v >> half));
    const __m512i both = _mm512_mask_set1_epi32(hi, 0xFF00,
                                                static_cast<int>(v & ((1u << half) - 1)));
    const __m512i shifts = Bits == 3
        ? _mm512_setr_epi32(21, 18, 15, 12, 9, 6, 3, 0, 21, 18, 15, 12, 9, 6, 3, 0)
        : _mm512_setr_epi32(14, 12, 10, 8, 6, 4, 2, 0, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_and_si512(_mm512_srlv_epi32(both, shifts), _mm512_set1_epi32((1 << Bits) - 1));
}

// 16 codes of 2 or 3 bits through the group's table (code - zero) · scale, as the 4-bit path:
// the same float operations as uint8x16's, so the same values, one permute instead of a
// conversion, a subtraction and a multiplication, and no unpacking of the row to bytes first.
template <int MR, int Bits>
QB_TARGET_AVX512 QB_INLINE void small16(const std::uint8_t *row, const float *const *x,
                                        std::int64_t col, std::int64_t cols, __m512 lut,
                                        __m512 (&acc)[MR])
{
    const __m512 wv
        = _mm512_permutexvar_ps(small_codes16<Bits>(row, col, col + 32 <= cols), lut);
    for (int j = 0; j < MR; ++j)
        acc[j] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[j] + col), acc[j]);
}


// Row r's IntGroup scales and zero points, their pointers found once (FusedWeight::group_zero
// finds them per call), and group k's table of the sixteen values (code - zero) · scale that the
// 2-, 3- and 4-bit loops permute, with tile_avx512's operations (so the same bits).
struct GroupRow
{
    const float *scales = nullptr, *zerosF = nullptr;
    const std::uint8_t *zerosU8 = nullptr;
    float zeroConst = 0.0f;

    static GroupRow of(const FusedWeight &w, std::int64_t r)
    {
        return {w.row_scales(r), w.row_zeros_f(r), w.row_zeros(r),
                static_cast<float>(1 << (w.bits - 1))};
    }
    float zero(std::int64_t k) const
    {
        return zerosF ? zerosF[k] : zerosU8 ? static_cast<float>(zerosU8[k]) : zeroConst;
    }
    // Entry j is (j mod 2^Bits - zero) · scale: the 2- and 3-bit quad loops permute by indices
    // whose bits above the code are those of a neighbouring code (see quad_codes).
    template <int Bits = 4> QB_TARGET_AVX512 QB_INLINE __m512 table(std::int64_t k) const
    {
        const __m512 iota = Bits == 2
            ? _mm512_setr_ps(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3)
            : Bits == 3 ? _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7)
                        : _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(zero(k))),
                             _mm512_set1_ps(scales[k]));
    }
};

// Codes c .. c + 63 of a 2- or 3-bit row (c a multiple of 64, at p: they start on a byte), lane i
// holding codes c + 4i .. c + 4i + 3 in bits 4 · Bits - 1 .. 0, the first the most significant.
// 2 bits: lane i is byte i. 3 bits: lane i is bits 12i .. 12i + 11 of the 24 bytes: bytes
// floor(3i / 2) and the next, big-endian, shifted down by 4 in even lanes; odd lanes keep the
// previous code's low 4 bits above their own 12. Bits above a code are therefore another code's,
// which the tables ignore (GroupRow::table<Bits>, period 2^Bits). Only the 24 bytes are read,
// as bytes 0-15 and 8-23: a masked load of 24 made the 3-bit GEMV from DRAM 2.7x slower (one
// thread, INT3 g128 11008x4096: 1.33 ms with a full 64-byte load, 3.6 with a masked one).
template <int Bits>
QB_TARGET_AVX512 QB_INLINE __m512i quad_codes(const std::uint8_t *p)
{
    if constexpr (Bits == 2) {
        return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
    } else {
        // 128-bit lane L takes the dword holding byte 6L and the next one (bytes 0-15 are dwords
        // 0-3, bytes 8-23 dwords 16-19 of the permute), so its bytes 6L .. 6L + 5 start at byte
        // 0 (L even) or 2 (L odd) of it; lane 4L + t then takes local bytes o + floor(3t/2) and
        // the next.
        const __m512i dwords = _mm512_permutex2var_epi32(
            _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))),
            _mm512_setr_epi32(0, 1, 0, 0, 1, 2, 0, 0, 3, 18, 0, 0, 18, 19, 0, 0),
            _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 8))));
        const __m512i pairs = _mm512_shuffle_epi8(
            dwords, _mm512_setr_epi32(0x80800001, 0x80800102, 0x80800304, 0x80800405,
                                      0x80800203, 0x80800304, 0x80800506, 0x80800607,
                                      0x80800001, 0x80800102, 0x80800304, 0x80800405,
                                      0x80800203, 0x80800304, 0x80800506, 0x80800607));
        return _mm512_srlv_epi32(pairs,
                                 _mm512_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0));
    }
}

// 64 codes of 2 or 3 bits at p against MR activation rows in quad order (FusedInput): vector s
// holds codes 4i + s, the one activation vector at col + 16s, accumulated in a, b, c2, d for s =
// 0 .. 3. Per 64 codes one load, three shifts, four permutes (plus the 3-bit gather's three
// operations), where the 16-code steps took a scalar load, two broadcasts, a shift and a mask
// per 16.
template <int MR, int Bits>
QB_TARGET_AVX512 QB_INLINE void quads512(const std::uint8_t *p, const float *const *xq,
                                         std::int64_t col, __m512 lut, __m512 (&a)[MR],
                                         __m512 (&b)[MR], __m512 (&c2)[MR], __m512 (&d)[MR])
{
    const __m512i v = quad_codes<Bits>(p);
    const __m512 w0 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 3 * Bits), lut);
    const __m512 w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 2 * Bits), lut);
    const __m512 w2 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, Bits), lut);
    const __m512 w3 = _mm512_permutexvar_ps(v, lut);
    for (int j = 0; j < MR; ++j) {
        a[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xq[j] + col), a[j]);
        b[j] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xq[j] + col + 16), b[j]);
        c2[j] = _mm512_fmadd_ps(w2, _mm512_loadu_ps(xq[j] + col + 32), c2[j]);
        d[j] = _mm512_fmadd_ps(w3, _mm512_loadu_ps(xq[j] + col + 48), d[j]);
    }
}

// Row r of a quad_groups weight against MR activation rows in quad order: its sums for the
// MR rows (the same operations for each, so a row's result does not depend on the others),
// each group's table built one group ahead (as group_rows). Chunks: the group's 64-code
// chunks when known at compile time (1, 2), else 0. A loop over a group's chunks inside the
// loop over groups cost 10-25% at groups of 64 and 128 (one thread, in cache, 640x256 and
// 64x4096, three alternating rounds).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <int MR, int Bits, int Chunks>
QB_TARGET_AVX512 QB_INLINE void quad_row_sums(const FusedWeight &w, std::int64_t r,
                                              const float *const *xq, float *out)
{
    __m512 a[MR], b[MR], c2[MR], d[MR];
    for (int j = 0; j < MR; ++j)
        a[j] = b[j] = c2[j] = d[j] = _mm512_setzero_ps();
    const std::uint8_t *row = w.row_codes(r);
    const GroupRow g = GroupRow::of(w, r);
    const std::int64_t groups = w.cols / w.group, chunks = Chunks > 0 ? Chunks : w.group / 64;
    __m512 next = g.table<Bits>(0);
    for (std::int64_t k = 0; k < groups; ++k) {
        const __m512 lut = next;
        if (k + 1 < groups)
            next = g.table<Bits>(k + 1);
        const std::int64_t c = k * w.group;
        const std::uint8_t *p = row + c / 8 * Bits;
        if (Chunks == 1)
            quads512<MR, Bits>(p, xq, c, lut, a, b, c2, d);
        else if (Chunks == 2) {
            quads512<MR, Bits>(p, xq, c, lut, a, b, c2, d);
            quads512<MR, Bits>(p + 8 * Bits, xq, c + 64, lut, a, b, c2, d);
        } else
            for (std::int64_t i = 0; i < chunks; ++i)
                quads512<MR, Bits>(p + 8 * Bits * i, xq, c + 64 * i, lut, a, b, c2, d);
    }
    for (int j = 0; j < MR; ++j)
        out[j] = _mm512_reduce_add_ps(
            _mm512_add_ps(_mm512_add_ps(a[j], b[j]), _mm512_add_ps(c2[j], d[j])));
}
#pragma GCC diagnostic pop

template <int MR, int Bits>
QB_TARGET_AVX512 QB_INLINE void quad_row(const FusedWeight &w, std::int64_t r,
                                         const float *const *xq, float *out)
{
    if (w.group == 64)
        quad_row_sums<MR, Bits, 1>(w, r, xq, out);
    else if (w.group == 128)
        quad_row_sums<MR, Bits, 2>(w, r, xq, out);
    else
        quad_row_sums<MR, Bits, 0>(w, r, xq, out);
}

// One activation row against a Blockwise4 row of 64-column blocks (NF4's default) whose absmax is
// at hand (decoded, or float32 where it lies): tile_avx512's 64-column loop, the same operations
// in the same order (so the same bits), outside tile_avx512, with the next row's line fetched as
// this row's is read. Inside tile_avx512 that fetch had made the loop 12% slower in cache, even
// switched off at run time; on its own the loop is faster than it was there. NF4 dq b64, float
// activations: one thread, 128x4096 in cache, 15.9-16.3 -> 12.4-12.7 us; two threads, 4096x4096
// from DRAM, 389-562 -> 280-462 us a call (docs/kernels.md).
// GCC 12's _mm512_reduce_add_ps starts from _mm256_undefined_pd(), which it then warns about here
// (as in fused_linear_q8.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
QB_TARGET_AVX512 QB_INLINE float book64_dot(const FusedWeight &w, const float *xp,
                                            const std::uint8_t *nibRow, const float *absmax)
{
    __m512 a[1] = {_mm512_setzero_ps()}, b[1] = {_mm512_setzero_ps()};
    __m512 c2[1] = {_mm512_setzero_ps()}, d[1] = {_mm512_setzero_ps()};
    const float *x[1] = {xp};
    const __m512 book = _mm512_loadu_ps(w.codebook);
    for (std::int64_t k = 0; k < w.cols / 64; ++k) {
        if ((k & 1) == 0)
            _mm_prefetch(reinterpret_cast<const char *>(nibRow + w.code_stride + 32 * k),
                         _MM_HINT_T0);
        const __m512 lut = _mm512_mul_ps(book, _mm512_set1_ps(absmax[k]));
        nibbles512<1>(nibRow + 32 * k, x, 64 * k, lut, a, b);
        nibbles512<1>(nibRow + 32 * k + 16, x, 64 * k + 32, lut, c2, d);
    }
    return _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(a[0], b[0]), _mm512_add_ps(c2[0], d[0])));
}
#pragma GCC diagnostic pop

// A row as tile_avx512<1> takes it (the last of 5 or 9 activation rows).
QB_TARGET_AVX512 __attribute__((noinline)) float book64_row(const FusedWeight &w,
                                                             const float *xp,
                                                             const std::uint8_t *nibRow,
                                                             const float *absmax)
{
    return book64_dot(w, xp, nibRow, absmax);
}

// Rows [row_begin, row_end) at one activation row, row r's absmax at absmax + (r - row_begin) ·
// absmaxStride; the loop over the rows is here rather than in run_rows (see group_rows).
QB_TARGET_AVX512 __attribute__((noinline)) void book64_rows(const FusedWeight &w,
                                                             const float *xp, float *y,
                                                             std::int64_t row_begin,
                                                             std::int64_t row_end,
                                                             const float *absmax,
                                                             std::int64_t absmaxStride)
{
    for (std::int64_t r = row_begin; r < row_end; ++r)
        y[r] = finish(w, r,
                      book64_dot(w, xp, w.row_codes(r),
                                 absmax + (r - row_begin) * absmaxStride));
}

// One activation row against IntGroup rows [row_begin, row_end) of 4-bit codes in groups of 128
// (the int method's default) or 64: tile_avx512's 128- and 64-column loops, the same operations in
// the same order (so the same bits), with each group's table built one group ahead. The table's
// chain (zero point, convert, broadcast, subtract, multiply) is ~17 cycles long and the loop is
// bound by its four accumulators' FMA latency, so without the lead the permutes waited for it at
// every group. INT4 g128, float activations, one thread, 64x4096 in cache: 7.3-7.4 -> 6.0-6.1 us
// (6.4 with the table built in its own group); two threads, 4096x4096 from DRAM: 268-327 ->
// 225-268 us a call. The loop over the rows is here rather than in run_rows, whose call of a tile
// per row cost ~26 cycles a row (640x256 in cache: 9.9-10.1 -> 4.6 us; docs/kernels.md).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <int Group>
QB_TARGET_AVX512 __attribute__((noinline)) void group_rows(const FusedWeight &w, const float *xp,
                                                            float *y, std::int64_t row_begin,
                                                            std::int64_t row_end)
{
    static_assert(Group == 64 || Group == 128);
    const float *x[1] = {xp};
    const std::int64_t groups = w.cols / Group;
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        __m512 a[1] = {_mm512_setzero_ps()}, b[1] = {_mm512_setzero_ps()};
        __m512 c2[1] = {_mm512_setzero_ps()}, d[1] = {_mm512_setzero_ps()};
        const std::uint8_t *nibRow = w.row_codes(r);
        const GroupRow g = GroupRow::of(w, r);
        __m512 next = g.table(0);
        for (std::int64_t k = 0; k < groups; ++k) {
            const __m512 lut = next;
            if (k + 1 < groups)
                next = g.table(k + 1);
            const std::uint8_t *src = nibRow + Group / 2 * k;
            // The next row's line, as in tile_avx512 (past the last row: wasted, never a fault).
            if (Group == 128 || (k & 1) == 0)
                _mm_prefetch(reinterpret_cast<const char *>(src + w.code_stride), _MM_HINT_T0);
            nibbles512<1>(src, x, Group * k, lut, a, b);
            nibbles512<1>(src + 16, x, Group * k + 32, lut, c2, d);
            if (Group == 128) {
                nibbles512<1>(src + 32, x, Group * k + 64, lut, a, b);
                nibbles512<1>(src + 48, x, Group * k + 96, lut, c2, d);
            }
        }
        y[r] = finish(w, r,
                      _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], b[0]),
                                                         _mm512_add_ps(c2[0], d[0]))));
    }
}
#pragma GCC diagnostic pop

// NR weight rows against MR activation rows: 32 nibbles of each weight row (16 bytes at
// src[n]), as nibbles512 for each (weight row, activation row) pair, each activation vector loaded
// once for the NR rows.
template <int MR, int NR>
QB_TARGET_AVX512 QB_INLINE void nibbles512_rows(const std::uint8_t *const (&src)[NR],
                                                const float *const *xp, std::int64_t col,
                                                const __m512 (&lut)[NR], __m512 (&hi)[NR][MR],
                                                __m512 (&lo)[NR][MR])
{
    __m512 wh[NR], wl[NR];
    for (int n = 0; n < NR; ++n) {
        const __m512i v
            = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src[n])));
        wh[n] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut[n]);
        wl[n] = _mm512_permutexvar_ps(v, lut[n]);
    }
    for (int j = 0; j < MR; ++j) {
        const __m512 xh = _mm512_loadu_ps(xp[j] + col), xl = _mm512_loadu_ps(xp[j] + col + 16);
        for (int n = 0; n < NR; ++n) {
            hi[n][j] = _mm512_fmadd_ps(wh[n], xh, hi[n][j]);
            lo[n][j] = _mm512_fmadd_ps(wl[n], xl, lo[n][j]);
        }
    }
}

// NR weight rows from r against MR activation rows from i0, for the formats rows_at_few_avx512
// takes: 4-bit INT groups of 128 (group_rows' loop) and Blockwise4 blocks of 64 whose absmax is
// at hand, row r + n's at absmax[n] (book64_dot's loop). Each output keeps those loops' four
// accumulators and operations in their order, so it has the bits it has alone; the activations
// are loaded once for the NR rows. A tile of four activation rows against one weight row loads
// 36 vectors per 128 codes for 32 multiply-adds, about one load a cycle on this VM; two by two
// loads 24 for 32.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <int MR, int NR>
QB_TARGET_AVX512 __attribute__((noinline)) void rows_tile(const FusedWeight &w,
                                                           const FusedInput &in, std::int64_t r,
                                                           std::int64_t i0,
                                                           const float *const (&absmax)[NR],
                                                           float *y)
{
    const float *xp[MR];
    for (int j = 0; j < MR; ++j)
        xp[j] = in.ordered.data() + (i0 + j) * w.cols;
    const std::uint8_t *row[NR];
    for (int n = 0; n < NR; ++n)
        row[n] = w.row_codes(r + n);
    __m512 a[NR][MR], b[NR][MR], c2[NR][MR], d[NR][MR];
    for (int n = 0; n < NR; ++n)
        for (int j = 0; j < MR; ++j)
            a[n][j] = b[n][j] = c2[n][j] = d[n][j] = _mm512_setzero_ps();
    auto step = [&](std::int64_t byte, std::int64_t col, const __m512 (&lut)[NR], bool first)
                    QB_LAMBDA_AVX512 {
        const std::uint8_t *src[NR];
        for (int n = 0; n < NR; ++n)
            src[n] = row[n] + byte;
        if (first)
            nibbles512_rows<MR, NR>(src, xp, col, lut, a, b);
        else
            nibbles512_rows<MR, NR>(src, xp, col, lut, c2, d);
    };
    if (w.format == FusedFormat::Blockwise4) {
        const __m512 book = _mm512_loadu_ps(w.codebook);
        for (std::int64_t k = 0; k < w.cols / 64; ++k) {
            __m512 lut[NR];
            for (int n = 0; n < NR; ++n)
                lut[n] = _mm512_mul_ps(book, _mm512_set1_ps(absmax[n][k]));
            step(32 * k, 64 * k, lut, true);
            step(32 * k + 16, 64 * k + 32, lut, false);
        }
    } else {
        GroupRow g[NR];
        for (int n = 0; n < NR; ++n)
            g[n] = GroupRow::of(w, r + n);
        const std::int64_t groups = w.cols / 128;
        __m512 next[NR];
        for (int n = 0; n < NR; ++n)
            next[n] = g[n].table(0);
        for (std::int64_t k = 0; k < groups; ++k) {
            __m512 lut[NR];
            for (int n = 0; n < NR; ++n) {
                lut[n] = next[n];
                if (k + 1 < groups)
                    next[n] = g[n].table(k + 1);
            }
            step(64 * k, 128 * k, lut, true);
            step(64 * k + 16, 128 * k + 32, lut, false);
            step(64 * k + 32, 128 * k + 64, lut, true);
            step(64 * k + 48, 128 * k + 96, lut, false);
        }
    }
    for (int n = 0; n < NR; ++n)
        for (int j = 0; j < MR; ++j)
            y[(i0 + j) * w.rows + r + n]
                = finish(w, r + n,
                         _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[n][j], b[n][j]),
                                                            _mm512_add_ps(c2[n][j], d[n][j]))));
}
#pragma GCC diagnostic pop

template <int MR>
QB_TARGET_AVX512 void tile_avx512(const FusedWeight &w, const FusedInput &in, std::int64_t r,
                                  std::int64_t i0, const RowData &rowData, float *out)
{
    const std::uint8_t *bytes = rowData.bytes;
    const std::int64_t cols = w.cols;
    const float *x[MR];
    const float *xp[MR];
    // The reordered copy (FusedInput::order; none for INT8 and other groups: x itself).
    const float *ordered = in.ordered.empty() ? in.x : in.ordered.data();
    for (int j = 0; j < MR; ++j) {
        x[j] = in.x + (i0 + j) * cols;
        xp[j] = ordered + (i0 + j) * cols;
    }
    __m512 a[MR], b[MR], c2[MR], d[MR];
    float tail[MR];
    for (int j = 0; j < MR; ++j) {
        a[j] = b[j] = c2[j] = d[j] = _mm512_setzero_ps();
        tail[j] = 0.0f;
    }
    if (in.order == FusedOrder::Quads) {
        if (w.bits == 3)
            quad_row<MR, 3>(w, r, xp, out);
        else
            quad_row<MR, 2>(w, r, xp, out);
        return;
    }
    const bool nibbles = uses_nibbles(w);
    const bool blockwise = w.format == FusedFormat::Blockwise4;
    const auto *packed = static_cast<const std::uint8_t *>(w.codes);
    const auto *q = static_cast<const std::int8_t *>(w.codes) + r * cols;
    // Nibble index of column 0 of this row, and the bytes it counts from.
    // By row where rows are byte-aligned (IntGroup; Blockwise4 whose blocks tile the rows),
    // else from the flattened weight's first nibble.
    const bool byRow = !blockwise || w.code_stride != 0;
    const std::int64_t nib0 = byRow ? 0 : r * cols;
    const std::uint8_t *nibRow = byRow ? w.row_codes(r) : packed;
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    // The common 4-bit case in one straight loop: segments of a multiple of 32 columns that
    // tile the row from column 0 (groups/blocks of 32, 64, 128, ...; rows a multiple of them).
    const std::int64_t seg = blockwise ? w.block_size : w.group;
    if (nibbles && seg % 32 == 0 && cols % seg == 0) {
        // flattened block (Blockwise4) of segment 0; IntGroup segment k is the row's group k
        const std::int64_t first = blockwise ? r * cols / seg : 0;
        const GroupRow group = blockwise ? GroupRow{} : GroupRow::of(w, r);
        if constexpr (MR == 1)
            if (blockwise && seg == 64 && byRow && rowData.absmax) {
                out[0] = book64_row(w, xp[0], nibRow, rowData.absmax);
                return;
            }
        // Double-quantized absmax comes decoded (run_rows, sixteen blocks at a time over the
        // thread's rows), off the vector loop's path.
        // Segment k's 16 weight values; segments of 64 and 128 columns (NF4's and the int
        // method's defaults) as one loop each, without a loop per segment inside (NF4 dq b64,
        // one thread, 128x4096 in cache: 27.6 -> 25.6 us; INT4 g128 unchanged at 23.6; the same
        // operations in the same order).
        auto lutOf = [&](std::int64_t k) QB_LAMBDA_AVX512 {
            if (blockwise) {
                const float am
                    = rowData.absmax ? rowData.absmax[k] : block_absmax(w, first + k);
                return _mm512_mul_ps(_mm512_loadu_ps(w.codebook), _mm512_set1_ps(am));
            }
            return group.table(k);
        };
        auto sixtyFour = [&](std::int64_t i, __m512 lut) QB_LAMBDA_AVX512 {
            nibbles512<MR>(nibRow + (nib0 + i) / 2, xp, i, lut, a, b);
            nibbles512<MR>(nibRow + (nib0 + i + 32) / 2, xp, i + 32, lut, c2, d);
        };
        if (seg == 64)
            for (std::int64_t k = 0; k < cols / 64; ++k)
                sixtyFour(64 * k, lutOf(k));
        else if (seg == 128) {
            // Each group's table one group ahead, as group_rows builds them (INT4 g128, one
            // thread, in cache: 640x256 at 4 activation rows 23.1-23.7 -> 21.4-21.5 us,
            // 64x4096 at 2 rows 10.5-10.7 -> 10.1-10.2).
            const std::int64_t groups = cols / 128;
            __m512 next = lutOf(0);
            for (std::int64_t k = 0; k < groups; ++k) {
                const __m512 lut = next;
                if (k + 1 < groups)
                    next = lutOf(k + 1);
                // One activation row: the next weight row's line, as the int8 path fetches it
                // (byRow: rows lie one after another). Two threads, INT4 g128 4096x4096 from
                // DRAM: 349-451 -> 261-336 us a call; one thread in cache unchanged. NF4's
                // 64-column blocks take book64_row; the 64-column loop (INT groups of 64) has no
                // fetch: there it made NF4 12% slower in cache (docs/kernels.md). Past the last
                // row the fetch is wasted, never a fault.
                if (MR == 1 && byRow)
                    _mm_prefetch(reinterpret_cast<const char *>(nibRow + w.code_stride + 64 * k),
                                 _MM_HINT_T0);
                sixtyFour(128 * k, lut);
                sixtyFour(128 * k + 64, lut);
            }
        } else
            for (std::int64_t k = 0, c = 0; c < cols; ++k, c += seg) {
                const __m512 lut = lutOf(k);
                std::int64_t i = c;
                for (; i + 64 <= c + seg; i += 64)
                    sixtyFour(i, lut);
                if (i < c + seg)
                    nibbles512<MR>(nibRow + (nib0 + i) / 2, xp, i, lut, a, b);
            }
        for (int j = 0; j < MR; ++j)
            out[j] = _mm512_reduce_add_ps(
                _mm512_add_ps(_mm512_add_ps(a[j], b[j]), _mm512_add_ps(c2[j], d[j])));
        return;
    }

    SegmentCursor cursor(w, r);
    Segment s;
    while (cursor.next(s)) {
        std::int64_t c = s.begin;
        const std::int64_t end = s.end;
        if (nibbles) {
            if ((nib0 & 1) != 0) { // the row starts mid-byte (odd cols): scalar
                scalar_cols<MR>(w, x, r, c, end, s.scale, s.zero, tail);
                continue;
            }
            const __m512 vs = _mm512_set1_ps(s.scale);
            const __m512 lut
                = blockwise ? _mm512_mul_ps(_mm512_loadu_ps(w.codebook), vs)
                            : _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(s.zero)), vs);
            const std::int64_t first = (c + 31) / 32 * 32; // chunks start at multiples of 32
            if (first > c) {
                scalar_cols<MR>(w, x, r, c, std::min(first, end), s.scale, s.zero, tail);
                c = first;
            }
            for (; c + 64 <= end; c += 64) {
                nibbles512<MR>(nibRow + (nib0 + c) / 2, xp, c, lut, a, b);
                nibbles512<MR>(nibRow + (nib0 + c + 32) / 2, xp, c + 32, lut, c2, d);
            }
            for (; c + 32 <= end; c += 32)
                nibbles512<MR>(nibRow + (nib0 + c) / 2, xp, c, lut, a, b);
        } else if (w.format == FusedFormat::Int8Row) {
            c = two_in_flight<16>(
                c, end,
                [&](std::int64_t col, __m512(&acc)[MR]) QB_TARGET_AVX512 {
                    int8x16<MR>(q + col, x, col, acc);
                },
                a, b);
        } else if (w.bits == 2 || w.bits == 3) {
            const __m512 lut = _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(s.zero)),
                                             _mm512_set1_ps(s.scale));
            const std::uint8_t *row = w.row_codes(r);
            if (c % 16 != 0) { // a segment that starts mid-chunk: scalar up to the next one
                const std::int64_t next = std::min(end, (c + 15) / 16 * 16);
                scalar_cols<MR>(w, x, r, c, next, s.scale, s.zero, tail);
                c = next;
            }
            auto run = [&](auto bits) QB_LAMBDA_AVX512 {
                return two_in_flight<16>(
                    c, end,
                    [&](std::int64_t col, __m512(&acc)[MR]) QB_TARGET_AVX512 {
                        small16<MR, decltype(bits)::value>(row, x, col, cols, lut, acc);
                    },
                    a, b);
            };
            c = w.bits == 3 ? run(std::integral_constant<int, 3>{})
                            : run(std::integral_constant<int, 2>{});
        } else {
            const __m512 vz = _mm512_set1_ps(s.zero), vs = _mm512_set1_ps(s.scale);
            c = two_in_flight<16>(
                c, end,
                [&](std::int64_t col, __m512(&acc)[MR]) QB_TARGET_AVX512 {
                    uint8x16<MR>(bytes + col, x, col, vz, vs, acc);
                },
                a, b);
        }
        if (__builtin_expect(c < end, 0))
            scalar_cols<MR>(w, x, r, c, end, s.scale, s.zero, tail);
    }
    for (int j = 0; j < MR; ++j)
        out[j] = _mm512_reduce_add_ps(
                     _mm512_add_ps(_mm512_add_ps(a[j], b[j]), _mm512_add_ps(c2[j], d[j])))
            + tail[j];
}

// ---------------------------------------------------------------- AVX2

// Table lookup of 16 floats (lo = entries 0..7, hi = 8..15) by the low 4 bits of idx (0..15).
QB_TARGET_AVX2 QB_INLINE __m256 lut16_avx2(__m256 lo, __m256 hi, __m256i idx)
{
    const __m256 l = _mm256_permutevar8x32_ps(lo, idx);
    const __m256 h = _mm256_permutevar8x32_ps(hi, idx);
    return _mm256_blendv_ps(l, h, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

QB_TARGET_AVX2 QB_INLINE float hsum_avx2(__m256 v)
{
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// 16 nibbles (8 bytes at src), as nibbles512 with 8-column halves.
template <int MR>
QB_TARGET_AVX2 QB_INLINE void nibbles256(const std::uint8_t *src, const float *const *xp,
                                         std::int64_t col, __m256 lutLo, __m256 lutHi,
                                         __m256 (&hi)[MR], __m256 (&lo)[MR])
{
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(src)));
    const __m256 wh = lut16_avx2(lutLo, lutHi, _mm256_srli_epi32(v, 4));
    const __m256 wl = lut16_avx2(lutLo, lutHi, _mm256_and_si256(v, _mm256_set1_epi32(0x0F)));
    for (int j = 0; j < MR; ++j) {
        hi[j] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(xp[j] + col), hi[j]);
        lo[j] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(xp[j] + col + 8), lo[j]);
    }
}

// 16 nibbles of a 4-bit INT group as nibbles256 takes them, decoded by arithmetic instead of the
// table: (code - zero) · scale is the table's entry for that code, the same two operations on the
// same operands, so the same value. Two conversions, subtractions and multiplications replace
// four permutes, two shifts and two blends, which on AVX2 wait for fewer ports (one thread, in
// cache, INT4 g128 64x4096: 21.4-21.6 -> 16.7-16.8 us; docs/kernels.md, fifteenth session).
template <int MR>
QB_TARGET_AVX2 QB_INLINE void int_nibbles256(const std::uint8_t *src, const float *const *xp,
                                             std::int64_t col, __m256 zero, __m256 scale,
                                             __m256 (&hi)[MR], __m256 (&lo)[MR])
{
    const __m256i v
        = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(src)));
    auto decode = [&](__m256i codes) QB_TARGET_AVX2 {
        return _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(codes), zero), scale);
    };
    const __m256 wh = decode(_mm256_srli_epi32(v, 4));
    const __m256 wl = decode(_mm256_and_si256(v, _mm256_set1_epi32(0x0F)));
    for (int j = 0; j < MR; ++j) {
        hi[j] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(xp[j] + col), hi[j]);
        lo[j] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(xp[j] + col + 8), lo[j]);
    }
}

template <int MR>
QB_TARGET_AVX2 QB_INLINE void int8x8(const std::int8_t *src, const float *const *x,
                                     std::int64_t col, __m256 (&acc)[MR])
{
    const __m256 wv = _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(src))));
    for (int j = 0; j < MR; ++j)
        acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[j] + col), acc[j]);
}

template <int MR>
QB_TARGET_AVX2 QB_INLINE void uint8x8(const std::uint8_t *src, const float *const *x,
                                      std::int64_t col, __m256 vz, __m256 vs, __m256 (&acc)[MR])
{
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(src)));
    const __m256 wv = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(v), vz), vs);
    for (int j = 0; j < MR; ++j)
        acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[j] + col), acc[j]);
}

// Codes c .. c + 7 of a 2- or 3-bit row (c a multiple of 8, so they start on a byte) as eight
// 32-bit lanes, as small_codes16 on eight lanes. `wide`: 4 bytes may be read (3 bits: a later
// chunk of the row follows).
template <int Bits>
QB_TARGET_AVX2 QB_INLINE __m256i small_codes8(const std::uint8_t *row, std::int64_t c, bool wide)
{
    const std::uint8_t *p = row + c * Bits / 8;
    std::uint32_t v;
    if (Bits == 2) {
        v = (std::uint32_t(p[0]) << 8) | p[1];
    } else if (wide) {
        std::memcpy(&v, p, 4);
        v = __builtin_bswap32(v) >> 8;
    } else {
        v = (std::uint32_t(p[0]) << 16) | (std::uint32_t(p[1]) << 8) | p[2];
    }
    const __m256i shifts = Bits == 3 ? _mm256_setr_epi32(21, 18, 15, 12, 9, 6, 3, 0)
                                     : _mm256_setr_epi32(14, 12, 10, 8, 6, 4, 2, 0);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(v)), shifts),
                            _mm256_set1_epi32((1 << Bits) - 1));
}

// 8 codes of 2 or 3 bits through the group's table's first eight entries (codes are below 8).
template <int MR, int Bits>
QB_TARGET_AVX2 QB_INLINE void small8(const std::uint8_t *row, const float *const *x,
                                     std::int64_t col, std::int64_t cols, __m256 lutLo,
                                     __m256 (&acc)[MR])
{
    const __m256 wv
        = _mm256_permutevar8x32_ps(lutLo, small_codes8<Bits>(row, col, col + 16 <= cols));
    for (int j = 0; j < MR; ++j)
        acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[j] + col), acc[j]);
}


// quad_codes for AVX2: codes c .. c + 31 (c a multiple of 32), lane i holding codes 4i .. 4i + 3
// (2 bits: byte i; 3 bits: the 12 bytes read as bytes 0-7 and 4-11, one byte shuffle, one
// variable shift, as the AVX-512 version's lanes 0-7). An 8-entry `vpermps` reads an index's low
// 3 bits, so 3-bit codes need no period in their table and 2-bit codes one of 4.
template <int Bits>
QB_TARGET_AVX2 QB_INLINE __m256i quad_codes8(const std::uint8_t *p)
{
    if constexpr (Bits == 2) {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)));
    } else {
        const __m256i bytes = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p))),
            _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p + 4)), 1);
        const __m256i pairs = _mm256_shuffle_epi8(
            bytes, _mm256_setr_epi32(0x80800001, 0x80800102, 0x80800304, 0x80800405,
                                     0x80800203, 0x80800304, 0x80800506, 0x80800607));
        return _mm256_srlv_epi32(pairs, _mm256_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0));
    }
}

// Group k's 8-entry table (j mod 2^Bits - zero) · scale, GroupRow::table's operations.
template <int Bits>
QB_TARGET_AVX2 QB_INLINE __m256 table8(const GroupRow &g, std::int64_t k)
{
    const __m256 iota = Bits == 2 ? _mm256_setr_ps(0, 1, 2, 3, 0, 1, 2, 3)
                                  : _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_mul_ps(_mm256_sub_ps(iota, _mm256_set1_ps(g.zero(k))),
                         _mm256_set1_ps(g.scales[k]));
}

// Row r of a quad_groups(w, 32) weight against MR activation rows in the AVX2 quad order (per 32
// columns, column 4i + s at 8s + i): quad_row's loop with 32-code chunks and 8-entry tables
// ((j mod 2^Bits - zero) · scale, the same operations as every table), each group's table built
// one group ahead.
template <int MR, int Bits>
QB_TARGET_AVX2 QB_INLINE void quad_row_avx2(const FusedWeight &w, std::int64_t r,
                                            const float *const *xq, float *out)
{
    __m256 a[MR], b[MR], c2[MR], d[MR];
    for (int j = 0; j < MR; ++j)
        a[j] = b[j] = c2[j] = d[j] = _mm256_setzero_ps();
    const std::uint8_t *row = w.row_codes(r);
    const GroupRow g = GroupRow::of(w, r);
    const std::int64_t groups = w.cols / w.group, chunks = w.group / 32;
    __m256 next = table8<Bits>(g, 0);
    for (std::int64_t k = 0; k < groups; ++k) {
        const __m256 lut = next;
        if (k + 1 < groups)
            next = table8<Bits>(g, k + 1);
        for (std::int64_t i = 0, c = k * w.group; i < chunks; ++i, c += 32) {
            const __m256i v = quad_codes8<Bits>(row + c / 8 * Bits);
            const __m256 w0 = _mm256_permutevar8x32_ps(lut, _mm256_srli_epi32(v, 3 * Bits));
            const __m256 w1 = _mm256_permutevar8x32_ps(lut, _mm256_srli_epi32(v, 2 * Bits));
            const __m256 w2 = _mm256_permutevar8x32_ps(lut, _mm256_srli_epi32(v, Bits));
            const __m256 w3 = _mm256_permutevar8x32_ps(lut, v);
            for (int j = 0; j < MR; ++j) {
                a[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xq[j] + c), a[j]);
                b[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xq[j] + c + 8), b[j]);
                c2[j] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xq[j] + c + 16), c2[j]);
                d[j] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xq[j] + c + 24), d[j]);
            }
        }
    }
    for (int j = 0; j < MR; ++j)
        out[j] = hsum_avx2(_mm256_add_ps(_mm256_add_ps(a[j], b[j]), _mm256_add_ps(c2[j], d[j])));
}

template <int MR>
QB_TARGET_AVX2 void tile_avx2(const FusedWeight &w, const FusedInput &in, std::int64_t r,
                              std::int64_t i0, const RowData &rowData, float *out)
{
    const std::uint8_t *bytes = rowData.bytes;
    const std::int64_t cols = w.cols;
    const float *x[MR];
    const float *xp[MR];
    // The reordered copy (FusedInput::order; none for INT8 and other groups: x itself).
    const float *ordered = in.ordered.empty() ? in.x : in.ordered.data();
    for (int j = 0; j < MR; ++j) {
        x[j] = in.x + (i0 + j) * cols;
        xp[j] = ordered + (i0 + j) * cols;
    }
    if (in.order == FusedOrder::Quads) {
        // At most two activation rows at a time: four rows' sixteen accumulators fill AVX2's
        // sixteen registers (640x256 at four rows: 61-65 -> 26-28 us, one thread, in cache).
        constexpr int kFirst = MR > 2 ? 2 : MR;
        const float *const *rest = xp + kFirst;
        if (w.bits == 3) {
            quad_row_avx2<kFirst, 3>(w, r, xp, out);
            if constexpr (MR > 2)
                quad_row_avx2<MR - 2, 3>(w, r, rest, out + 2);
        } else {
            quad_row_avx2<kFirst, 2>(w, r, xp, out);
            if constexpr (MR > 2)
                quad_row_avx2<MR - 2, 2>(w, r, rest, out + 2);
        }
        return;
    }
    __m256 a[MR], b[MR], c2[MR], d[MR];
    float tail[MR];
    for (int j = 0; j < MR; ++j) {
        a[j] = b[j] = c2[j] = d[j] = _mm256_setzero_ps();
        tail[j] = 0.0f;
    }
    const bool nibbles = uses_nibbles(w);
    const bool blockwise = w.format == FusedFormat::Blockwise4;
    const auto *packed = static_cast<const std::uint8_t *>(w.codes);
    const auto *q = static_cast<const std::int8_t *>(w.codes) + r * cols;
    // By row where rows are byte-aligned (IntGroup; Blockwise4 whose blocks tile the rows),
    // else from the flattened weight's first nibble.
    const bool byRow = !blockwise || w.code_stride != 0;
    const std::int64_t nib0 = byRow ? 0 : r * cols;
    const std::uint8_t *nibRow = byRow ? w.row_codes(r) : packed;
    const __m256 iotaLo = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 iotaHi = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);

    // The common 4-bit case in one straight loop, as in tile_avx512.
    const std::int64_t seg = blockwise ? w.block_size : w.group;
    if (nibbles && seg % 32 == 0 && cols % seg == 0) {
        // flattened block (Blockwise4) of segment 0; IntGroup segment k is the row's group k
        const std::int64_t first = blockwise ? r * cols / seg : 0;
        const float *rowScales = blockwise ? nullptr : w.row_scales(r);
        for (std::int64_t k = 0, c = 0; c < cols; ++k, c += seg) {
            if (!blockwise) {
                const __m256 vz = _mm256_set1_ps(w.group_zero(r, k));
                const __m256 vs = _mm256_set1_ps(rowScales[k]);
                for (std::int64_t i = c; i < c + seg; i += 32) {
                    int_nibbles256<MR>(nibRow + i / 2, xp, i, vz, vs, a, b);
                    int_nibbles256<MR>(nibRow + (i + 16) / 2, xp, i + 16, vz, vs, c2, d);
                }
                continue;
            }
            const __m256 am = _mm256_set1_ps(rowData.absmax ? rowData.absmax[k]
                                                            : block_absmax(w, first + k));
            const __m256 lutLo = _mm256_mul_ps(_mm256_loadu_ps(w.codebook), am);
            const __m256 lutHi = _mm256_mul_ps(_mm256_loadu_ps(w.codebook + 8), am);
            for (std::int64_t i = c; i < c + seg; i += 32) {
                nibbles256<MR>(nibRow + (nib0 + i) / 2, xp, i, lutLo, lutHi, a, b);
                nibbles256<MR>(nibRow + (nib0 + i + 16) / 2, xp, i + 16, lutLo, lutHi, c2, d);
            }
        }
        for (int j = 0; j < MR; ++j)
            out[j] = hsum_avx2(_mm256_add_ps(_mm256_add_ps(a[j], b[j]), _mm256_add_ps(c2[j], d[j])));
        return;
    }

    SegmentCursor cursor(w, r);
    Segment s;
    while (cursor.next(s)) {
        std::int64_t c = s.begin;
        const std::int64_t end = s.end;
        if (nibbles) {
            if ((nib0 & 1) != 0) {
                scalar_cols<MR>(w, x, r, c, end, s.scale, s.zero, tail);
                continue;
            }
            const __m256 vs = _mm256_set1_ps(s.scale), vz = _mm256_set1_ps(s.zero);
            const __m256 lutLo = blockwise ? _mm256_mul_ps(_mm256_loadu_ps(w.codebook), vs)
                                           : _mm256_mul_ps(_mm256_sub_ps(iotaLo, vz), vs);
            const __m256 lutHi = blockwise ? _mm256_mul_ps(_mm256_loadu_ps(w.codebook + 8), vs)
                                           : _mm256_mul_ps(_mm256_sub_ps(iotaHi, vz), vs);
            const std::int64_t first = (c + 15) / 16 * 16;
            if (first > c) {
                scalar_cols<MR>(w, x, r, c, std::min(first, end), s.scale, s.zero, tail);
                c = first;
            }
            for (; c + 32 <= end; c += 32) {
                nibbles256<MR>(nibRow + (nib0 + c) / 2, xp, c, lutLo, lutHi, a, b);
                nibbles256<MR>(nibRow + (nib0 + c + 16) / 2, xp, c + 16, lutLo, lutHi, c2, d);
            }
            for (; c + 16 <= end; c += 16)
                nibbles256<MR>(nibRow + (nib0 + c) / 2, xp, c, lutLo, lutHi, a, b);
        } else if (w.format == FusedFormat::Int8Row) {
            c = two_in_flight<8>(
                c, end,
                [&](std::int64_t col, __m256(&acc)[MR]) QB_TARGET_AVX2 {
                    int8x8<MR>(q + col, x, col, acc);
                },
                a, b);
        } else if (w.bits == 2 || w.bits == 3) {
            const __m256 lutLo = _mm256_mul_ps(_mm256_sub_ps(iotaLo, _mm256_set1_ps(s.zero)),
                                               _mm256_set1_ps(s.scale));
            const std::uint8_t *row = w.row_codes(r);
            if (c % 8 != 0) { // a segment that starts mid-chunk: scalar up to the next one
                const std::int64_t next = std::min(end, (c + 7) / 8 * 8);
                scalar_cols<MR>(w, x, r, c, next, s.scale, s.zero, tail);
                c = next;
            }
            auto run = [&](auto bits) QB_TARGET_AVX2 {
                return two_in_flight<8>(
                    c, end,
                    [&](std::int64_t col, __m256(&acc)[MR]) QB_TARGET_AVX2 {
                        small8<MR, decltype(bits)::value>(row, x, col, cols, lutLo, acc);
                    },
                    a, b);
            };
            c = w.bits == 3 ? run(std::integral_constant<int, 3>{})
                            : run(std::integral_constant<int, 2>{});
        } else {
            const __m256 vz = _mm256_set1_ps(s.zero), vs = _mm256_set1_ps(s.scale);
            c = two_in_flight<8>(
                c, end,
                [&](std::int64_t col, __m256(&acc)[MR]) QB_TARGET_AVX2 {
                    uint8x8<MR>(bytes + col, x, col, vz, vs, acc);
                },
                a, b);
        }
        if (__builtin_expect(c < end, 0))
            scalar_cols<MR>(w, x, r, c, end, s.scale, s.zero, tail);
    }
    for (int j = 0; j < MR; ++j)
        out[j] = hsum_avx2(_mm256_add_ps(_mm256_add_ps(a[j], b[j]), _mm256_add_ps(c2[j], d[j])))
            + tail[j];
}

using TileFn = void (*)(const FusedWeight &, const FusedInput &, std::int64_t, std::int64_t,
                       const RowData &, float *);

// How many rows' double-quantized absmax to decode at a time (perRow blocks a row).
// In the rows layout one row at a time: a row's absmax codes lie just before its nibbles, and
// decoding rows ahead reads lines out of the one stream (NF4 dq b64 GEMV over 128 MiB, 2 threads,
// best of 10 alternating passes: 24.0-24.6 GB/s one row ahead, 22.1-22.2 four, 18.9 sixteen,
// 14.6 sixty-four; docs/kernels.md).
// Rows shorter than sixteen blocks are decoded 64 blocks' worth at a time even so: one row's few
// blocks would go one by one (block_absmax_avx512), and such rows are short enough for the lines
// read ahead to be read again from cache (NF4 dq b64, one activation row, one thread, in cache:
// 640x256 17.5 -> 11.0 us, 256x640 12.1 -> 7.9, 3534x256 104 -> 61).
std::int64_t absmax_rows_ahead(const FusedWeight &w, std::int64_t perRow)
{
    return !w.absmax_rows()           ? 64
        : perRow > 0 && perRow < 16 ? 64 / perRow
                                    : 1;
}

template <TileFn Tile1, TileFn Tile2, TileFn Tile3, TileFn Tile4,
          void (*DecodeAbsmax)(const FusedWeight &, std::int64_t, std::int64_t, float *)>
void run_rows(const FusedWeight &w, const FusedInput &in, float *y, std::int64_t row_begin,
              std::int64_t row_end)
{
    // 2-, 3- and 4-bit codes are read from the packed row by the tiles themselves.
    const bool needBytes = w.format == FusedFormat::IntGroup && w.bits == 8;
    // Double-quantized absmax of blocks that tile the rows: decoded for up to 64 rows at a time,
    // once for all their tiles (one block at a time per tile cost more than a short row's
    // products: a built-in-model row holds four blocks).
    const std::int64_t perRow = DecodeAbsmax && w.format == FusedFormat::Blockwise4 && !w.absmax
            && w.cols % w.block_size == 0
        ? w.cols / w.block_size
        : 0;
    const std::int64_t kRowsAhead = absmax_rows_ahead(w, perRow);
    std::vector<float> absmax(static_cast<std::size_t>(perRow * kRowsAhead));
    // Float32 absmax of blocks that tile the rows (absmax_stride set) is read where it lies,
    // row r's entries from r · absmax_stride in either layout, instead of block by block through
    // block_absmax (NF4 b64, float activations, one thread, 128x4096 in cache: 32.8-33.3 -> 15.1
    // us).
    const bool floatAbsmaxRows
        = w.format == FusedFormat::Blockwise4 && w.absmax && w.absmax_stride != 0;
    float out[4];
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        const std::int64_t ahead = (r - row_begin) % kRowsAhead;
        if (perRow > 0 && ahead == 0 && DecodeAbsmax)
            DecodeAbsmax(w, r * perRow, std::min(kRowsAhead, row_end - r) * perRow,
                         absmax.data());
        RowData rowData;
        rowData.bytes = needBytes ? byte_codes(w, r) : nullptr;
        rowData.absmax = perRow > 0 ? absmax.data() + ahead * perRow
            : floatAbsmaxRows        ? w.absmax + r * w.absmax_stride
                                     : nullptr;
        for (std::int64_t i0 = 0; i0 < in.m; i0 += 4) {
            const std::int64_t mr = std::min<std::int64_t>(4, in.m - i0);
            switch (mr) {
            case 1:
                Tile1(w, in, r, i0, rowData, out);
                break;
            case 2:
                Tile2(w, in, r, i0, rowData, out);
                break;
            case 3:
                Tile3(w, in, r, i0, rowData, out);
                break;
            default:
                Tile4(w, in, r, i0, rowData, out);
                break;
            }
            for (std::int64_t j = 0; j < mr; ++j)
                y[(i0 + j) * w.rows + r] = finish(w, r, out[j]);
        }
    }
}

} // namespace

// The dynamic map's 256 values sit in sixteen registers: eight two-table permutes pick each
// code's value among 32 and three rounds of blends by the code's top bits choose among those;
// the group scale is broadcast (sixteen blocks span at most two groups). The float operations
// are block_absmax's (multiply, then add the offset), so the values are the same bits. One by
// one the decode cost ~5 cycles a block, which the NF4 decode GEMV (~9 cycles a block of 64
// weights with int8 activations) could not hide: 12.5-13.3 GB/s before, 17.3-18.8 after,
// against 20-22 for float absmax (a standalone timing loop, 4096x4096, 2 threads, alternating).
namespace {

// Blocks first .. first + n - 1 whose entries lie one after the other from `entries` (block
// first + i's at entries[i]): float32 absmax, copied, or double-quantized codes, decoded.
QB_TARGET_AVX512 void absmax_run_avx512(const FusedWeight &w, std::int64_t first, std::int64_t n,
                                        const void *entries, float *out)
{
    std::int64_t i = 0;
    if (w.absmax) {
        // Until 2026-12-07 these went through block_absmax one at a time, with a division a block
        // in the rows layout: NF4 b64 without double quantization, int8 activations, one thread,
        // 128x4096 in cache, 21.0-21.4 us -> 8.0-8.1 (double-quantized: 7.5-7.7).
        const auto *a = static_cast<const float *>(entries);
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(out + i, _mm512_loadu_ps(a + i));
        for (; i < n; ++i)
            out[i] = a[i];
        return;
    }
    const auto *codes = static_cast<const std::uint8_t *>(entries);
    if (w.dq_block_size >= 16) {
        __m512 map[16];
        for (int t = 0; t < 16; ++t)
            map[t] = _mm512_loadu_ps(w.dq_map + 16 * t);
        const __m512 offset = _mm512_set1_ps(w.absmax_offset);
        const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        // The group of block b and where the next one starts, carried along instead of two
        // 64-bit divisions per sixteen blocks.
        std::int64_t g0 = w.dq_block_size == 256 ? first >> 8 : first / w.dq_block_size;
        std::int64_t next = (g0 + 1) * w.dq_block_size;
        for (; i + 16 <= n; i += 16) {
            const std::int64_t b = first + i;
            if (b >= next) {
                ++g0;
                next += w.dq_block_size;
            }
            const __m512i code = _mm512_cvtepu8_epi32(
                _mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + i)));
            __m512 pick[8];
            for (int t = 0; t < 8; ++t)
                pick[t] = _mm512_permutex2var_ps(map[2 * t], code, map[2 * t + 1]);
            for (int bit = 5, half = 4; half >= 1; ++bit, half /= 2) {
                const __mmask16 high = _mm512_test_epi32_mask(code, _mm512_set1_epi32(1 << bit));
                for (int t = 0; t < half; ++t)
                    pick[t] = _mm512_mask_blend_ps(high, pick[2 * t], pick[2 * t + 1]);
            }
            // Lanes past a group boundary take the next group's scale.
            __m512 scale = _mm512_set1_ps(w.absmax_scales[g0]);
            if (b + 15 >= next) {
                const __mmask16 past = _mm512_cmpge_epi32_mask(
                    lane, _mm512_set1_epi32(static_cast<int>(next - b)));
                scale = _mm512_mask_blend_ps(past, scale, _mm512_set1_ps(w.absmax_scales[g0 + 1]));
            }
            _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_mul_ps(pick[0], scale), offset));
        }
    }
    for (; i < n; ++i)
        out[i] = block_absmax(w, first + i);
}

} // namespace

QB_TARGET_AVX512 void block_absmax_avx512(const FusedWeight &w, std::int64_t first,
                                          std::int64_t n, float *out)
{
    // Entry `at` of the stored array: a float32 absmax, or a double-quantized code.
    auto entry = [&w](std::int64_t at) -> const void * {
        if (w.absmax)
            return w.absmax + at;
        return w.absmax_codes + at;
    };
    if (!w.absmax_rows()) {
        absmax_run_avx512(w, first, n, entry(first), out);
        return;
    }
    // The rows layout: a row's blocks at a time (the next row's codes do not follow); one
    // division a call.
    const std::int64_t perRow = w.cols / w.block_size;
    std::int64_t r = (perRow & (perRow - 1)) == 0 ? first >> __builtin_ctzll(perRow) : first / perRow;
    std::int64_t j = first - r * perRow;
    if (!w.absmax && perRow < 16 && n > perRow) {
        // Rows shorter than a vector of blocks (the built-in model's hold four): their codes
        // gathered into one run first, so that sixteen blocks decode at a time, not one by one.
        // The blocks keep their numbers, so the values are the same bits. Each row's codes are
        // copied as a fixed 16 bytes (the next row's overwrite the excess), which stay inside
        // the row's header line (codes start at j < 16 of it): a copy of `take` bytes was a
        // memcpy call per row (one thread, NF4 dq b64 640x256 at one activation row, in
        // cache: float activations 6.5-6.8 -> 5.7-6.0 us, int8 activations 5.6-5.9 -> 4.9-5.0;
        // 3534x256: 36.8-39.7 -> 34.1-35.6 and 30.5-31.2 -> 27.7-29.7).
        std::uint8_t run[256 + 16];
        for (std::int64_t i = 0; i < n;) {
            const std::int64_t len = std::min<std::int64_t>(n - i, 256);
            for (std::int64_t g = 0; g < len;) {
                const std::int64_t take = std::min(len - g, perRow - j);
                std::memcpy(run + g, w.absmax_codes + r * w.absmax_stride + j, 16);
                g += take, j += take;
                if (j == perRow)
                    ++r, j = 0;
            }
            absmax_run_avx512(w, first + i, len, run, out + i);
            i += len;
        }
        return;
    }
    for (std::int64_t i = 0; i < n; ++r, j = 0) {
        const std::int64_t len = std::min(n - i, perRow - j);
        absmax_run_avx512(w, first + i, len, entry(r * w.absmax_stride + j), out + i);
        i += len;
    }
}

bool nibble_rows_decodable(const FusedWeight &w)
{
    if (w.format == FusedFormat::IntGroup)
        return w.bits == 4 && !w.zeros_f && w.group > 0 && w.group % 32 == 0
            && w.cols % w.group == 0;
    return w.format == FusedFormat::Blockwise4 && w.block_size % 32 == 0
        && w.cols % w.block_size == 0;
}

namespace {

// Row r of a nibble_rows_decodable weight as the AVX-512 decoders read it: its codes, its
// segments (groups or blocks) and segment k's 16 weight values. `decoded`: the row's
// double-quantized absmax, decoded (read only where w has no float absmax).
struct NibbleRow
{
    const std::uint8_t *codes = nullptr;
    const float *absmax = nullptr; // Blockwise4
    GroupRow group;                // IntGroup
    const float *book = nullptr;   // Blockwise4

    static NibbleRow of(const FusedWeight &w, std::int64_t r, const float *decoded)
    {
        NibbleRow n;
        n.codes = w.row_codes(r);
        if (w.format == FusedFormat::Blockwise4) {
            n.book = w.codebook;
            n.absmax = w.absmax ? w.absmax + w.absmax_index(r * (w.cols / w.block_size))
                                : decoded;
        } else
            n.group = GroupRow::of(w, r);
        return n;
    }
    // INT4: (code - zero) · scale (GroupRow::table); NF4/FP4: book[code] · absmax.
    QB_TARGET_AVX512 QB_INLINE __m512 table(std::int64_t k) const
    {
        return book ? _mm512_mul_ps(_mm512_loadu_ps(book), _mm512_set1_ps(absmax[k]))
                    : group.table(k);
    }
};

std::int64_t nibble_segment(const FusedWeight &w)
{
    return w.format == FusedFormat::Blockwise4 ? w.block_size : w.group;
}

} // namespace

// Per 32 codes one load, a shift, two permutes through the segment's table and two
// two-register permutes that interleave the high nibbles (even columns) with the low ones (odd
// columns). The tables hold the values the dequantize kernels compute: INT4 (code - zero) ·
// scale where dequantize_int_group takes float(code - zero) · scale (the same: both differences
// are exact), NF4/FP4 book[code] · absmax. dequantize_int_group's AVX2 loop takes a scalar load,
// a broadcast, a shift, a mask, a subtraction, a conversion and a multiplication per 8 codes,
// dequantize_blockwise4's two permutes and a blend: 1024x4096 INT4 g128 in 8-row groups, one
// thread, 491-523 -> 175-208 us (docs/kernels.md).
QB_TARGET_AVX512 void decode_nibble_rows_avx512(const FusedWeight &w, std::int64_t row_begin,
                                                std::int64_t row_end, const float *absmax,
                                                float *out)
{
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    const std::int64_t seg = nibble_segment(w), segments = w.cols / seg;
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        const NibbleRow row
            = NibbleRow::of(w, r, absmax ? absmax + (r - row_begin) * segments : nullptr);
        float *dst = out + (r - row_begin) * w.cols;
        for (std::int64_t k = 0; k < segments; ++k) {
            const __m512 lut = row.table(k);
            for (std::int64_t c = k * seg, end = c + seg; c < end; c += 32) {
                const __m512i v = _mm512_cvtepu8_epi32(
                    _mm_loadu_si128(reinterpret_cast<const __m128i *>(row.codes + c / 2)));
                const __m512 even = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut);
                const __m512 odd = _mm512_permutexvar_ps(v, lut);
                _mm512_storeu_ps(dst + c, _mm512_permutex2var_ps(even, first, odd));
                _mm512_storeu_ps(dst + c + 16, _mm512_permutex2var_ps(even, second, odd));
            }
        }
    }
}

namespace {

// Lanes 8-15 (AVX-512 F: extractf32x8 is DQ).
QB_TARGET_AVX512 QB_INLINE __m256 upper_half(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// Eight rows by sixteen columns (lane j of m[i]: row i, column j) stored as sixteen columns of
// eight floats, column j at out + j · stride: pairs of rows interleaved, then four rows' columns
// gathered per 128-bit lane, then each column's two halves of four rows joined by a two-register
// permute (24 shuffles and 16 stores for 128 floats).
QB_TARGET_AVX512 QB_INLINE void store_columns8(const __m512 (&m)[8], float *out,
                                               std::int64_t stride)
{
    __m512 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_ps(m[i], m[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(m[i], m[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) { // u[i + q] lane L: column 4L + q of rows i .. i + 3
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
    for (int q = 0; q < 4; ++q) {
        const __m512 a = _mm512_permutex2var_ps(u[q], low, u[q + 4]);  // columns q, 4 + q
        const __m512 b = _mm512_permutex2var_ps(u[q], high, u[q + 4]); // columns 8 + q, 12 + q
        _mm256_storeu_ps(out + q * stride, _mm512_castps512_ps256(a));
        _mm256_storeu_ps(out + (4 + q) * stride, upper_half(a));
        _mm256_storeu_ps(out + (8 + q) * stride, _mm512_castps512_ps256(b));
        _mm256_storeu_ps(out + (12 + q) * stride, upper_half(b));
    }
}

} // namespace

// Eight rows decoded as decode_nibble_rows_avx512 decodes them, each 32-column chunk's eight
// rows transposed in registers into the panel (column c's eight floats at panel + 32c): no
// row-major buffer written and read back by gemm_f32_pack_rows.
QB_TARGET_AVX512 void decode_nibble_panel8_avx512(const FusedWeight &w, std::int64_t row_begin,
                                                  const float *absmax, float *panel)
{
    const std::int64_t seg = nibble_segment(w), segments = w.cols / seg;
    NibbleRow row[8];
    for (int i = 0; i < 8; ++i)
        row[i] = NibbleRow::of(w, row_begin + i, absmax ? absmax + i * segments : nullptr);
    for (std::int64_t k = 0; k < segments; ++k) {
        __m512 lut[8];
        for (int i = 0; i < 8; ++i)
            lut[i] = row[i].table(k);
        for (std::int64_t c = k * seg, end = c + seg; c < end; c += 32) {
            __m512 even[8], odd[8];
            for (int i = 0; i < 8; ++i) {
                const __m512i v = _mm512_cvtepu8_epi32(
                    _mm_loadu_si128(reinterpret_cast<const __m128i *>(row[i].codes + c / 2)));
                even[i] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut[i]);
                odd[i] = _mm512_permutexvar_ps(v, lut[i]);
            }
            // Lane j of even[i] is column c + 2j, of odd[i] column c + 2j + 1.
            store_columns8(even, panel + c * 32, 64);
            store_columns8(odd, panel + (c + 1) * 32, 64);
        }
    }
}

// INT8 rows (a multiple of 16 columns): float(q) · scale, dequantize_int8_rowwise's value, eight
// rows sixteen columns at a time into the panel.
QB_TARGET_AVX512 void decode_int8_panel8_avx512(const FusedWeight &w, std::int64_t row_begin,
                                                float *panel)
{
    const std::int8_t *row[8];
    __m512 scale[8];
    for (int i = 0; i < 8; ++i) {
        row[i] = static_cast<const std::int8_t *>(w.codes) + (row_begin + i) * w.cols;
        scale[i] = _mm512_set1_ps(w.scales[row_begin + i]);
    }
    for (std::int64_t c = 0; c < w.cols; c += 16) {
        __m512 m[8];
        for (int i = 0; i < 8; ++i)
            m[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
                                     reinterpret_cast<const __m128i *>(row[i] + c)))),
                                 scale[i]);
        store_columns8(m, panel + c * 32, 32);
    }
}

// quad_groups rows: each 64-code chunk's four vectors (lane j of vector s: column 4j + s) through
// the group's table, as quad_row decodes them, eight rows at a time into the panel.
template <int Bits>
QB_TARGET_AVX512 void decode_quad_panel8_avx512(const FusedWeight &w, std::int64_t row_begin,
                                                float *panel)
{
    const std::uint8_t *row[8];
    GroupRow g[8];
    for (int i = 0; i < 8; ++i) {
        row[i] = w.row_codes(row_begin + i);
        g[i] = GroupRow::of(w, row_begin + i);
    }
    for (std::int64_t k = 0; k < w.cols / w.group; ++k) {
        __m512 lut[8];
        for (int i = 0; i < 8; ++i)
            lut[i] = g[i].table<Bits>(k);
        for (std::int64_t c = k * w.group, end = c + w.group; c < end; c += 64) {
            __m512i v[8];
            for (int i = 0; i < 8; ++i)
                v[i] = quad_codes<Bits>(row[i] + c / 8 * Bits);
            for (int s = 0; s < 4; ++s) {
                __m512 m[8];
                for (int i = 0; i < 8; ++i)
                    m[i] = _mm512_permutexvar_ps(
                        _mm512_srli_epi32(v[i], static_cast<unsigned>((3 - s) * Bits)), lut[i]);
                store_columns8(m, panel + (c + s) * 32, 4 * 32);
            }
        }
    }
}

bool panel8_decodable(const FusedWeight &w)
{
    return nibble_rows_decodable(w) || quad_groups(w)
        || (w.format == FusedFormat::Int8Row && w.cols % 16 == 0);
}

void decode_panel8_avx512(const FusedWeight &w, std::int64_t row_begin, const float *absmax,
                          float *panel)
{
    if (w.format == FusedFormat::Int8Row)
        decode_int8_panel8_avx512(w, row_begin, panel);
    else if (quad_groups(w) && w.bits == 3)
        decode_quad_panel8_avx512<3>(w, row_begin, panel);
    else if (quad_groups(w))
        decode_quad_panel8_avx512<2>(w, row_begin, panel);
    else
        decode_nibble_panel8_avx512(w, row_begin, absmax, panel);
}

namespace {

// One activation row against INT8 rows [row_begin, row_end) whose length is a multiple of 16:
// tile_avx512<1>'s loop and sums (the same bits), the loop over the rows here (see
// group_rows).
QB_TARGET_AVX512 __attribute__((noinline)) void int8_rows(const FusedWeight &w, const float *xr,
                                                           float *y, std::int64_t row_begin,
                                                           std::int64_t row_end)
{
    const float *x[1] = {xr};
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        const auto *q = static_cast<const std::int8_t *>(w.codes) + r * w.cols;
        __m512 a[1] = {_mm512_setzero_ps()}, b[1] = {_mm512_setzero_ps()};
        two_in_flight<16>(
            0, w.cols,
            [&](std::int64_t col, __m512(&acc)[1]) QB_TARGET_AVX512 {
                int8x16<1>(q + col, x, col, acc);
            },
            a, b);
        y[r] = finish(w, r, _mm512_reduce_add_ps(_mm512_add_ps(a[0], b[0])));
    }
}

// One activation row against 2- or 3-bit IntGroup rows [row_begin, row_end) whose groups are
// a multiple of 16 columns but not of 64 (those take quad_rows): tile_avx512's loop and sums
// for each group (two accumulators on alternate 16-code chunks from the group's start), the
// loop over the rows here (see group_rows).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <int Bits>
QB_TARGET_AVX512 __attribute__((noinline)) void small_rows(const FusedWeight &w, const float *xr,
                                                            float *y, std::int64_t row_begin,
                                                            std::int64_t row_end)
{
    const float *x[1] = {xr};
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        const std::uint8_t *row = w.row_codes(r);
        const GroupRow g = GroupRow::of(w, r);
        __m512 a[1] = {_mm512_setzero_ps()}, b[1] = {_mm512_setzero_ps()};
        for (std::int64_t k = 0, c = 0; c < w.cols; ++k, c += w.group) {
            const __m512 lut = g.table(k);
            two_in_flight<16>(
                c, c + w.group,
                [&](std::int64_t col, __m512(&acc)[1]) QB_TARGET_AVX512 {
                    small16<1, Bits>(row, x, col, w.cols, lut, acc);
                },
                a, b);
        }
        y[r] = finish(w, r, _mm512_reduce_add_ps(_mm512_add_ps(a[0], b[0])));
    }
}
#pragma GCC diagnostic pop

// One activation row (quad order) against quad_groups rows [row_begin, row_end): quad_row<1>,
// the loop over the rows here (see group_rows).
template <int Bits>
QB_TARGET_AVX512 __attribute__((noinline)) void quad_rows(const FusedWeight &w, const float *xq,
                                                           float *y, std::int64_t row_begin,
                                                           std::int64_t row_end)
{
    const float *x[1] = {xq};
    for (std::int64_t r = row_begin; r < row_end; ++r) {
        float out[1];
        quad_row<1, Bits>(w, r, x, out);
        y[r] = finish(w, r, out[0]);
    }
}

// The weights the loops of their own take (rows_at_one_avx512, rows_at_few_avx512): 4-bit INT
// groups of `group` columns (128 in both; 64 at one activation row); Blockwise4 blocks of 64 that
// tile byte-aligned rows, with float32 absmax where it lies (absmax_stride set) or
// double-quantized; INT8 rows of a multiple of 16 columns.
bool nibbleGroups(const FusedWeight &w, std::int64_t group)
{
    return w.format == FusedFormat::IntGroup && uses_nibbles(w) && w.group == group
        && w.cols % group == 0;
}
bool books64(const FusedWeight &w)
{
    return w.format == FusedFormat::Blockwise4 && w.block_size == 64 && w.cols % 64 == 0
        && w.code_stride != 0 && (!w.absmax || w.absmax_stride != 0);
}
bool int8Rows16(const FusedWeight &w)
{
    return w.format == FusedFormat::Int8Row && w.cols % 16 == 0;
}

// The formats whose rows at one activation row (decoding) have a loop of their own: those above,
// and 2- and 3-bit INT groups of a multiple of 64 columns (quad_rows) or 16 (small_rows). False
// for the others, which run_rows takes.
bool rows_at_one_avx512(const FusedWeight &w, const FusedInput &in, float *y,
                        std::int64_t row_begin, std::int64_t row_end)
{
    if (nibbleGroups(w, 128)) {
        group_rows<128>(w, in.ordered.data(), y, row_begin, row_end);
        return true;
    }
    if (nibbleGroups(w, 64)) {
        group_rows<64>(w, in.ordered.data(), y, row_begin, row_end);
        return true;
    }
    if (int8Rows16(w)) {
        int8_rows(w, in.x, y, row_begin, row_end);
        return true;
    }
    if (quad_groups(w)) {
        if (w.bits == 3)
            quad_rows<3>(w, in.ordered.data(), y, row_begin, row_end);
        else
            quad_rows<2>(w, in.ordered.data(), y, row_begin, row_end);
        return true;
    }
    if (w.format == FusedFormat::IntGroup && (w.bits == 2 || w.bits == 3) && w.group % 16 == 0
        && w.cols % w.group == 0) {
        if (w.bits == 3)
            small_rows<3>(w, in.x, y, row_begin, row_end);
        else
            small_rows<2>(w, in.x, y, row_begin, row_end);
        return true;
    }
    if (!books64(w))
        return false;
    const float *xp = in.ordered.data();
    if (w.absmax) {
        book64_rows(w, xp, y, row_begin, row_end, w.absmax + row_begin * w.absmax_stride,
                    w.absmax_stride);
        return true;
    }
    // Double-quantized: decoded some rows ahead, as run_rows does.
    const std::int64_t perRow = w.cols / 64, ahead = absmax_rows_ahead(w, perRow);
    std::vector<float> absmax(static_cast<std::size_t>(perRow * ahead));
    for (std::int64_t r = row_begin; r < row_end; r += ahead) {
        const std::int64_t n = std::min(ahead, row_end - r);
        block_absmax_avx512(w, r * perRow, n * perRow, absmax.data());
        book64_rows(w, xp, y, r, r + n, absmax.data(), perRow);
    }
    return true;
}

// NR INT8 rows from r (a multiple of 16 columns) against MR activation rows from i0: int8_rows'
// loop and sums for each output (two accumulators taking alternate 16-column chunks, so the bits
// it has alone), each activation vector loaded once for the NR rows.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
template <int MR, int NR>
QB_TARGET_AVX512 __attribute__((noinline)) void int8_tile(const FusedWeight &w,
                                                           const FusedInput &in, std::int64_t r,
                                                           std::int64_t i0, float *y)
{
    const float *x[MR];
    for (int j = 0; j < MR; ++j)
        x[j] = in.x + (i0 + j) * w.cols;
    const std::int8_t *q[NR];
    for (int n = 0; n < NR; ++n)
        q[n] = static_cast<const std::int8_t *>(w.codes) + (r + n) * w.cols;
    __m512 acc[2][NR][MR];
    for (int h = 0; h < 2; ++h)
        for (int n = 0; n < NR; ++n)
            for (int j = 0; j < MR; ++j)
                acc[h][n][j] = _mm512_setzero_ps();
    auto step = [&](std::int64_t c, int h) QB_LAMBDA_AVX512 {
        __m512 wv[NR];
        for (int n = 0; n < NR; ++n)
            wv[n] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                _mm_loadu_si128(reinterpret_cast<const __m128i *>(q[n] + c))));
        for (int j = 0; j < MR; ++j) {
            const __m512 xv = _mm512_loadu_ps(x[j] + c);
            for (int n = 0; n < NR; ++n)
                acc[h][n][j] = _mm512_fmadd_ps(wv[n], xv, acc[h][n][j]);
        }
    };
    std::int64_t c = 0;
    for (; c + 32 <= w.cols; c += 32) {
        step(c, 0);
        step(c + 16, 1);
    }
    if (c < w.cols)
        step(c, 0);
    for (int n = 0; n < NR; ++n)
        for (int j = 0; j < MR; ++j)
            y[(i0 + j) * w.rows + r + n] = finish(
                w, r + n, _mm512_reduce_add_ps(_mm512_add_ps(acc[0][n][j], acc[1][n][j])));
}
#pragma GCC diagnostic pop

// Several INT8 rows (a multiple of 16 columns) against several activation rows: weight rows two
// at a time (the last alone) against tiles of up to four activation rows.
template <int NR>
void int8_tiles(const FusedWeight &w, const FusedInput &in, std::int64_t r, float *y)
{
    activation_tiles(0, in.m, [&](auto mr, std::int64_t i0) {
        int8_tile<decltype(mr)::value, NR>(w, in, r, i0, y);
    });
}

// Several activation rows against the formats rows_tile takes (weight rows two at a time, the
// last alone, activation rows two at a time, the last alone, against each pair) and INT8 rows
// (int8_tiles). False for the others, which run_rows takes.
bool rows_at_few_avx512(const FusedWeight &w, const FusedInput &in, float *y,
                        std::int64_t row_begin, std::int64_t row_end)
{
    const bool groups = nibbleGroups(w, 128), books = books64(w);
    if (int8Rows16(w)) {
        std::int64_t r = row_begin;
        for (; r + 2 <= row_end; r += 2)
            int8_tiles<2>(w, in, r, y);
        if (r < row_end)
            int8_tiles<1>(w, in, r, y);
        return true;
    }
    if (!groups && !books)
        return false;
    // Blockwise4 absmax: float32 where it lies, or double-quantized and decoded some rows ahead
    // (as run_rows does; an even number of rows, at least two).
    const std::int64_t perRow = books ? w.cols / 64 : 0;
    const std::int64_t ahead
        = books && !w.absmax ? std::max<std::int64_t>(2, absmax_rows_ahead(w, perRow) / 2 * 2)
                             : row_end - row_begin;
    std::vector<float> decoded(static_cast<std::size_t>(books && !w.absmax ? ahead * perRow : 0));
    auto absmaxOf = [&](std::int64_t r) -> const float * {
        if (!books)
            return nullptr;
        if (w.absmax)
            return w.absmax + r * w.absmax_stride;
        return decoded.data() + (r - row_begin) % ahead * perRow;
    };
    for (std::int64_t r = row_begin; r < row_end; r += 2) {
        if (books && !w.absmax && (r - row_begin) % ahead == 0)
            block_absmax_avx512(w, r * perRow, std::min(ahead, row_end - r) * perRow,
                                decoded.data());
        for (std::int64_t i0 = 0; i0 < in.m; i0 += 2) {
            const bool twoX = i0 + 1 < in.m;
            if (r + 1 < row_end) {
                const float *const am[2] = {absmaxOf(r), absmaxOf(r + 1)};
                if (twoX)
                    rows_tile<2, 2>(w, in, r, i0, am, y);
                else
                    rows_tile<1, 2>(w, in, r, i0, am, y);
            } else {
                const float *const am[1] = {absmaxOf(r)};
                if (twoX)
                    rows_tile<2, 1>(w, in, r, i0, am, y);
                else
                    rows_tile<1, 1>(w, in, r, i0, am, y);
            }
        }
    }
    return true;
}

} // namespace

void fused_linear_avx2(const FusedWeight &w, const FusedInput &in, float *y,
                       std::int64_t row_begin, std::int64_t row_end)
{
    // No decode ahead here: one block at a time either way, and ahead of the rows it measured
    // 6% slower at 16 rows (1x640x256 NF4-dq, one thread).
    run_rows<tile_avx2<1>, tile_avx2<2>, tile_avx2<3>, tile_avx2<4>, nullptr>(w, in, y,
                                                                              row_begin, row_end);
}

void fused_linear_avx512(const FusedWeight &w, const FusedInput &in, float *y,
                         std::int64_t row_begin, std::int64_t row_end)
{
    if (in.m == 1 && rows_at_one_avx512(w, in, y, row_begin, row_end))
        return;
    if (in.m > 1 && rows_at_few_avx512(w, in, y, row_begin, row_end))
        return;
    run_rows<tile_avx512<1>, tile_avx512<2>, tile_avx512<3>, tile_avx512<4>,
             block_absmax_avx512>(w, in, y, row_begin, row_end);
}

} // namespace qb::kernels::fused_detail

#endif

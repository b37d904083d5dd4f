#include "kernels/attention.h"

#include "kernels/exp_approx.h"
#include "kernels/fp8_e4m3.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace qb::kernels {

namespace {

// A unit's query rows: row r of a (batch row, kv head) pair is query position r % queries of
// query head kv_head · groups + r / queries.
constexpr int64_t kUnitRows = 16;

int64_t row_blocks(const AttentionArgs &a)
{
    return (a.groups * a.queries + kUnitRows - 1) / kUnitRows;
}

struct Unit
{
    int64_t b, kvh, row_begin, row_end;
};

Unit unit_of(const AttentionArgs &a, int64_t u)
{
    const int64_t blocks = row_blocks(a), block = u % blocks;
    const int64_t pair = u / blocks;
    return {pair / a.kv_heads, pair % a.kv_heads, block * kUnitRows,
            std::min(a.groups * a.queries, (block + 1) * kUnitRows)};
}

// Packed INT4 cache codes: one byte holds elements 2i (low nibble) and 2i + 1, each stored as
// code + 8 (KVCache's int4 layout). Pointers to it count bytes; element d of a row is in byte d / 2.
struct Int4Pair
{
    std::uint8_t byte;
};

// FP8 e4m3 cache codes (kernels/fp8_e4m3.h); the cache never stores the NaN codes.
struct E4m3
{
    std::uint8_t byte;
};

// Element d of a stored row as a float (before the row's scale).
inline float element(const float *row, int64_t d) { return row[d]; }
inline float element(const int8_t *row, int64_t d) { return row[d]; }
inline float element(const Int4Pair *row, int64_t d)
{
    return static_cast<float>(((row[d / 2].byte >> (4 * (d & 1))) & 15) - 8);
}
// Exponent and mantissa moved into float32's fields and rebiased (7 -> 127); exponent 0 is
// subnormal, mantissa · 2^-9.
inline float element(const E4m3 *row, int64_t d)
{
    const std::uint32_t b = row[d].byte, em = b & 0x7F;
    float magnitude;
    if (em < 8) {
        magnitude = static_cast<float>(em) * (1.0f / 512.0f);
    } else {
        const std::uint32_t bits = (em << 20) + (120u << 23);
        std::memcpy(&magnitude, &bits, sizeof magnitude);
    }
    return (b & 0x80) ? -magnitude : magnitude;
}

// One unit's keys and values as stored: float32, or codes with a scale per key.
template <typename T>
struct UnitKV
{
    const T *k, *v;
    const float *k_scale, *v_scale; // null for float32
};

template <typename T>
UnitKV<T> unit_kv(const AttentionArgs &a, int64_t b, int64_t kvh)
{
    const int64_t k0 = b * a.k_batch + kvh * a.k_head, v0 = b * a.v_batch + kvh * a.v_head;
    if constexpr (std::is_same_v<T, float>) {
        return {a.k + k0, a.v + v0, nullptr, nullptr};
    } else {
        const float *ks = a.k_scale + b * a.k_scale_batch + kvh * a.k_scale_head;
        const float *vs = a.v_scale + b * a.v_scale_batch + kvh * a.v_scale_head;
        if constexpr (std::is_same_v<T, int8_t>)
            return {a.k8 + k0, a.v8 + v0, ks, vs};
        else if constexpr (std::is_same_v<T, Int4Pair>)
            return {reinterpret_cast<const Int4Pair *>(a.k4) + k0,
                    reinterpret_cast<const Int4Pair *>(a.v4) + v0, ks, vs};
        else
            return {reinterpret_cast<const E4m3 *>(a.k_e4m3) + k0,
                    reinterpret_cast<const E4m3 *>(a.v_e4m3) + v0, ks, vs};
    }
}

// Element d of key or value j of a unit in double, times its scale; FP8 codes through
// fp8_e4m3.h's own decoder rather than element()'s.
inline double ref_element(const float *row, int64_t d) { return row[d]; }
inline double ref_element(const int8_t *row, int64_t d) { return row[d]; }
inline double ref_element(const Int4Pair *row, int64_t d) { return element(row, d); }
inline double ref_element(const E4m3 *row, int64_t d) { return fp8_e4m3_decode_ref(row[d].byte); }

template <typename T>
double ref_read(const AttentionArgs &a, const UnitKV<T> &u, bool value, int64_t j, int64_t d)
{
    const T *row = value ? u.v + j * a.v_key : u.k + j * a.k_key;
    const float *scale = value ? u.v_scale : u.k_scale;
    return ref_element(row, d) * (scale ? double(scale[j]) : 1.0);
}

} // namespace

int64_t attention_units(const AttentionArgs &a) { return a.batch * a.kv_heads * row_blocks(a); }

int64_t attention_unit_flops(const AttentionArgs &a)
{
    return 4 * std::min(kUnitRows, a.groups * a.queries) * a.keys * a.head_dim;
}

void attention_ref(const AttentionArgs &a, int64_t unit_begin, int64_t unit_end)
{
    std::vector<double> scores(static_cast<size_t>(a.keys));
    std::vector<double> acc(static_cast<size_t>(a.head_dim));
    for (int64_t u = unit_begin; u < unit_end; ++u) {
        const Unit n = unit_of(a, u);
        const UnitKV<float> f = a.k ? unit_kv<float>(a, n.b, n.kvh) : UnitKV<float>{};
        const UnitKV<int8_t> c = a.k8 ? unit_kv<int8_t>(a, n.b, n.kvh) : UnitKV<int8_t>{};
        const UnitKV<Int4Pair> h = a.k4 ? unit_kv<Int4Pair>(a, n.b, n.kvh) : UnitKV<Int4Pair>{};
        const UnitKV<E4m3> e = a.k_e4m3 ? unit_kv<E4m3>(a, n.b, n.kvh) : UnitKV<E4m3>{};
        auto read = [&](bool value, int64_t j, int64_t d) {
            return f.k ? ref_read(a, f, value, j, d)
                 : c.k ? ref_read(a, c, value, j, d)
                 : h.k ? ref_read(a, h, value, j, d)
                       : ref_read(a, e, value, j, d);
        };
        auto key = [&](int64_t j, int64_t d) { return read(false, j, d); };
        auto value = [&](int64_t j, int64_t d) { return read(true, j, d); };
        for (int64_t r = n.row_begin; r < n.row_end; ++r) {
            const int64_t head = n.kvh * a.groups + r / a.queries, i = r % a.queries;
            const float *q = a.q + n.b * a.q_batch + head * a.q_head + i * a.q_query;
            const float *mask = a.mask ? a.mask + n.b * a.mask_batch + i * a.mask_query : nullptr;
            double top = -std::numeric_limits<double>::infinity();
            for (int64_t j = 0; j < a.keys; ++j) {
                double dot = 0;
                for (int64_t d = 0; d < a.head_dim; ++d)
                    dot += double(q[d]) * key(j, d);
                scores[j] = dot * a.scale + (mask ? double(mask[j]) : 0.0);
                top = std::max(top, scores[j]);
            }
            double sum = 0;
            for (int64_t j = 0; j < a.keys; ++j)
                sum += scores[j] = std::exp(scores[j] - top);
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t j = 0; j < a.keys; ++j)
                for (int64_t d = 0; d < a.head_dim; ++d)
                    acc[d] += scores[j] * value(j, d);
            float *out = a.out + n.b * a.out_batch + head * a.out_head + i * a.out_query;
            for (int64_t d = 0; d < a.head_dim; ++d)
                out[d] = static_cast<float>(acc[d] / sum);
        }
    }
}

namespace {

constexpr int kLanes = 8;

// The keys of one query that can carry weight: masked keys (the most negative float, or -inf)
// before the first and after the last unmasked one are skipped (a causal mask's future, a row's
// left padding). Exact whenever one key is unmasked: a skipped key's weight is e^(lowest - top),
// 0 in double and below 2e-38 in the float paths. With every key masked all stay, so the result
// is the mean of the values, as torch's softmax of equal scores gives.
struct KeyRange
{
    int64_t begin, end;
};

KeyRange live_keys(const float *mask, int64_t keys)
{
    if (!mask)
        return {0, keys};
    const float dead = std::numeric_limits<float>::lowest();
    int64_t begin = 0, end = keys;
    while (begin < end && mask[begin] <= dead)
        ++begin;
    while (end > begin && mask[end - 1] <= dead)
        --end;
    return begin == end ? KeyRange{0, keys} : KeyRange{begin, end};
}

// What the fast paths read for query row r of unit n: its vector, and the keys, values, scales
// and mask from its first live key on.
template <typename T>
struct QueryView
{
    const float *q, *mask; // mask null when none
    int64_t keys;          // live keys
    const T *k, *v;
    const float *k_scale, *v_scale; // null for float32
    float *out;
};

template <typename T>
QueryView<T> query_view(const AttentionArgs &a, const Unit &n, int64_t r)
{
    const int64_t head = n.kvh * a.groups + r / a.queries, i = r % a.queries;
    const float *mask = a.mask ? a.mask + n.b * a.mask_batch + i * a.mask_query : nullptr;
    const KeyRange live = live_keys(mask, a.keys);
    const UnitKV<T> kv = unit_kv<T>(a, n.b, n.kvh);
    return {a.q + n.b * a.q_batch + head * a.q_head + i * a.q_query,
            mask ? mask + live.begin : nullptr,
            live.end - live.begin,
            kv.k + live.begin * a.k_key,
            kv.v + live.begin * a.v_key,
            kv.k_scale ? kv.k_scale + live.begin : nullptr,
            kv.v_scale ? kv.v_scale + live.begin : nullptr,
            a.out + n.b * a.out_batch + head * a.out_head + i * a.out_query};
}

// Eight independent partial sums (one AVX2 register), added in a fixed tree.
template <typename T>
inline float dot8(const float *x, const T *y, int64_t n)
{
    float acc[kLanes] = {};
    int64_t d = 0;
    for (; d + kLanes <= n; d += kLanes)
        for (int l = 0; l < kLanes; ++l)
            acc[l] += x[d + l] * element(y, d + l);
    for (int l = 0; d < n; ++d, ++l)
        acc[l] += x[d] * element(y, d);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// s[j] = exp(s[j] - top) for every j; returns their sum (eight partial sums, fixed tree).
float exp_shifted(float *s, int64_t n, float top)
{
    float acc[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int l = 0; l < kLanes; ++l)
            acc[l] += s[j + l] = exp_nonpositive(s[j + l] - top);
    for (int l = 0; j < n; ++j, ++l)
        acc[l] += s[j] = exp_nonpositive(s[j] - top);
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// out[0, n) = Σ_j p[j] · v[j · stride + 0, n) / sum, in blocks of 32 values held in registers
// over the whole sum (accumulating in `out` itself would chain every key through memory).
template <typename T>
void weighted_values(const float *p, const T *v, int64_t keys, int64_t stride, int64_t n,
                     float sum, float *out)
{
    const float inv = 1.0f / sum;
    int64_t d = 0;
    // Blocks of W values (32, then 8) with their sums in an array the compiler keeps in registers.
    auto blocks = [&](auto width) {
        constexpr int W = decltype(width)::value;
        for (; d + W <= n; d += W) {
            float acc[W] = {};
            for (int64_t j = 0; j < keys; ++j)
                for (int l = 0; l < W; ++l)
                    acc[l] += p[j] * element(v + j * stride, d + l);
            for (int l = 0; l < W; ++l)
                out[d + l] = acc[l] * inv;
        }
    };
    blocks(std::integral_constant<int, 4 * kLanes>{});
    blocks(std::integral_constant<int, kLanes>{});
    for (; d < n; ++d) {
        float acc = 0;
        for (int64_t j = 0; j < keys; ++j)
            acc += p[j] * element(v + j * stride, d);
        out[d] = acc * inv;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#define QB_ATTENTION_AVX2 1
#define QB_TARGET_AVX2 __attribute__((target("avx2,fma")))

// Elements d .. d + 7 of a stored row as floats (before the row's scale); d is a multiple of 8.
QB_TARGET_AVX2 inline __m256 load8(const float *row, int64_t d) { return _mm256_loadu_ps(row + d); }
QB_TARGET_AVX2 inline __m256 load8(const int8_t *row, int64_t d)
{
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + d))));
}
// Four bytes, eight nibbles: lane l takes bits 4l .. 4l + 3 of the little-endian word (element
// d + l), minus the offset 8.
QB_TARGET_AVX2 inline __m256 load8(const Int4Pair *row, int64_t d)
{
    std::uint32_t word;
    std::memcpy(&word, row + d / 2, sizeof word);
    const __m256i nibbles = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)),
                          _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
        _mm256_set1_epi32(15));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(nibbles, _mm256_set1_epi32(8)));
}

// element(E4m3) on eight lanes.
QB_TARGET_AVX2 inline __m256 load8(const E4m3 *row, int64_t d)
{
    const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(row + d)));
    const __m256i em = _mm256_and_si256(b, _mm256_set1_epi32(0x7F));
    const __m256 normal = _mm256_castsi256_ps(
        _mm256_add_epi32(_mm256_slli_epi32(em, 20), _mm256_set1_epi32(120 << 23)));
    const __m256 subnormal = _mm256_mul_ps(_mm256_cvtepi32_ps(em), _mm256_set1_ps(1.0f / 512.0f));
    const __m256 tiny = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(8), em));
    const __m256 sign = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x80)), 24));
    return _mm256_or_ps(_mm256_blendv_ps(normal, subnormal, tiny), sign);
}

// Eight dot products q · k_j (j < 8) of head_dim = 8 · chunks values: eight accumulators, then
// one transposing reduction to a vector of the eight sums.
template <typename T>
QB_TARGET_AVX2 inline __m256 dots8_avx2(const float *q, const T *k, int64_t stride,
                                        int64_t chunks)
{
    __m256 acc[8];
    for (int j = 0; j < 8; ++j)
        acc[j] = _mm256_setzero_ps();
    for (int64_t c = 0; c < chunks; ++c) {
        const __m256 qc = _mm256_loadu_ps(q + 8 * c);
        for (int j = 0; j < 8; ++j)
            acc[j] = _mm256_fmadd_ps(qc, load8(k + j * stride, 8 * c), acc[j]);
    }
    const __m256 s01 = _mm256_hadd_ps(acc[0], acc[1]), s23 = _mm256_hadd_ps(acc[2], acc[3]);
    const __m256 s45 = _mm256_hadd_ps(acc[4], acc[5]), s67 = _mm256_hadd_ps(acc[6], acc[7]);
    const __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    // s0123 = [0 1 2 3 | 0 1 2 3] halves of keys 0-3, s4567 the same for keys 4-7.
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                         _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

template <typename T>
QB_TARGET_AVX2 inline float dot_avx2(const float *q, const T *k, int64_t chunks)
{
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = 0; c < chunks; ++c)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * c), load8(k, 8 * c), acc);
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    const __m128 s = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

QB_TARGET_AVX2 float hsum_avx2(__m256 v)
{
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// One unit: head_dim = 8 · chunks.
template <typename T>
QB_TARGET_AVX2 void attention_unit_avx2(const AttentionArgs &a, const Unit &n, float *s)
{
    const int64_t chunks = a.head_dim / 8;
    const __m256 scale = _mm256_set1_ps(a.scale);
    for (int64_t r = n.row_begin; r < n.row_end; ++r) {
        const QueryView<T> view = query_view<T>(a, n, r);
        const float *q = view.q, *mask = view.mask, *k_scale = view.k_scale,
                    *v_scale = view.v_scale;
        const T *k = view.k, *v = view.v;
        const int64_t keys = view.keys;
        __m256 top8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
        int64_t j = 0;
        for (; j + 8 <= keys; j += 8) {
            __m256 d = _mm256_mul_ps(dots8_avx2(q, k + j * a.k_key, a.k_key, chunks), scale);
            if (k_scale)
                d = _mm256_mul_ps(d, _mm256_loadu_ps(k_scale + j));
            if (mask)
                d = _mm256_add_ps(d, _mm256_loadu_ps(mask + j));
            _mm256_storeu_ps(s + j, d);
            top8 = _mm256_max_ps(top8, d);
        }
        float top = -std::numeric_limits<float>::infinity();
        for (; j < keys; ++j) {
            s[j] = dot_avx2(q, k + j * a.k_key, chunks) * a.scale * (k_scale ? k_scale[j] : 1.0f)
                + (mask ? mask[j] : 0.0f);
            top = std::max(top, s[j]);
        }
        {
            const __m128 h = _mm_max_ps(_mm256_castps256_ps128(top8), _mm256_extractf128_ps(top8, 1));
            const __m128 m = _mm_max_ps(h, _mm_movehl_ps(h, h));
            top = std::max(top, _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m))));
        }
        const __m256 top_v = _mm256_set1_ps(top);
        __m256 sum8 = _mm256_setzero_ps();
        for (j = 0; j + 8 <= keys; j += 8) {
            const __m256 e = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), top_v));
            _mm256_storeu_ps(s + j, e);
            sum8 = _mm256_add_ps(sum8, e);
        }
        float sum = hsum_avx2(sum8);
        for (; j < keys; ++j)
            sum += s[j] = exp_nonpositive(s[j] - top);
        const __m256 inv = _mm256_set1_ps(1.0f / sum);
        if (v_scale) { // each weight takes its value's scale: Σ p_j s_j v8_j
            for (j = 0; j + 8 <= keys; j += 8)
                _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j),
                                                      _mm256_loadu_ps(v_scale + j)));
            for (; j < keys; ++j)
                s[j] *= v_scale[j];
        }
        float *out = view.out;
        int64_t c = 0;
        for (; c + 4 <= chunks; c += 4) {
            __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
            const T *vj = v;
            for (int64_t jj = 0; jj < keys; ++jj, vj += a.v_key) {
                const __m256 p = _mm256_broadcast_ss(s + jj);
                o0 = _mm256_fmadd_ps(p, load8(vj, 8 * c), o0);
                o1 = _mm256_fmadd_ps(p, load8(vj, 8 * c + 8), o1);
                o2 = _mm256_fmadd_ps(p, load8(vj, 8 * c + 16), o2);
                o3 = _mm256_fmadd_ps(p, load8(vj, 8 * c + 24), o3);
            }
            _mm256_storeu_ps(out + 8 * c, _mm256_mul_ps(o0, inv));
            _mm256_storeu_ps(out + 8 * c + 8, _mm256_mul_ps(o1, inv));
            _mm256_storeu_ps(out + 8 * c + 16, _mm256_mul_ps(o2, inv));
            _mm256_storeu_ps(out + 8 * c + 24, _mm256_mul_ps(o3, inv));
        }
        for (; c < chunks; ++c) {
            __m256 o = _mm256_setzero_ps();
            const T *vj = v;
            for (int64_t jj = 0; jj < keys; ++jj, vj += a.v_key)
                o = _mm256_fmadd_ps(_mm256_broadcast_ss(s + jj), load8(vj, 8 * c), o);
            _mm256_storeu_ps(out + 8 * c, _mm256_mul_ps(o, inv));
        }
    }
}
#endif

} // namespace

bool attention_simd_supported(const AttentionArgs &a, KernelPath path)
{
#ifdef QB_ATTENTION_AVX2
    return (path == KernelPath::Avx2 || path == KernelPath::Avx512) && a.head_dim % 8 == 0
        && kernel_path_supported(KernelPath::Avx2);
#else
    (void)a;
    (void)path;
    return false;
#endif
}

namespace {

template <typename T>
void attention_portable(const AttentionArgs &a, int64_t unit_begin, int64_t unit_end, float *s)
{
    for (int64_t u = unit_begin; u < unit_end; ++u) {
        const Unit n = unit_of(a, u);
        for (int64_t r = n.row_begin; r < n.row_end; ++r) {
            const QueryView<T> view = query_view<T>(a, n, r);
            float top = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < view.keys; ++j) {
                s[j] = dot8(view.q, view.k + j * a.k_key, a.head_dim) * a.scale
                        * (view.k_scale ? view.k_scale[j] : 1.0f)
                    + (view.mask ? view.mask[j] : 0.0f);
                top = std::max(top, s[j]);
            }
            const float sum = exp_shifted(s, view.keys, top);
            if (view.v_scale)
                for (int64_t j = 0; j < view.keys; ++j)
                    s[j] *= view.v_scale[j];
            weighted_values(s, view.v, view.keys, a.v_key, a.head_dim, sum, view.out);
        }
    }
}

template <typename T>
void attention_fast(const AttentionArgs &a, int64_t unit_begin, int64_t unit_end, KernelPath path)
{
    std::vector<float> scores(static_cast<size_t>(a.keys));
#ifdef QB_ATTENTION_AVX2
    if (attention_simd_supported(a, path)) {
        for (int64_t u = unit_begin; u < unit_end; ++u)
            attention_unit_avx2<T>(a, unit_of(a, u), scores.data());
        return;
    }
#else
    (void)path;
#endif
    attention_portable<T>(a, unit_begin, unit_end, scores.data());
}

} // namespace

void attention_forward(const AttentionArgs &a, int64_t unit_begin, int64_t unit_end,
                       KernelPath path)
{
    if (path == KernelPath::Scalar)
        attention_ref(a, unit_begin, unit_end);
    else if (a.k8)
        attention_fast<int8_t>(a, unit_begin, unit_end, path);
    else if (a.k4)
        attention_fast<Int4Pair>(a, unit_begin, unit_end, path);
    else if (a.k_e4m3)
        attention_fast<E4m3>(a, unit_begin, unit_end, path);
    else
        attention_fast<float>(a, unit_begin, unit_end, path);
}

} // namespace qb::kernels

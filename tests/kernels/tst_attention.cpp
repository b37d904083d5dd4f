// Cached attention (kernels/attention.h): a hand-computed case, masking (one key, every key),
// and every path the CPU has (portable, avx2, avx512; a path it lacks is skipped with a message)
// against the double-precision reference on odd shapes: head_dim multiples of 8 and not, key
// counts around the 8-key blocks, grouped-query heads, several query positions, strided views
// (a cache with room beyond its keys), per-query and broadcast masks, causal masks with left
// padding (whose masked ends the fast paths skip), query rows over several units, split unit
// ranges; float32, INT8, packed INT4 and FP8 caches (codes and a scale per position, read as
// stored) against the reference over the decoded values.
#include "kernels/attention.h"
#include "kernels/fp8_e4m3.h"

#include "support/test_support.h"

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace qb::kernels;

namespace {

// float32 sums of <= 128 terms and the polynomial exp (relative error ~1e-7) against double:
// relative to the largest |value| of the head.
constexpr double kRelTolerance = 1e-5;

// A problem with its storage: q [b, heads, t, d] contiguous; k, v [b, kvh, capacity, d] (the
// first `keys` positions used); mask [b, t, keys] or one row broadcast over t; out as q. The
// keys and values are codes times a scale per (row, head, position), held as codes with the
// scales (ks, vs) and decoded to float32 (k, v): int8 codes (k8, v8), also packed as KVCache
// stores INT4 (k4, v4: code + 8, element 2i in the low nibble) when they are within -7..7, or
// FP8 e4m3 codes (f8, g8: every code but the two NaNs, decoded by fp8_e4m3_decode_ref).
struct Problem
{
    std::vector<float> q, k, v, mask, out, ks, vs;
    std::vector<int8_t> k8, v8;
    std::vector<uint8_t> k4, v4, f8, g8;
    AttentionArgs a;
};

enum class Cache { Float32, Int8, Int4, Fp8 };
enum class Codes { Int8, Int4, Fp8 };

const char *cacheName(Cache c)
{
    const char *names[] = {"float32", "int8", "int4", "fp8"};
    return names[static_cast<int>(c)];
}

// Codes from draw(rng) and a scale per position drawn from [lo, hi); decoded = decode(code) ·
// scale.
template <typename Code, typename Draw, typename Decode>
void codedValues(int64_t positions, int64_t d, unsigned seed, float lo, float hi, Draw draw,
                 Decode decode, std::vector<Code> &codes, std::vector<float> &scales,
                 std::vector<float> &decoded)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> scale(lo, hi);
    codes.resize(static_cast<size_t>(positions * d));
    scales.resize(static_cast<size_t>(positions));
    decoded.resize(codes.size());
    for (int64_t p = 0; p < positions; ++p) {
        scales[p] = scale(rng);
        for (int64_t i = 0; i < d; ++i) {
            codes[p * d + i] = draw(rng);
            decoded[p * d + i] = decode(codes[p * d + i]) * scales[p];
        }
    }
}

// FP8 codes: every byte but the two NaNs, decoded by fp8_e4m3_decode_ref.
void fp8Values(int64_t positions, int64_t d, unsigned seed, std::vector<uint8_t> &codes,
               std::vector<float> &scales, std::vector<float> &decoded)
{
    codedValues(
        positions, d, seed, 0.002f, 0.01f,
        [](std::mt19937 &rng) {
            const auto c = static_cast<uint8_t>(rng());
            return (c & 0x7F) == 0x7F ? static_cast<uint8_t>(c ^ 1) : c;
        },
        [](uint8_t c) { return fp8_e4m3_decode_ref(c); }, codes, scales, decoded);
}

// Integer codes in -limit..limit (127 or 7).
void quantizedValues(int64_t positions, int64_t d, unsigned seed, int limit,
                     std::vector<int8_t> &codes, std::vector<float> &scales,
                     std::vector<float> &decoded)
{
    std::uniform_int_distribution<int> code(-limit, limit);
    codedValues(
        positions, d, seed, 0.005f, 0.03f,
        [&](std::mt19937 &rng) { return static_cast<int8_t>(code(rng)); },
        [](int8_t c) { return static_cast<float>(c); }, codes, scales, decoded);
}

enum MaskKind { NoMask, Random, RandomBroadcast, CausalPadded };

std::vector<uint8_t> packInt4(const std::vector<int8_t> &codes)
{
    std::vector<uint8_t> packed(codes.size() / 2);
    for (size_t i = 0; i < packed.size(); ++i)
        packed[i] = static_cast<uint8_t>((codes[2 * i] + 8) | ((codes[2 * i + 1] + 8) << 4));
    return packed;
}

// Codes::Int4: int8 codes within -7..7, also packed (head_dim even).
Problem makeProblem(int64_t b, int64_t kvh, int64_t groups, int64_t t, int64_t keys, int64_t d,
                    int64_t capacity, int maskKind, unsigned seed, Codes codes = Codes::Int8)
{
    Problem p;
    const int64_t heads = kvh * groups;
    p.q = qbtest::normalValues(b * heads * t * d, seed);
    if (codes == Codes::Fp8) {
        fp8Values(b * kvh * capacity, d, seed + 1, p.f8, p.ks, p.k);
        fp8Values(b * kvh * capacity, d, seed + 2, p.g8, p.vs, p.v);
    } else {
        const int limit = codes == Codes::Int4 ? 7 : 127;
        quantizedValues(b * kvh * capacity, d, seed + 1, limit, p.k8, p.ks, p.k);
        quantizedValues(b * kvh * capacity, d, seed + 2, limit, p.v8, p.vs, p.v);
    }
    if (codes == Codes::Int4) {
        p.k4 = packInt4(p.k8);
        p.v4 = packInt4(p.v8);
    }
    p.out.assign(static_cast<size_t>(b * heads * t * d), std::nanf(""));
    AttentionArgs &a = p.a;
    a.batch = b, a.kv_heads = kvh, a.groups = groups, a.queries = t, a.keys = keys,
    a.head_dim = d;
    a.scale = static_cast<float>(1.0 / std::sqrt(double(d)));
    a.q_batch = heads * t * d, a.q_head = t * d, a.q_query = d;
    a.k_batch = a.v_batch = kvh * capacity * d;
    a.k_head = a.v_head = capacity * d;
    a.k_key = a.v_key = d;
    a.k_scale_batch = a.v_scale_batch = kvh * capacity;
    a.k_scale_head = a.v_scale_head = capacity;
    a.out_batch = heads * t * d, a.out_head = t * d, a.out_query = d;
    const float dead = std::numeric_limits<float>::lowest();
    if (maskKind == Random || maskKind == RandomBroadcast) {
        std::mt19937 rng(seed + 3);
        const int64_t rows = maskKind == RandomBroadcast ? 1 : t;
        p.mask.resize(static_cast<size_t>(b * rows * keys));
        for (auto &m : p.mask)
            m = rng() % 4 == 0 ? dead : 0.0f;
        a.mask_batch = rows * keys;
        a.mask_query = maskKind == RandomBroadcast ? 0 : keys;
    } else if (maskKind == CausalPadded) {
        // As Transformer::hidden builds it: the last t keys are the new positions, query i sees
        // keys up to keys - t + i; batch row r starts with 3r columns of left padding.
        p.mask.assign(static_cast<size_t>(b * t * keys), 0.0f);
        for (int64_t r = 0; r < b; ++r)
            for (int64_t i = 0; i < t; ++i)
                for (int64_t j = 0; j < keys; ++j)
                    if (j < 3 * r || j > keys - t + i)
                        p.mask[static_cast<size_t>((r * t + i) * keys + j)] = dead;
        a.mask_batch = t * keys;
        a.mask_query = keys;
    }
    return p;
}

// Points the arguments at the float32 keys and values, or at the codes and scales; INT4
// strides count bytes.
void bind(Problem &p, Cache cache = Cache::Float32)
{
    p.a.q = p.q.data();
    p.a.k = cache == Cache::Float32 ? p.k.data() : nullptr;
    p.a.v = cache == Cache::Float32 ? p.v.data() : nullptr;
    p.a.k8 = cache == Cache::Int8 ? p.k8.data() : nullptr;
    p.a.v8 = cache == Cache::Int8 ? p.v8.data() : nullptr;
    p.a.k4 = cache == Cache::Int4 ? p.k4.data() : nullptr;
    p.a.v4 = cache == Cache::Int4 ? p.v4.data() : nullptr;
    p.a.k_e4m3 = cache == Cache::Fp8 ? p.f8.data() : nullptr;
    p.a.v_e4m3 = cache == Cache::Fp8 ? p.g8.data() : nullptr;
    p.a.k_scale = cache == Cache::Float32 ? nullptr : p.ks.data();
    p.a.v_scale = cache == Cache::Float32 ? nullptr : p.vs.data();
    p.a.mask = p.mask.empty() ? nullptr : p.mask.data();
    p.a.out = p.out.data();
    const int64_t perElement = cache == Cache::Int4 ? 2 : 1;
    const int64_t d = p.a.head_dim, capacity = p.a.k_scale_head;
    p.a.k_batch = p.a.v_batch = p.a.kv_heads * capacity * d / perElement;
    p.a.k_head = p.a.v_head = capacity * d / perElement;
    p.a.k_key = p.a.v_key = d / perElement;
}

std::vector<KernelPath> pathsToTest()
{
    std::vector<KernelPath> paths;
    for (KernelPath path : {KernelPath::Portable, KernelPath::Avx2, KernelPath::Avx512}) {
        if (kernel_path_supported(path))
            paths.push_back(path);
        else
            qInfo("path %s: not supported by this CPU, skipped", kernel_path_name(path));
    }
    return paths;
}

} // namespace

class TestAttention : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // One head, two keys: scores q·k = (1, 0) with scale 1, so the weights are e/(e+1) and
    // 1/(e+1), and out = (2e/(e+1), 4/(e+1)) from v0 = (2, 0), v1 = (0, 4). head_dim 8 (the SIMD
    // paths' unit) with zeros beyond the first two values.
    void handComputed()
    {
        std::vector<float> q(8, 0.0f), k(16, 0.0f), v(16, 0.0f), out(8);
        q[0] = 1.0f;
        k[0] = 1.0f;      // key 0 = (1, 0, ...)
        k[8 + 1] = 1.0f;  // key 1 = (0, 1, ...)
        v[0] = 2.0f;      // value 0 = (2, 0, ...)
        v[8 + 1] = 4.0f;  // value 1 = (0, 4, ...)
        AttentionArgs a;
        a.batch = a.kv_heads = a.groups = a.queries = 1;
        a.keys = 2;
        a.head_dim = 8;
        a.scale = 1.0f;
        a.q = q.data(), a.k = k.data(), a.v = v.data(), a.out = out.data();
        a.k_key = a.v_key = 8;
        const double e = std::exp(1.0);
        for (KernelPath path : {KernelPath::Scalar, KernelPath::Portable, KernelPath::Avx2}) {
            if (!kernel_path_supported(path))
                continue;
            std::fill(out.begin(), out.end(), -1.0f);
            attention_forward(a, 0, 1, path);
            QVERIFY2(std::abs(out[0] - 2 * e / (e + 1)) < 1e-6, kernel_path_name(path));
            QVERIFY2(std::abs(out[1] - 4 / (e + 1)) < 1e-6, kernel_path_name(path));
            for (int d = 2; d < 8; ++d)
                QCOMPARE(out[d], 0.0f);
        }
        // Masking key 1 leaves value 0 alone; masking both gives the mean of the values, as
        // torch's softmax of equal scores does.
        std::vector<float> mask{0.0f, std::numeric_limits<float>::lowest()};
        a.mask = mask.data();
        for (KernelPath path : {KernelPath::Scalar, KernelPath::Portable, KernelPath::Avx2}) {
            if (!kernel_path_supported(path))
                continue;
            attention_forward(a, 0, 1, path);
            QVERIFY2(std::abs(out[0] - 2.0f) < 1e-6 && std::abs(out[1]) < 1e-6,
                     kernel_path_name(path));
        }
        mask[0] = std::numeric_limits<float>::lowest();
        for (KernelPath path : {KernelPath::Scalar, KernelPath::Portable, KernelPath::Avx2}) {
            if (!kernel_path_supported(path))
                continue;
            attention_forward(a, 0, 1, path);
            QVERIFY2(std::abs(out[0] - 1.0f) < 1e-6 && std::abs(out[1] - 2.0f) < 1e-6,
                     kernel_path_name(path));
        }
    }

    void pathsMatchReference_data()
    {
        QTest::addColumn<int>("kvh");
        QTest::addColumn<int>("groups");
        QTest::addColumn<int>("queries");
        QTest::addColumn<int>("keys");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("mask"); // MaskKind
        QTest::newRow("builtin decode") << 4 << 2 << 1 << 110 << 32 << 2;
        QTest::newRow("one key") << 2 << 1 << 1 << 1 << 32 << 0;
        QTest::newRow("7 keys") << 2 << 2 << 1 << 7 << 64 << 1;
        QTest::newRow("8 keys") << 1 << 4 << 1 << 8 << 16 << 2;
        QTest::newRow("9 keys, 3 queries") << 2 << 2 << 3 << 9 << 32 << 1;
        QTest::newRow("4 groups, 2 queries") << 2 << 4 << 2 << 20 << 32 << 1;
        QTest::newRow("20 query rows (2 blocks)") << 2 << 4 << 5 << 23 << 32 << 1;
        QTest::newRow("prefill 60") << 2 << 2 << 60 << 60 << 32 << 1;
        QTest::newRow("causal prefill, left padding") << 2 << 2 << 37 << 37 << 32 << 3;
        QTest::newRow("causal, cached keys, left padding") << 2 << 2 << 3 << 41 << 64 << 3;
        QTest::newRow("decode, left padding") << 4 << 2 << 1 << 29 << 32 << 3;
        QTest::newRow("causal, portable head_dim") << 2 << 2 << 9 << 20 << 12 << 3;
        QTest::newRow("head_dim 40") << 3 << 1 << 2 << 33 << 40 << 1;
        QTest::newRow("head_dim 128") << 2 << 4 << 1 << 70 << 128 << 0;
        QTest::newRow("head_dim 12 (portable)") << 2 << 2 << 2 << 17 << 12 << 1;
        QTest::newRow("head_dim 5") << 1 << 1 << 1 << 9 << 5 << 2;
    }

    void pathsMatchReference()
    {
        QFETCH(int, kvh);
        QFETCH(int, groups);
        QFETCH(int, queries);
        QFETCH(int, keys);
        QFETCH(int, headDim);
        QFETCH(int, mask);
        const int64_t batch = 3, capacity = keys + 5;
        std::vector<KernelPath> paths = pathsToTest();
        paths.insert(paths.begin(), KernelPath::Scalar);
        // INT8 codes, read as float32 and as INT8; codes of 4 bits (even head_dim), read as INT8
        // and as packed INT4; FP8 codes, read as FP8. Every path (the reference also reads the
        // codes: Scalar) against the reference over the decoded float32 values.
        for (Codes codes : {Codes::Int8, Codes::Int4, Codes::Fp8}) {
            if (codes == Codes::Int4 && headDim % 2)
                continue;
            Problem ref = makeProblem(batch, kvh, groups, queries, keys, headDim, capacity, mask,
                                      7, codes);
            bind(ref);
            attention_ref(ref.a, 0, attention_units(ref.a));
            double top = 0;
            for (float x : ref.v)
                top = std::max(top, double(std::abs(x)));
            const std::vector<Cache> caches = codes == Codes::Int8
                ? std::vector{Cache::Float32, Cache::Int8}
                : codes == Codes::Int4 ? std::vector{Cache::Int8, Cache::Int4}
                                       : std::vector{Cache::Fp8};
            for (Cache cache : caches)
                for (KernelPath path : paths) {
                    if (path == KernelPath::Scalar && cache == Cache::Float32)
                        continue;
                    const QString what
                        = QString("%1, %2 cache").arg(kernel_path_name(path)).arg(cacheName(cache));
                    Problem p = makeProblem(batch, kvh, groups, queries, keys, headDim, capacity,
                                            mask, 7, codes);
                    bind(p, cache);
                    // Two calls over split unit ranges, as the caller's threads make them.
                    const int64_t units = attention_units(p.a), split = units / 3;
                    attention_forward(p.a, 0, split, path);
                    attention_forward(p.a, split, units, path);
                    double worst = 0;
                    for (size_t i = 0; i < p.out.size(); ++i) {
                        QVERIFY2(std::isfinite(p.out[i]), qPrintable(what));
                        worst = std::max(worst, std::abs(double(p.out[i]) - double(ref.out[i])));
                    }
                    QVERIFY2(worst <= kRelTolerance * top,
                             qPrintable(QString("%1: max diff %2 of values up to %3")
                                            .arg(what).arg(worst).arg(top)));
                    // One call gives the same bits as the split ones.
                    std::vector<float> split2 = p.out;
                    attention_forward(p.a, 0, units, path);
                    QVERIFY2(p.out == split2, qPrintable(what));
                }
        }
    }

    // A mask must change the result (the test above would pass with a path that ignored it if
    // the masked keys happened not to matter).
    void maskIsApplied()
    {
        for (KernelPath path : pathsToTest()) {
            Problem masked = makeProblem(2, 2, 2, 1, 24, 32, 24, RandomBroadcast, 11);
            Problem plain = makeProblem(2, 2, 2, 1, 24, 32, 24, NoMask, 11);
            bind(masked);
            bind(plain);
            attention_forward(masked.a, 0, attention_units(masked.a), path);
            attention_forward(plain.a, 0, attention_units(plain.a), path);
            double diff = 0;
            for (size_t i = 0; i < plain.out.size(); ++i)
                diff = std::max(diff, std::abs(double(plain.out[i]) - double(masked.out[i])));
            QVERIFY2(diff > 0.05, kernel_path_name(path));
        }
    }
};

QTEST_APPLESS_MAIN(TestAttention)
#include "tst_attention.moc"

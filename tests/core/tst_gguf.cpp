// GGUF: ggml's Q8_0 / Q4_0 blocks on hand-computed vectors, fp16 rounding, the reader's checks
// (truncation at several offsets, bad magic, unknown types) with the byte offset in the message,
// metadata of every value type written and read back, and the model round trips through the
// torch probe: F32 logits identical, Q8_0/Q4_0 weights equal to ggml's block round trip computed
// independently in torch, and the Q/K row permutation checked against GGML's rotary formula.
#include "gguf_probe.h"

#include "io/gguf.h"
#include "kernels/gguf_blocks.h"
#include "support/test_support.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cstring>
#include <vector>

namespace fs = std::filesystem;
using namespace qb;
using io::GgufType;
using io::GgufValue;

namespace {

uint16_t scaleOf(const uint8_t *block) { return uint16_t(block[0] | (block[1] << 8)); }

std::string errorOf(const fs::path &path)
{
    try {
        io::GgufFile::open(path);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

// A small file: a few metadata values and two tensors (f32 [2, 32] and q8_0 [1, 32]).
fs::path writeSample(const fs::path &dir, uint32_t alignment = 32)
{
    io::GgufWriter w(alignment);
    w.set("general.architecture", GgufValue::ofString("llama"));
    w.set("u8", GgufValue::ofScalar(GgufType::U8, 200, 0, 0));
    w.set("i8", GgufValue::ofScalar(GgufType::I8, 0, -100, 0));
    w.set("u16", GgufValue::ofScalar(GgufType::U16, 60000, 0, 0));
    w.set("i16", GgufValue::ofScalar(GgufType::I16, 0, -30000, 0));
    w.set("u32", GgufValue::ofU32(4000000000u));
    w.set("i32", GgufValue::ofI32(-2000000000));
    w.set("f32", GgufValue::ofF32(0.25f));
    w.set("bool", GgufValue::ofBool(true));
    w.set("str", GgufValue::ofString("héllo\nworld"));
    w.set("u64", GgufValue::ofU64(1ull << 40));
    w.set("i64", GgufValue::ofScalar(GgufType::I64, 0, -(1ll << 40), 0));
    w.set("f64", GgufValue::ofScalar(GgufType::F64, 0, 0, 1.0 / 3.0));
    w.set("strings", GgufValue::ofStrings({"<pad>", "", "\n", "word"}));
    w.set("floats", GgufValue::ofF32s({1.5f, -2.0f}));
    w.set("ints", GgufValue::ofI32s({3, -4, 5}));
    std::vector<float> f(64);
    for (int i = 0; i < 64; ++i)
        f[i] = float(i) - 20.0f;
    std::vector<uint8_t> fb(64 * 4);
    std::memcpy(fb.data(), f.data(), fb.size());
    w.addTensor("a.weight", {32, 2}, io::GgmlType::F32, fb);
    std::vector<uint8_t> qb(kernels::kQ8_0BlockBytes);
    kernels::quantize_q8_0_ref(f.data(), 32, qb.data());
    w.addTensor("b.weight", {32}, io::GgmlType::Q8_0, qb);
    const fs::path path = dir / ("sample-" + std::to_string(alignment) + ".gguf");
    w.write(path);
    return path;
}

fs::path writeCut(const fs::path &src, size_t size, const std::string &name)
{
    const std::string bytes = qbtest::readFile(src);
    const fs::path out = src.parent_path() / name;
    qbtest::writeFile(out, bytes.substr(0, size));
    return out;
}

} // namespace

class TestGguf : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fp16Rounding()
    {
        QCOMPARE(kernels::fp32_to_fp16(1.0f), uint16_t(0x3c00));
        QCOMPARE(kernels::fp32_to_fp16(-2.0f), uint16_t(0xc000));
        QCOMPARE(kernels::fp32_to_fp16(65504.0f), uint16_t(0x7bff));
        QCOMPARE(kernels::fp32_to_fp16(65520.0f), uint16_t(0x7c00)); // halfway above max: inf
        QCOMPARE(kernels::fp32_to_fp16(0.1f), uint16_t(0x2e66));
        QCOMPARE(kernels::fp32_to_fp16(std::ldexp(1.0f, -24)), uint16_t(0x0001));
        QCOMPARE(kernels::fp32_to_fp16(std::ldexp(1.0f, -25)), uint16_t(0x0000)); // tie to even
        QCOMPARE(kernels::fp32_to_fp16(std::ldexp(3.0f, -25)), uint16_t(0x0002)); // tie to even
        // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: even mantissa wins.
        QCOMPARE(kernels::fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), uint16_t(0x3c00));
        QCOMPARE(kernels::fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), uint16_t(0x3c02));
        QCOMPARE(kernels::fp16_to_fp32(0x3555), 0.333251953125f);
        QCOMPARE(kernels::fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
        QCOMPARE(kernels::fp16_to_fp32(0xfbff), -65504.0f);
    }

    void q8_0HandComputed()
    {
        // absmax 127 gives d = 1: codes are roundf of the values, ties away from zero.
        std::vector<float> x(32, 0.0f);
        const float v[] = {127.0f, -127.0f, 0.5f, -0.5f, 1.5f, 2.5f, 3.49f, -3.51f, 0.49f};
        std::copy(std::begin(v), std::end(v), x.begin());
        std::vector<uint8_t> blk(kernels::kQ8_0BlockBytes);
        kernels::quantize_q8_0_ref(x.data(), 32, blk.data());
        QCOMPARE(scaleOf(blk.data()), uint16_t(0x3c00));
        const int8_t expect[] = {127, -127, 1, -1, 2, 3, 3, -4, 0};
        for (int j = 0; j < 9; ++j)
            QCOMPARE(int8_t(blk[2 + j]), expect[j]);
        for (int j = 9; j < 32; ++j)
            QCOMPARE(int(blk[2 + j]), 0);
        std::vector<float> y(32);
        kernels::dequantize_q8_0_ref(blk.data(), 32, y.data());
        QCOMPARE(y[5], 3.0f);
        QCOMPARE(y[7], -4.0f);

        // absmax 254: d = 2; 3 / 2 = 1.5 rounds to 2 -> 4; fp16(2) = 0x4000.
        std::vector<float> z(32, 0.0f);
        z[0] = -254.0f;
        z[31] = 3.0f;
        kernels::quantize_q8_0_ref(z.data(), 32, blk.data());
        QCOMPARE(scaleOf(blk.data()), uint16_t(0x4000));
        kernels::dequantize_q8_0_ref(blk.data(), 32, y.data());
        QCOMPARE(y[0], -254.0f);
        QCOMPARE(y[31], 4.0f);

        // All zeros: d = 0, decodes to zeros.
        std::vector<float> zero(32, 0.0f);
        kernels::quantize_q8_0_ref(zero.data(), 32, blk.data());
        QCOMPARE(scaleOf(blk.data()), uint16_t(0));
        kernels::dequantize_q8_0_ref(blk.data(), 32, y.data());
        QCOMPARE(y[3], 0.0f);
    }

    void q4_0HandComputed()
    {
        // Largest magnitude -8 (signed): d = -8 / -8 = 1, q = trunc(x + 8.5) capped at 15.
        std::vector<float> x(32, 0.0f);
        x[0] = -8.0f;  // 0.5 -> 0 -> decodes -8
        x[1] = 7.0f;   // 15.5 -> 15 -> 7
        x[2] = 7.6f;   // 16.1 -> capped 15 -> 7
        x[3] = 0.4f;   // 8.9 -> 8 -> 0
        x[4] = 0.5f;   // 9.0 -> 9 -> 1 (halves round up)
        x[5] = -0.5f;  // 8.0 -> 8 -> 0
        x[16] = -3.0f; // 5.5 -> 5 -> -3, high nibble of byte 0
        x[31] = 2.2f;  // 10.7 -> 10 -> 2, high nibble of byte 15
        std::vector<uint8_t> blk(kernels::kQ4_0BlockBytes);
        kernels::quantize_q4_0_ref(x.data(), 32, blk.data());
        QCOMPARE(scaleOf(blk.data()), uint16_t(0x3c00));
        QCOMPARE(int(blk[2 + 0]), 0 | (5 << 4));
        QCOMPARE(int(blk[2 + 1]), 15 | (8 << 4));
        QCOMPARE(int(blk[2 + 2]), 15 | (8 << 4));
        QCOMPARE(int(blk[2 + 3]), 8 | (8 << 4));
        QCOMPARE(int(blk[2 + 4]), 9 | (8 << 4));
        QCOMPARE(int(blk[2 + 5]), 8 | (8 << 4));
        QCOMPARE(int(blk[2 + 15]), 8 | (10 << 4));
        std::vector<float> y(32);
        kernels::dequantize_q4_0_ref(blk.data(), 32, y.data());
        const float expect[] = {-8, 7, 7, 0, 1, 0};
        for (int j = 0; j < 6; ++j)
            QCOMPARE(y[j], expect[j]);
        QCOMPARE(y[16], -3.0f);
        QCOMPARE(y[31], 2.0f);

        // Largest magnitude positive (+16): d = -2 (fp16 0xc000); 16 -> q 0 -> (0-8) * -2 = 16;
        // -5 -> -5 / -2 + 8.5 = 11 -> (11-8) * -2 = -6.
        std::vector<float> z(32, 0.0f);
        z[7] = 16.0f;
        z[8] = -5.0f;
        kernels::quantize_q4_0_ref(z.data(), 32, blk.data());
        QCOMPARE(scaleOf(blk.data()), uint16_t(0xc000));
        kernels::dequantize_q4_0_ref(blk.data(), 32, y.data());
        QCOMPARE(y[7], 16.0f);
        QCOMPARE(y[8], -6.0f);
        QCOMPARE(y[0], 0.0f);
    }

    void metadataRoundTrip()
    {
        const fs::path dir = qbtest::makeTempDir("gguf-meta");
        for (uint32_t alignment : {32u, 64u}) {
            const auto f = io::GgufFile::open(writeSample(dir, alignment));
            QCOMPARE(f.version(), 3u);
            QCOMPARE(f.alignment(), uint64_t(alignment));
            QCOMPARE(f.dataOffset() % alignment, uint64_t(0));
            QCOMPARE(f.requireInt("u8"), int64_t(200));
            QCOMPARE(f.requireInt("i8"), int64_t(-100));
            QCOMPARE(f.requireInt("u16"), int64_t(60000));
            QCOMPARE(f.requireInt("i16"), int64_t(-30000));
            QCOMPARE(f.requireInt("u32"), int64_t(4000000000ll));
            QCOMPARE(f.requireInt("i32"), int64_t(-2000000000));
            QCOMPARE(f.requireFloat("f32"), 0.25);
            QCOMPARE(f.find("bool")->u, uint64_t(1));
            QCOMPARE(f.requireString("str"), std::string("héllo\nworld"));
            QCOMPARE(f.requireInt("u64"), int64_t(1) << 40);
            QCOMPARE(f.requireInt("i64"), -(int64_t(1) << 40));
            QCOMPARE(f.requireFloat("f64"), 1.0 / 3.0);
            const auto &s = f.requireArray("strings", GgufType::String);
            QCOMPARE(int(s.items.size()), 4);
            QCOMPARE(s.items[1].s, std::string());
            QCOMPARE(s.items[2].s, std::string("\n"));
            QCOMPARE(f.requireArray("floats", GgufType::F32).items[1].f, -2.0);
            QCOMPARE(f.requireArray("ints", GgufType::I32).items[1].i, int64_t(-4));
            QCOMPARE(int(f.tensors().size()), 2);
            const auto *a = f.findTensor("a.weight");
            QVERIFY(a && a->ne == std::vector<int64_t>({32, 2}));
            QCOMPARE(a->offset, uint64_t(0));
            const auto *b = f.findTensor("b.weight");
            QCOMPARE(b->offset, uint64_t(256)); // 256 bytes of a, already aligned
            QCOMPARE(f.readFloat32(*a)[63], 43.0f);
            // -20 .. 11: absmax 20, d = 20/127; -20 decodes to -127 * fp16(d).
            const float d = kernels::fp16_to_fp32(kernels::fp32_to_fp16(20.0f / 127.0f));
            QCOMPARE(f.readFloat32(*b)[0], -127.0f * d);
            // The file ends with the last tensor's padding, as ggml reads it.
            QCOMPARE(uint64_t(fs::file_size(f.path())),
                     f.dataOffset() + ((256 + 34 + alignment - 1) / alignment) * alignment);
            try {
                f.requireString("u8");
                QFAIL("a uint8 read as a string");
            } catch (const Error &e) {
                QVERIFY2(std::string(e.what()).find("'u8' is uint8") != std::string::npos,
                         e.what());
            }
        }
    }

    void rejectsBadFiles()
    {
        const fs::path dir = qbtest::makeTempDir("gguf-bad");
        const fs::path good = writeSample(dir);
        const auto f = io::GgufFile::open(good);
        const auto &b = *f.findTensor("b.weight");
        // The data of b.weight ends 34 bytes after its start; the padding after it is not needed.
        const size_t bEnd = size_t(f.dataOffset() + b.offset) + kernels::kQ8_0BlockBytes;
        QVERIFY(io::GgufFile::open(writeCut(good, bEnd, "exact.gguf")).findTensor("b.weight"));
        // Cut inside: the magic, the counts, a key, an array, a tensor info, the tensor data.
        const size_t cuts[] = {2, 12, 30, 200, size_t(b.infoOffset) + 5,
                               size_t(f.dataOffset()) + 100, bEnd - 1};
        for (size_t cut : cuts) {
            const std::string msg = errorOf(writeCut(good, cut, "cut.gguf"));
            QVERIFY2(msg.find("truncated") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find("cut.gguf: byte ") != std::string::npos, msg.c_str());
        }
        // Data cut: the message names the tensor and the byte where its data starts.
        const std::string dataMsg = errorOf(writeCut(good, bEnd - 1, "cut.gguf"));
        QVERIFY2(dataMsg.find("tensor 'b.weight'") != std::string::npos, dataMsg.c_str());
        QVERIFY2(dataMsg.find("byte " + std::to_string(f.dataOffset() + b.offset))
                     != std::string::npos,
                 dataMsg.c_str());
        const std::string countsMsg = errorOf(writeCut(good, 12, "cut.gguf"));
        QVERIFY2(countsMsg.find("byte 8:") != std::string::npos, countsMsg.c_str());

        std::string bytes = qbtest::readFile(good);
        std::string bad = bytes;
        bad[0] = 'X';
        qbtest::writeFile(dir / "magic.gguf", bad);
        QVERIFY(errorOf(dir / "magic.gguf").find("byte 0: bad magic") != std::string::npos);

        // Tensor type field of b.weight: after the name (8 + 8 bytes), n_dims (4), ne[0] (8).
        const size_t typeAt = size_t(b.infoOffset) + 8 + 8 + 4 + 8;
        bad = bytes;
        bad[typeAt] = 12; // q4_K
        qbtest::writeFile(dir / "type.gguf", bad);
        const std::string typeMsg = errorOf(dir / "type.gguf");
        QVERIFY2(typeMsg.find("byte " + std::to_string(typeAt)) != std::string::npos
                     && typeMsg.find("tensor 'b.weight': ggml type 12 (q4_K)") != std::string::npos,
                 typeMsg.c_str());

        // Value type of the first key ("general.architecture": 8 + 20 bytes after the header).
        bad = bytes;
        bad[24 + 8 + 20] = 42;
        qbtest::writeFile(dir / "vtype.gguf", bad);
        const std::string vMsg = errorOf(dir / "vtype.gguf");
        QVERIFY2(vMsg.find("byte 52: key 'general.architecture': unknown value type 42")
                     != std::string::npos,
                 vMsg.c_str());

        // A shape far larger than the file (whose byte count would overflow).
        bad = bytes;
        const size_t neAt = size_t(b.infoOffset) + 8 + 8 + 4;
        bad[neAt + 7] = 0x10; // ne[0] = 2^60 + 32
        qbtest::writeFile(dir / "shape.gguf", bad);
        const std::string sMsg = errorOf(dir / "shape.gguf");
        QVERIFY2(sMsg.find("byte " + std::to_string(neAt - 4)) != std::string::npos
                     && sMsg.find("elements cannot fit") != std::string::npos,
                 sMsg.c_str());

        // A data offset past the end of the file.
        bad = bytes;
        const size_t offsetAt = typeAt + 4;
        bad[offsetAt + 1] = 0x10; // 4096 + 256
        qbtest::writeFile(dir / "offset.gguf", bad);
        const std::string oMsg = errorOf(dir / "offset.gguf");
        QVERIFY2(oMsg.find("tensor 'b.weight'") != std::string::npos
                     && oMsg.find("runs past the end") != std::string::npos,
                 oMsg.c_str());
    }

    void f32RoundTripIsExact()
    {
        const fs::path dir = qbtest::makeTempDir("gguf-f32");
        QCOMPARE(gguf_probe::f32RoundTripLogitDiff(dir.string(), "llama", false), 0.0);
        QCOMPARE(gguf_probe::f32RoundTripLogitDiff(dir.string(), "llama", true), 0.0);
        QCOMPARE(gguf_probe::f32RoundTripLogitDiff(dir.string(), "qwen2", true), 0.0);
    }

    void quantizedMatchesBlockRoundTrip_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("arch");
        QTest::newRow("q8_0 llama") << "q8_0" << "llama";
        QTest::newRow("q4_0 llama") << "q4_0" << "llama";
        QTest::newRow("q4_0 qwen2") << "q4_0" << "qwen2";
    }
    void quantizedMatchesBlockRoundTrip()
    {
        QFETCH(QString, type);
        QFETCH(QString, arch);
        const fs::path dir = qbtest::makeTempDir("gguf-q");
        const auto r = gguf_probe::quantizedRoundTrip(dir.string(), type.toStdString(),
                                                      arch.toStdString());
        QVERIFY(r.packedOps);
        QCOMPARE(r.maxWeightDiff, 0.0); // the imported codes decode to ggml's values exactly
        // Same weights, different product order (packed kernel vs dense matmul).
        QVERIFY2(r.maxLogitDiff <= 1e-5 * std::max(1.0, r.logitScale),
                 qPrintable(QString::number(r.maxLogitDiff)));
    }

    void ropeRowOrderHandComputed()
    {
        // convert_hf_to_gguf.py: w.reshape(heads, 2, d/2, ...).swapaxes(1, 2): GGUF row
        // h*d + 2j + i holds HF row h*d + i*d/2 + j. For d = 4: rows 0, 2, 1, 3 per head.
        QCOMPARE(gguf_probe::ropeRowOrder(2, 4), std::vector<long long>({0, 2, 1, 3, 4, 6, 5, 7}));
        QCOMPARE(gguf_probe::ropeRowOrder(1, 6), std::vector<long long>({0, 3, 1, 4, 2, 5}));
    }

    void quantizedModelIsRequantized()
    {
        const fs::path dir = qbtest::makeTempDir("gguf-requant");
        QCOMPARE(gguf_probe::quantizedSourceRequantized(dir.string()), 0.0);
    }

    void ropePermutationMatchesGgmlRotary()
    {
        const fs::path dir = qbtest::makeTempDir("gguf-rope");
        const auto r = gguf_probe::ropeScores(dir.string());
        QVERIFY(r.maxScore > 0.1);
        QVERIFY2(r.maxDiff < 1e-5 * r.maxScore, qPrintable(QString::number(r.maxDiff)));
        // Without the permutation GGML's rotary gives other scores: the check can fail.
        QVERIFY(r.maxDiffUnpermuted > 1e-2 * r.maxScore);
    }

    void builtinModelAndTokenizer()
    {
        const fs::path src = qbtest::sourceDir() / "resources" / "tiny-reasoner";
        if (!fs::exists(src / "model.safetensors"))
            QSKIP("shipped tiny-reasoner weights are absent");
        const fs::path dir = qbtest::makeTempDir("gguf-builtin");
        QCOMPARE(gguf_probe::builtinRoundTrip(src.string(), dir.string(), "f32"), std::string());
        QCOMPARE(gguf_probe::builtinRoundTrip(src.string(), dir.string(), "q4_0"), std::string());
        const auto f = io::GgufFile::open(dir / "builtin-f32.gguf");
        QCOMPARE(f.requireString("general.architecture"), std::string("llama"));
        QCOMPARE(f.requireString("tokenizer.ggml.model"), std::string("llama"));
        const auto &tokens = f.requireArray("tokenizer.ggml.tokens", GgufType::String);
        QCOMPARE(int64_t(tokens.items.size()), f.findTensor("token_embd.weight")->ne[1]);
        QCOMPARE(tokens.items[1].s, std::string("<eos>")); // from the shipped tokenizer.json
        QCOMPARE(tokens.items[3].s, std::string("\n"));
        QCOMPARE(f.requireInt("tokenizer.ggml.eos_token_id"), int64_t(1));
        QCOMPARE(f.requireArray("tokenizer.ggml.token_type", GgufType::I32).items[0].i,
                 int64_t(3)); // <pad>: control
        QVERIFY(f.findTensor("output.weight") == nullptr); // tied embeddings
        QCOMPARE(f.requireInt("llama.attention.head_count_kv"), int64_t(4));
        QCOMPARE(f.requireInt("general.file_type"), int64_t(0));
    }

    void byteLevelBpeVocabulary_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<QString>("pre");
        QTest::newRow("qwen2") << "qwen2" << "qwen2" << "qwen2";
        QTest::newRow("llama3") << "llama3" << "llama" << "llama-bpe";
    }
    void byteLevelBpeVocabulary()
    {
        QFETCH(QString, name);
        QFETCH(QString, modelType);
        QFETCH(QString, pre);
        const fs::path tok = qbtest::sharedDataDir() / "tokenizers" / name.toStdString()
            / "tokenizer.json";
        if (qbtest::sharedDataDir().empty() || !fs::exists(tok))
            QSKIP("shared tokenizer files are absent");
        const fs::path dir = qbtest::makeTempDir("gguf-bpe");
        const fs::path path = dir / "bpe.gguf";
        QCOMPARE(gguf_probe::tokenizerExport(tok.string(), modelType.toStdString(), path.string()),
                 std::string());
        // The keys against the tokenizer.json itself, read here with nlohmann.
        const auto j = nlohmann::json::parse(qbtest::readFile(tok));
        const auto f = io::GgufFile::open(path);
        QCOMPARE(f.requireString("tokenizer.ggml.model"), std::string("gpt2"));
        QCOMPARE(f.requireString("tokenizer.ggml.pre"), pre.toStdString());
        const auto &merges = f.requireArray("tokenizer.ggml.merges", GgufType::String).items;
        QCOMPARE(merges.size(), j["model"]["merges"].size());
        const auto &m0 = j["model"]["merges"][0];
        const std::string first = m0.is_string()
            ? m0.get<std::string>()
            : m0[0].get<std::string>() + " " + m0[1].get<std::string>();
        QCOMPARE(merges[0].s, first);
        const auto &tokens = f.requireArray("tokenizer.ggml.tokens", GgufType::String).items;
        const auto &types = f.requireArray("tokenizer.ggml.token_type", GgufType::I32).items;
        QCOMPARE(int64_t(tokens.size()), f.findTensor("token_embd.weight")->ne[1]);
        int checked = 0;
        for (const auto &[text, id] : j["model"]["vocab"].items())
            if (checked++ < 2000)
                QCOMPARE(tokens[id.get<size_t>()].s, text);
        for (const auto &added : j["added_tokens"]) {
            const size_t id = added["id"];
            QCOMPARE(tokens[id].s, added["content"].get<std::string>());
            if (added["special"].get<bool>())
                QCOMPARE(types[id].i, int64_t(3));
        }
        QCOMPARE(tokens.back().s, "[PAD" + std::to_string(tokens.size() - 1) + "]");
        QCOMPARE(types.back().i, int64_t(5));
    }

    void otherTokenizersAreKeptWhole()
    {
        const fs::path tok = qbtest::sharedDataDir() / "tokenizers" / "llama2" / "tokenizer.json";
        if (qbtest::sharedDataDir().empty() || !fs::exists(tok))
            QSKIP("shared tokenizer files are absent");
        const fs::path path = qbtest::makeTempDir("gguf-spm") / "spm.gguf";
        QCOMPARE(gguf_probe::tokenizerExport(tok.string(), "llama", path.string()), std::string());
        const auto f = io::GgufFile::open(path);
        QCOMPARE(f.requireString("tokenizer.ggml.model"), std::string("no_vocab"));
        QVERIFY(f.find("quantbench.tokenizer_json") != nullptr);
        QVERIFY(f.find("tokenizer.ggml.tokens") == nullptr);
    }

    void importErrorsNameKeyAndTensor()
    {
        const fs::path dir = qbtest::makeTempDir("gguf-import-err");
        io::GgufWriter w;
        w.set("general.architecture", GgufValue::ofString("gptneox"));
        w.write(dir / "arch.gguf");
        const std::string a = gguf_probe::importError((dir / "arch.gguf").string());
        QVERIFY2(a.find("general.architecture 'gptneox' is not supported") != std::string::npos,
                 a.c_str());

        io::GgufWriter m;
        m.set("general.architecture", GgufValue::ofString("llama"));
        m.set("llama.embedding_length", GgufValue::ofU32(32));
        std::vector<uint8_t> emb(32 * 8 * 4, 0);
        m.addTensor("token_embd.weight", {32, 8}, io::GgmlType::F32, emb);
        m.write(dir / "keys.gguf");
        const std::string k = gguf_probe::importError((dir / "keys.gguf").string());
        QVERIFY2(k.find("missing metadata key 'llama.block_count'") != std::string::npos,
                 k.c_str());
    }
};

QTEST_GUILESS_MAIN(TestGguf)
#include "tst_gguf.moc"

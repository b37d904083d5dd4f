// The Hugging Face families the Llama-family loader runs (Llama, Llama 3 rope_scaling, Mistral's
// sliding window, Qwen2 with q/k/v bias and its per-layer window, Qwen3 with q/k RMSNorm, SmolLM2
// with tied embeddings): for each, this test writes a tiny random checkpoint in HF layout
// (config.json + model.safetensors with HF names), loads it, and compares the logits with a naive
// decoder written per token and per head in hf_families_probe.cpp; decoding one token at a time
// through the KV cache must give the same logits. Also F16/BF16 and sharded checkpoints, the
// config written back, generation_config.json through loadModelBundle, and the errors for what
// the loader does not run.
#include "hf_families_probe.h"
#include "io/dtype.h"
#include "io/safetensors.h"
#include "model/model_config.h"
#include "support/error_of.h"
#include "support/test_support.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kTolerance = 1e-4; // max |a - b| over max |b|

const std::vector<int64_t> kIds = {3, 17, 29, 5, 40, 11, 2, 33, 8, 21, 14}; // 11 > every window

struct Case
{
    json config;
    hfprobe::Arch arch;
    hfprobe::Weights weights;
};

// A family's config.json and matching random weights with HF names. Sizes: vocab 41, hidden 32,
// 2 layers, 4 heads over 2 KV heads of 8 (Qwen3: 12, not hidden / heads), intermediate 48.
Case makeCase(const std::string &family, unsigned seed)
{
    Case c;
    const int64_t vocab = 41, hidden = 32, inter = 48;
    auto &a = c.arch;
    a.eps = 1e-5;
    c.config = {{"vocab_size", vocab}, {"hidden_size", hidden}, {"intermediate_size", inter},
                {"num_hidden_layers", a.layers}, {"num_attention_heads", a.heads},
                {"num_key_value_heads", a.kvHeads}, {"rms_norm_eps", a.eps},
                {"max_position_embeddings", 8192}, {"hidden_act", "silu"},
                {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"eos_token_id", 2}};
    std::string arch = "LlamaForCausalLM", type = "llama";
    bool qkvBias = false, qkNorm = false, tie = false;
    if (family == "llama" || family == "llama3" || family == "linear") {
        c.config["attention_bias"] = false;
        c.config["rope_scaling"] = nullptr;
        if (family == "llama3") {
            // head_dim 8, theta 100: inverse frequencies 1, 0.32, 0.1, 0.032 (wavelengths 6.3,
            // 20, 63, 199). With original 64 / high 8 = 8 and original / low = 64 the first is
            // kept, the next two blended and the last divided by the factor.
            a.ropeType = "llama3";
            a.theta = 100;
            a.factor = 8;
            a.lowFreqFactor = 1;
            a.highFreqFactor = 8;
            a.originalMax = 64;
            c.config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0},
                                        {"low_freq_factor", 1.0}, {"high_freq_factor", 8.0},
                                        {"original_max_position_embeddings", 64}};
        } else if (family == "linear") {
            a.ropeType = "linear";
            a.factor = 4;
            c.config["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}}; // the older key
        }
    } else if (family == "smollm2") {
        tie = true;
        a.theta = 100000;
    } else if (family == "mistral") {
        arch = "MistralForCausalLM", type = "mistral";
        a.theta = 1e6;
        a.window = 4;
        c.config["sliding_window"] = a.window;
    } else if (family == "qwen2" || family == "qwen2-window") {
        arch = "Qwen2ForCausalLM", type = "qwen2";
        qkvBias = true;
        a.theta = 1e6;
        c.config["use_sliding_window"] = false;
        c.config["sliding_window"] = 3;
        c.config["max_window_layers"] = 1;
        if (family == "qwen2-window") { // layer 0 full, layer 1 windowed
            c.config["use_sliding_window"] = true;
            a.window = 3;
            a.windowFromLayer = 1;
        }
    } else if (family == "qwen3") {
        arch = "Qwen3ForCausalLM", type = "qwen3";
        qkNorm = tie = true;
        a.theta = 1e6;
        a.headDim = 12;
        c.config["head_dim"] = a.headDim;
        c.config["attention_bias"] = false;
        c.config["use_sliding_window"] = false;
        c.config["sliding_window"] = nullptr;
        c.config["max_window_layers"] = 2;
    } else {
        qFatal("unknown family");
    }
    c.config["architectures"] = {arch};
    c.config["model_type"] = type;
    c.config["rope_theta"] = a.theta;
    c.config["tie_word_embeddings"] = tie;

    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-0.3f, 0.3f);
    auto add = [&](const std::string &name, std::vector<int64_t> shape, float offset = 0.f) {
        std::vector<float> values(qb::io::shapeNumel(shape));
        for (auto &v : values)
            v = offset + u(rng);
        c.weights[name] = {shape, values};
    };
    const int64_t hd = a.headDim, q = a.heads * hd, kv = a.kvHeads * hd;
    add("model.embed_tokens.weight", {vocab, hidden});
    for (int64_t l = 0; l < a.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {hidden}, 1.f);
        add(p + "post_attention_layernorm.weight", {hidden}, 1.f);
        add(p + "self_attn.q_proj.weight", {q, hidden});
        add(p + "self_attn.k_proj.weight", {kv, hidden});
        add(p + "self_attn.v_proj.weight", {kv, hidden});
        add(p + "self_attn.o_proj.weight", {hidden, q});
        if (qkvBias) {
            add(p + "self_attn.q_proj.bias", {q});
            add(p + "self_attn.k_proj.bias", {kv});
            add(p + "self_attn.v_proj.bias", {kv});
        }
        if (qkNorm) {
            add(p + "self_attn.q_norm.weight", {hd}, 1.f);
            add(p + "self_attn.k_norm.weight", {hd}, 1.f);
        }
        add(p + "mlp.gate_proj.weight", {inter, hidden});
        add(p + "mlp.up_proj.weight", {inter, hidden});
        add(p + "mlp.down_proj.weight", {hidden, inter});
    }
    add("model.norm.weight", {hidden}, 1.f);
    if (!tie)
        add("lm_head.weight", {vocab, hidden});
    return c;
}

// Writes config.json and the weights as `dtype` into `shards` files (one: model.safetensors;
// more: model-0000k-of-0000n.safetensors with model.safetensors.index.json). Returns the weights
// as the checkpoint holds them (rounded to dtype).
hfprobe::Weights writeFolder(const fs::path &dir, const Case &c,
                             qb::io::DType dtype = qb::io::DType::F32, int shards = 1)
{
    fs::create_directories(dir);
    qbtest::writeFile(dir / "config.json", c.config.dump(2));
    hfprobe::Weights stored = c.weights;
    std::vector<std::vector<qb::io::TensorWrite>> files(shards);
    std::vector<std::vector<uint16_t>> halves;
    halves.reserve(c.weights.size());
    json weightMap = json::object();
    auto shardName = [&](int k) {
        if (shards == 1)
            return std::string("model.safetensors");
        char name[64];
        std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, shards);
        return std::string(name);
    };
    int index = 0;
    for (auto &[name, t] : stored) {
        const int k = index++ % shards;
        weightMap[name] = shardName(k);
        if (dtype == qb::io::DType::F32) {
            files[k].push_back({name, dtype, t.shape, t.data.data(), t.data.size() * sizeof(float)});
            continue;
        }
        auto &bits = halves.emplace_back();
        for (float &v : t.data) {
            const bool half = dtype == qb::io::DType::F16;
            bits.push_back(half ? qb::io::floatToHalf(v) : qb::io::floatToBf16(v));
            v = half ? qb::io::halfToFloat(bits.back()) : qb::io::bf16ToFloat(bits.back());
        }
        files[k].push_back({name, dtype, t.shape, bits.data(), bits.size() * sizeof(uint16_t)});
    }
    for (int k = 0; k < shards; ++k)
        qb::io::writeSafetensors(dir / shardName(k), files[k], {{"format", "pt"}});
    if (shards > 1)
        qbtest::writeFile(dir / "model.safetensors.index.json",
                          json{{"metadata", {{"total_size", 0}}}, {"weight_map", weightMap}}.dump(2));
    return stored;
}

double relativeError(const std::vector<float> &got, const std::vector<float> &want)
{
    if (got.size() != want.size())
        return INFINITY;
    double diff = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        diff = std::max(diff, std::abs(double(got[i]) - want[i]));
        scale = std::max(scale, std::abs(double(want[i])));
    }
    return diff / scale;
}

#define CHECK_CLOSE(got, want)                                                                   \
    do {                                                                                         \
        const double err_ = relativeError(got, want);                                            \
        QVERIFY2(err_ < kTolerance, qPrintable(QString("relative error %1").arg(err_)));         \
    } while (0)

} // namespace

class TestHfFamilies : public QObject
{
    Q_OBJECT

    // Loaded logits equal the naive decoder's, and the cached one-token-at-a-time logits equal
    // the full forward (prefill of 2 tokens, and of 6: beyond every window here).
    void checkFamily(const std::string &family, unsigned seed)
    {
        const Case c = makeCase(family, seed);
        const fs::path dir = qbtest::makeTempDir("hf-" + family);
        writeFolder(dir, c);
        const auto naive = hfprobe::naiveLogits(c.arch, c.weights, kIds);
        const auto loaded = hfprobe::loadedLogits(dir.string(), kIds);
        CHECK_CLOSE(loaded, naive);
        CHECK_CLOSE(hfprobe::cachedLogits(dir.string(), kIds, 2), loaded);
        CHECK_CLOSE(hfprobe::cachedLogits(dir.string(), kIds, 6), loaded);
        // Written back and read again: same model.
        hfprobe::resave(dir.string(), (dir / "resaved").string());
        CHECK_CLOSE(hfprobe::loadedLogits((dir / "resaved").string(), kIds), loaded);
    }

    // The naive logits of a case with one aspect of its architecture changed differ clearly, so a
    // loader that ignored that aspect would fail the comparison above.
    void checkMatters(const Case &c, const hfprobe::Arch &without)
    {
        const double change = relativeError(hfprobe::naiveLogits(without, c.weights, kIds),
                                            hfprobe::naiveLogits(c.arch, c.weights, kIds));
        QVERIFY2(change > 100 * kTolerance, qPrintable(QString("change %1").arg(change)));
    }

private Q_SLOTS:
    void llamaMatchesNaive() { checkFamily("llama", 1); }

    void llama3RopeScalingMatchesNaive()
    {
        checkFamily("llama3", 2);
        const Case c = makeCase("llama3", 2);
        hfprobe::Arch plain = c.arch;
        plain.ropeType = "default";
        checkMatters(c, plain);
    }

    void linearRopeScalingMatchesNaive()
    {
        checkFamily("linear", 3);
        const Case c = makeCase("linear", 3);
        hfprobe::Arch plain = c.arch;
        plain.ropeType = "default";
        checkMatters(c, plain);
    }

    // Llama 3.1 8B's numbers (theta 500000, head_dim 128, factor 8, low 1, high 4, original
    // 8192): wavelength boundaries 8192 / 1 and 8192 / 4 = 2048.
    void llama3FrequenciesHandChecked()
    {
        const json cfg = {{"vocab_size", 10}, {"hidden_size", 4096}, {"intermediate_size", 8},
                          {"num_hidden_layers", 1}, {"num_attention_heads", 32},
                          {"rope_theta", 500000.0},
                          {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0},
                                            {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                            {"original_max_position_embeddings", 8192}}}};
        const auto inv = qb::ropeInverseFrequencies(qb::ModelConfig::fromJson(cfg, "test"));
        QCOMPARE(inv.size(), size_t(64));
        // Pair 0: frequency 1, wavelength 2 pi < 2048: unchanged.
        QCOMPARE(inv[0], 1.0);
        // Pair 63: frequency 500000^(-126/128) = 2.4e-6, wavelength 2.6e6 > 8192: divided by 8.
        QVERIFY(std::abs(inv[63] / (std::pow(500000.0, -126.0 / 128) / 8) - 1) < 1e-12);
        // Pair 30: frequency 500000^(-60/128) = 1 / 469.24, wavelength 2948.3 lies between: smooth
        // = (8192 / 2948.3 - 1) / 3 = 0.59285, frequency times (1 - 0.59285) / 8 + 0.59285 = 0.64374.
        QVERIFY(std::abs(inv[30] * 469.237 / 0.643743 - 1) < 1e-5);
        // Pair 20: wavelength 2 pi * 500000^(40/128) = 379 < 2048: unchanged.
        QCOMPARE(inv[20], std::pow(500000.0, -40.0 / 128));
    }

    void mistralSlidingWindowMatchesNaive()
    {
        checkFamily("mistral", 4);
        const Case c = makeCase("mistral", 4);
        hfprobe::Arch full = c.arch;
        full.window = 0;
        checkMatters(c, full);
        // Below the window's length the window changes nothing.
        const std::vector<int64_t> shortIds(kIds.begin(), kIds.begin() + c.arch.window);
        const fs::path dir = qbtest::makeTempDir("hf-mistral-short");
        writeFolder(dir, c);
        CHECK_CLOSE(hfprobe::loadedLogits(dir.string(), shortIds),
                    hfprobe::naiveLogits(full, c.weights, shortIds));
    }

    // Left-padded batches of prompts of different lengths, decoded past the window: cached,
    // recomputed, one-prompt-at-a-time and refilled (rows of different lengths in one cache)
    // greedy generation all equal the naive argmax loop.
    void mistralWindowGenerationEqualsNaive()
    {
        const Case c = makeCase("mistral", 5);
        const fs::path dir = qbtest::makeTempDir("hf-mistral-gen");
        writeFolder(dir, c);
        const std::vector<std::vector<int64_t>> prompts = {
            {5, 9, 13}, {1, 2, 3, 4, 5, 6, 7}, {40, 30, 20, 10, 0, 11, 22, 33, 39}, {12, 24}};
        const std::vector<int> steps = {3, 9, 6, 7};
        std::vector<std::vector<int64_t>> want;
        for (size_t k = 0; k < prompts.size(); ++k)
            want.push_back(hfprobe::naiveGreedy(c.arch, c.weights, prompts[k], steps[k]));
        QCOMPARE(hfprobe::generateGreedy(dir.string(), prompts, steps, 4, true), want);
        QCOMPARE(hfprobe::generateGreedy(dir.string(), prompts, steps, 4, false), want);
        QCOMPARE(hfprobe::generateGreedy(dir.string(), prompts, steps, 1, true), want);
        QCOMPARE(hfprobe::generateGreedy(dir.string(), prompts, steps, 2, true, true), want);
    }

    void qwen2BiasMatchesNaive()
    {
        checkFamily("qwen2", 6);
        // use_sliding_window false: sliding_window 3 and max_window_layers 1 change nothing.
        const Case c = makeCase("qwen2", 6);
        QCOMPARE(c.arch.window, int64_t(0));
    }

    void qwen2WindowFromMaxWindowLayers()
    {
        checkFamily("qwen2-window", 7);
        const Case c = makeCase("qwen2-window", 7);
        hfprobe::Arch everyLayer = c.arch, none = c.arch;
        everyLayer.windowFromLayer = 0;
        none.window = 0;
        checkMatters(c, everyLayer);
        checkMatters(c, none);
    }

    void qwen3QkNormMatchesNaive()
    {
        checkFamily("qwen3", 8);
        // The norms matter: the same weights with q_norm / k_norm dropped give other logits.
        Case c = makeCase("qwen3", 8);
        Case without = c;
        for (int l = 0; l < 2; ++l) {
            without.weights.erase("model.layers." + std::to_string(l) + ".self_attn.q_norm.weight");
            without.weights.erase("model.layers." + std::to_string(l) + ".self_attn.k_norm.weight");
        }
        const double change = relativeError(hfprobe::naiveLogits(c.arch, without.weights, kIds),
                                            hfprobe::naiveLogits(c.arch, c.weights, kIds));
        QVERIFY2(change > 100 * kTolerance, qPrintable(QString("change %1").arg(change)));
    }

    // SmolLM2-like (tied embeddings) through loadModelBundle, with a generation_config.json.
    void smolLm2TiedThroughBundle()
    {
        checkFamily("smollm2", 9);
        const Case c = makeCase("smollm2", 9);
        const fs::path dir = qbtest::makeTempDir("hf-smollm2-bundle");
        writeFolder(dir, c);
        qbtest::writeFile(dir / "generation_config.json",
                          R"({"bos_token_id": 1, "eos_token_id": [2, 7], "do_sample": true,
                              "temperature": 0.7, "top_p": 0.9, "top_k": 40,
                              "max_new_tokens": 99})");
        const auto view = hfprobe::loadBundle(dir.string(), kIds);
        CHECK_CLOSE(view.logits, hfprobe::naiveLogits(c.arch, c.weights, kIds));
        QCOMPARE(view.endTokens, (std::vector<int64_t>{2, 7})); // config.json's 2, then 7
        QVERIFY(view.doSample);
        QCOMPARE(view.temperature, 0.7);
        QCOMPARE(view.topP, 0.9);
        QCOMPARE(view.topK, int64_t(40));
        QCOMPARE(view.maxNewTokens, int64_t(99));
        QCOMPARE(view.architecture, std::string("LlamaForCausalLM"));
    }

    void halfAndBf16CheckpointsLoad()
    {
        const Case c = makeCase("qwen2", 10);
        for (auto dtype : {qb::io::DType::F16, qb::io::DType::BF16}) {
            const fs::path dir = qbtest::makeTempDir("hf-" + qb::io::dtypeName(dtype));
            const hfprobe::Weights rounded = writeFolder(dir, c, dtype);
            bool changed = false; // the rounding is real
            for (const auto &[name, t] : rounded)
                changed = changed || t.data != c.weights.at(name).data;
            QVERIFY(changed);
            CHECK_CLOSE(hfprobe::loadedLogits(dir.string(), kIds),
                        hfprobe::naiveLogits(c.arch, rounded, kIds));
        }
    }

    void shardedCheckpointLoads()
    {
        const Case c = makeCase("qwen3", 11);
        const fs::path dir = qbtest::makeTempDir("hf-sharded");
        writeFolder(dir, c, qb::io::DType::F32, 3);
        QVERIFY(fs::exists(dir / "model-00003-of-00003.safetensors"));
        QVERIFY(!fs::exists(dir / "model.safetensors"));
        CHECK_CLOSE(hfprobe::loadedLogits(dir.string(), kIds),
                    hfprobe::naiveLogits(c.arch, c.weights, kIds));
    }

    void configWrittenBack()
    {
        struct Want
        {
            const char *family, *architecture;
        };
        for (const Want &w : {Want{"llama3", "LlamaForCausalLM"}, Want{"mistral", "MistralForCausalLM"},
                              Want{"qwen2-window", "Qwen2ForCausalLM"},
                              Want{"qwen3", "Qwen3ForCausalLM"}}) {
            const Case c = makeCase(w.family, 12);
            const auto config = qb::ModelConfig::fromJson(c.config, "config.json");
            const json back = config.toJson();
            QCOMPARE(back["architectures"][0].get<std::string>(), std::string(w.architecture));
            const auto again = qb::ModelConfig::fromJson(back, "back");
            QCOMPARE(again.modelType, config.modelType);
            QCOMPARE(again.slidingWindow, c.arch.window);
            QCOMPARE(again.windowFromLayer, c.arch.windowFromLayer);
            QCOMPARE(again.qkvBias, config.qkvBias);
            QCOMPARE(again.oBias, config.oBias);
            QCOMPARE(again.qkNorm, std::string(w.family) == "qwen3");
            QCOMPARE(again.headDim, c.arch.headDim);
            QCOMPARE(qb::ropeInverseFrequencies(again), qb::ropeInverseFrequencies(config));
        }
        const auto llama3 = qb::ModelConfig::fromJson(makeCase("llama3", 12).config, "config.json");
        QCOMPARE(llama3.toJson()["rope_scaling"], makeCase("llama3", 12).config["rope_scaling"]);
    }

    void unknownArchitectureNamesIt()
    {
        json cfg = makeCase("llama", 13).config;
        cfg["architectures"] = {"Gemma2ForCausalLM"};
        cfg["model_type"] = "gemma2";
        QString why = qbtest::errorOf([&] { qb::ModelConfig::fromJson(cfg, "/m/config.json"); });
        QVERIFY2(why.contains("/m/config.json") && why.contains("'architectures'")
                     && why.contains("Gemma2ForCausalLM"),
                 qPrintable(why));
        cfg.erase("architectures");
        why = qbtest::errorOf([&] { qb::ModelConfig::fromJson(cfg, "/m/config.json"); });
        QVERIFY2(why.contains("/m/config.json") && why.contains("'model_type'")
                     && why.contains("gemma2"),
                 qPrintable(why));
        // A family known by its class name alone loads as that family.
        cfg["architectures"] = {"Qwen3ForCausalLM"};
        cfg.erase("model_type");
        QCOMPARE(qb::ModelConfig::fromJson(cfg, "c").modelType, std::string("qwen3"));
        cfg["hidden_act"] = "gelu_pytorch_tanh";
        why = qbtest::errorOf([&] { qb::ModelConfig::fromJson(cfg, "/m/config.json"); });
        QVERIFY2(why.contains("/m/config.json") && why.contains("'hidden_act'")
                     && why.contains("gelu_pytorch_tanh"),
                 qPrintable(why));
    }

    void unsupportedRopeTypeNamesIt()
    {
        Case c = makeCase("llama", 14);
        c.config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
        const fs::path dir = qbtest::makeTempDir("hf-yarn");
        writeFolder(dir, c);
        const std::string why = hfprobe::loadError(dir.string());
        QVERIFY2(why.find((dir / "config.json").string()) != std::string::npos
                     && why.find("rope_scaling") != std::string::npos
                     && why.find("'yarn'") != std::string::npos,
                 why.c_str());
        c.config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
        const QString missing = qbtest::errorOf([&] { qb::ModelConfig::fromJson(c.config, "c.json"); });
        QVERIFY2(missing.contains("rope_scaling.low_freq_factor"), qPrintable(missing));
    }

    void missingQNormNamesTheTensor()
    {
        Case c = makeCase("qwen3", 15);
        c.weights.erase("model.layers.1.self_attn.q_norm.weight");
        const fs::path dir = qbtest::makeTempDir("hf-no-qnorm");
        writeFolder(dir, c);
        const std::string why = hfprobe::loadError(dir.string());
        QVERIFY2(why.find("'model.layers.1.self_attn.q_norm.weight' is missing") != std::string::npos,
                 why.c_str());
    }
};

QTEST_GUILESS_MAIN(TestHfFamilies)
#include "tst_hf_families.moc"

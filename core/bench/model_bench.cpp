#include "bench/model_bench.h"

#include "api/executor.h"
#include "api/experiment.h"
#include "data/gsm_generator.h"
#include "eval/question_set.h"
#include "kernels/fused_linear.h"
#include "model/generation.h"
#include "model/gguf_import.h"
#include "model/model_bundle.h"
#include "quant/kernel_settings.h"
#include "quant/quantize_model.h"
#include "util/error.h"
#include "util/files.h"
#include "util/process_memory.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb::bench {

namespace {

// The default set: the names the table prints and the settings they stand for.
struct NamedPrecision
{
    const char *name;
    const char *settings; // "METHOD key=value ..." as parseMethodSettings reads it
};

const std::vector<NamedPrecision> &namedPrecisions()
{
    static const std::vector<NamedPrecision> named = {
        {"int8", "int8"},
        {"llm_int8", "llm_int8"},
        {"nf4-b64", "nf4 block_size=64 double_quant=false"},
        {"nf4-dq", "nf4 block_size=64 double_quant=true"},
        {"int4-g128", "int bits=4 group_size=128 symmetric=false"},
        {"int3-g128", "int bits=3 group_size=128 symmetric=false"},
        {"int2-g64", "int bits=2 group_size=64 symmetric=false"},
    };
    return named;
}

std::string trim(const std::string &s)
{
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// "METHOD key=value ..." or "method=METHOD key=value ...".
MethodSpec methodOf(const std::string &text, const std::string &where)
{
    const auto space = text.find_first_of(" \t");
    const std::string method = text.substr(0, space);
    if (method.find('=') != std::string::npos)
        return parseMethodSettings(text, json::object(), where);
    return parseMethodSettings(space == std::string::npos ? std::string() : text.substr(space),
                               {{"method", method}}, where);
}

// The float32 weights with bf16 compute for the dense linears (kernel_settings.h).
constexpr const char *kBf16Precision = "fp32-bf16";

// bf16 compute on while it lives when `on` (as it was before, after).
struct Bf16Scope
{
    bool was = bf16ComputeEnabled();
    explicit Bf16Scope(bool on) { setBf16Compute(was || on); }
    ~Bf16Scope() { setBf16Compute(was); }
    Bf16Scope(const Bf16Scope &) = delete;
    Bf16Scope &operator=(const Bf16Scope &) = delete;
};

// "fp32" and "fp32-bf16" give nullopt.
std::optional<MethodSpec> precisionSpec(const std::string &item)
{
    const std::string where = "precision '" + item + "'";
    const std::string text = trim(item);
    if (text.empty())
        throw Error(where + ": empty");
    if (text == "fp32" || text == kBf16Precision)
        return std::nullopt;
    for (const auto &n : namedPrecisions())
        if (text == n.name || text == methodOf(n.settings, n.name).label())
            return methodOf(n.settings, n.name);
    return methodOf(text, where);
}

double seconds(const std::function<void()> &f)
{
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string ratio(double v, double ref)
{
    return ref > 0 && v > 0 ? fixed(v / ref, 2) + "x" : std::string("-");
}

fs::path runModelNode(const Experiment &exp, const std::string &node,
                      const std::function<void(const std::string &)> &progress)
{
    RunOptions opt;
    const fs::path tmp = fs::temp_directory_path()
        / ("qb-bench-model-" + std::to_string(std::chrono::steady_clock::now()
                                                  .time_since_epoch()
                                                  .count()));
    opt.outDir = tmp / "run";
    opt.upTo = node;
    opt.threads = at::get_num_threads();
    CancelToken cancel;
    const RunSummary s = runExperiment(
        exp, builtinRegistry(), opt,
        [&](const Event &e) {
            if (progress && (e.kind == Event::Kind::Log || e.kind == Event::Kind::NodeCached))
                progress(e.node + ": "
                         + (e.kind == Event::Kind::NodeCached ? "cached" : e.message));
        },
        cancel);
    std::error_code ec;
    if (s.status != "ok") {
        fs::remove_all(tmp, ec);
        throw Error(exp.source + ": model node '" + node + "' failed: " + s.error);
    }
    const json &n = s.results.at("nodes").at(node);
    const json &meta = n.at("meta");
    fs::path dir = meta.contains("path") ? fs::path(meta["path"].get<std::string>())
                                         : fs::path(n.at("cache_dir").get<std::string>());
    fs::remove_all(tmp, ec);
    return dir;
}

} // namespace

std::vector<std::string> defaultPrecisions()
{
    std::vector<std::string> out;
    for (const auto &n : namedPrecisions())
        out.push_back(n.name);
    return out;
}

std::string checkPrecision(const std::string &item)
{
    if (trim(item) == kBf16Precision) {
        if (!bf16ComputeSupported())
            throw Error(std::string("precision '") + kBf16Precision
                        + "': bf16 compute needs AVX-512 BF16 and the avx512 kernel path");
        return kBf16Precision;
    }
    const auto spec = precisionSpec(item);
    return spec ? spec->label() : "fp32";
}

std::vector<std::string> splitPrecisions(const std::string &list)
{
    std::vector<std::string> out;
    std::stringstream in(list);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(trim(item));
    if (out.empty() || std::find(out.begin(), out.end(), "") != out.end())
        throw Error("precision list '" + list + "': empty item");
    return out;
}

fs::path resolveBenchModel(const std::string &source, const std::string &node,
                           const std::function<void(const std::string &)> &progress)
{
    if (source == "builtin" || source.rfind("builtin:", 0) == 0) {
        const std::string preset = source == "builtin" ? "tiny-reasoner" : source.substr(8);
        Experiment exp;
        exp.name = "bench-model";
        exp.source = source;
        NodeDecl d;
        d.id = "model";
        d.type = "model.builtin";
        d.params = {{"preset", preset}};
        exp.nodes.push_back(d);
        const auto problems = validateExperiment(exp, builtinRegistry());
        if (!problems.empty())
            throw Error(source + ": " + problems.front().message);
        return runModelNode(exp, "model", progress);
    }
    const fs::path path = source;
    if (fs::is_directory(path)) {
        if (!fs::exists(path / "config.json") && !fs::exists(path / "adapter_config.json"))
            throw Error(source + ": not a model folder (no config.json)");
        return path;
    }
    if (!fs::exists(path))
        throw Error(source + ": no such model folder or experiment file (or builtin:PRESET)");
    if (isGgufPath(path))
        return path;
    const Experiment exp = loadExperiment(path, builtinRegistry());
    std::vector<std::string> models;
    for (const auto &n : exp.nodes)
        if (n.type.rfind("model.", 0) == 0)
            models.push_back(n.id);
    std::string id = node;
    if (id.empty()) {
        if (models.size() != 1) {
            std::string names;
            for (const auto &m : models)
                names += (names.empty() ? "" : ", ") + m;
            throw Error(source + ": "
                        + (models.empty() ? "no model.* node" : "model nodes " + names)
                        + "; name one with --node ID");
        }
        id = models.front();
    } else if (std::find(models.begin(), models.end(), id) == models.end()) {
        throw Error(source + ": no model.* node '" + id + "'");
    }
    return runModelNode(exp, id, progress);
}

ModelBenchReport runModelBench(const fs::path &dir, const ModelBenchOptions &options,
                               const std::function<void(const std::string &)> &progress)
{
    auto say = [&](const std::string &line) {
        if (progress)
            progress(line);
    };
    std::vector<std::string> items = options.precisions.empty() ? defaultPrecisions()
                                                                : options.precisions;
    items.erase(std::remove(items.begin(), items.end(), "fp32"), items.end());
    items.insert(items.begin(), "fp32");
    std::vector<std::optional<MethodSpec>> specs;
    for (const auto &item : items) { // every item is checked before anything is measured
        (void)checkPrecision(item);
        specs.push_back(precisionSpec(item));
    }
    if (options.batch < 1 || options.batch1Prompts < 1 || options.repeats < 1)
        throw Error("bench model: batch, batch-1 prompts and repeats must be >= 1");

    ModelBenchReport report;
    report.dir = dir.string();
    report.threads = at::get_num_threads();
    report.kernelPath = kernels::kernel_path_name(kernels::active_kernel_path());
    if (int8ActivationKernelsEnabled()) // QB_ACT_Q8=1: a different arithmetic, say so
        report.kernelPath += " with int8 activations (QB_ACT_Q8)";
    if (bf16ComputeActive()) // QB_COMPUTE_BF16=1 on a CPU that runs it: the same
        report.kernelPath += " with bf16 dense products (QB_COMPUTE_BF16)";
    report.baselineRssBytes = processRssBytes();
    report.repeats = options.repeats;
    report.batch = options.batch;
    report.batch1Prompts = options.batch1Prompts;

    std::vector<std::vector<int64_t>> prompts, prefill(1);
    std::vector<int64_t> endTokens; // none: every row draws exactly newTokens
    int64_t positions = 0;
    // A quantized, GPTQ/AWQ, GGUF or adapter source is measured as it was loaded, beside its
    // own weights dequantized to float32 (the reference of the ratios).
    bool asLoaded = false, adapter = false;
    {
        const ModelBundle bundle = loadModelBundle(dir);
        if (bundle.provenance.format != "dense") {
            if (!options.precisions.empty())
                throw Error(dir.string() + ": a " + bundle.provenance.format
                            + " model is measured as loaded; --precisions needs a dense folder");
            asLoaded = true;
            adapter = bundle.provenance.format == "adapter";
            const std::string label = bundle.provenance.label.empty()
                ? bundle.provenance.format
                : bundle.provenance.label;
            items = {"fp32", label};
            specs = {std::nullopt, std::nullopt};
        }
        positions = bundle.model->config().maxPositions;
        const int n = std::max(options.batch, options.batch1Prompts);
        const auto set = eval::gsmQuestions(
            data::recordsOf(data::generateGsmProblems({}, data::Split::Test, n)), {});
        for (const auto &q : set.questions)
            prompts.push_back(bundle.codec->encode(q.prompt));
        report.prefillTokens = options.prefillTokens > 0 ? options.prefillTokens
                                                         : std::min<int64_t>(256, positions - 1);
        for (size_t i = 0; int64_t(prefill[0].size()) < report.prefillTokens; ++i)
            for (int64_t id : prompts[i % prompts.size()])
                prefill[0].push_back(id);
        prefill[0].resize(report.prefillTokens);
    }
    if (report.prefillTokens + 1 > positions)
        throw Error("bench model: prefill of " + std::to_string(report.prefillTokens)
                    + " tokens exceeds the model's " + std::to_string(positions) + " positions");
    int64_t longest = 0, sum = 0;
    for (const auto &p : prompts) {
        longest = std::max<int64_t>(longest, p.size());
        sum += int64_t(p.size());
    }
    report.meanPromptTokens = double(sum) / double(prompts.size());
    report.newTokens = std::min<int64_t>(options.newTokens, positions - longest);
    if (report.newTokens < 2)
        throw Error("bench model: the prompts (" + std::to_string(longest)
                    + " tokens) leave no room to decode in " + std::to_string(positions)
                    + " positions");
    const std::vector<std::vector<int64_t>> batchPrompts(prompts.begin(),
                                                         prompts.begin() + options.batch);
    const std::vector<std::vector<int64_t>> onePrompts(prompts.begin(),
                                                       prompts.begin() + options.batch1Prompts);

    report.peakReset = resetProcessPeakRss();
    for (size_t k = 0; k < items.size(); ++k) {
        ModelBenchRow row;
        row.precision = items[k];
        // fp32-bf16: bf16 compute on for this row only (on for all with QB_COMPUTE_BF16=1).
        const bool bf16Row = items[k] == kBf16Precision;
        const Bf16Scope bf16Scope(bf16Row);
        // The weights only (no tokenizer); an adapter folder needs its base, through the bundle.
        std::unique_ptr<Transformer> model
            = adapter ? std::move(loadModelBundle(dir).model) : loadTransformer(dir);
        QuantSpec qspec;
        const std::vector<std::string> chosen = selectLayers(*model, qspec);
        if (asLoaded && k == 0) {
            // The loaded weights as float32: every linear replaced by its dense equivalent.
            at::NoGradGuard noGrad;
            for (const auto &name : model->linearNames())
                if (model->linear(name).kind() != "dense")
                    model->setLinear(name, denseCopyOf(model->linear(name)));
        }
        if (asLoaded && k > 0)
            say(row.precision + ": measured as loaded");
        if (specs[k]) {
            qspec.method = *specs[k];
            say(row.precision + ": quantizing (" + qspec.method.label() + ")");
            QuantizeReport q;
            row.quantizeSeconds
                = seconds([&] { q = quantizeModel(*model, qspec, onePrompts); });
            row.label = q.label;
            row.method = qspec.method.toJson();
            row.linearParameters = q.parameters;
            row.linearWeightBytes = q.weightBytes;
            row.bitsPerWeight = q.bitsPerParam();
        } else {
            row.label = asLoaded && k > 0 ? items[k] : bf16Row ? kBf16Precision : "fp32";
            row.method = nullptr;
            for (const auto &name : chosen) {
                const LinearOp &op = model->linear(name);
                row.linearParameters += op.inFeatures() * op.outFeatures();
                row.linearWeightBytes += op.weightBytes();
            }
            row.bitsPerWeight = row.linearParameters
                ? 8.0 * double(row.linearWeightBytes) / double(row.linearParameters)
                : 0.0;
        }
        row.weightBytes = model->weightBytes();
        releaseFreedMemory();
        if (report.peakReset)
            resetProcessPeakRss();

        // One warm-up, then `repeats` runs; per run the prefills' seconds (GenerationStats)
        // and the rest of the call, which is decoding. Medians of each.
        DecodingConfig d; // greedy
        auto run = [&](const std::vector<std::vector<int64_t>> &p, int64_t newTokens,
                       int64_t rows) {
            d.maxNewTokens = newTokens;
            std::vector<double> prefillSeconds, decodeSeconds;
            for (int i = 0; i <= options.repeats; ++i) {
                GenerationStats stats;
                GenerationHooks hooks;
                hooks.stats = &stats;
                const double total
                    = seconds([&] { generate(*model, p, d, endTokens, rows, hooks); });
                if (i == 0)
                    continue;
                prefillSeconds.push_back(stats.prefillSeconds);
                decodeSeconds.push_back(total - stats.prefillSeconds);
            }
            return std::make_pair(median(prefillSeconds), median(decodeSeconds));
        };
        // The first token of each row is drawn by the prefill; the other newTokens - 1 decode.
        const double decoded = double(report.newTokens - 1);
        row.prefillTokensPerSecond = double(report.prefillTokens) / run(prefill, 1, 1).first;
        say(row.precision + ": prefill " + fixed(row.prefillTokensPerSecond, 0) + " tokens/s");
        row.decode1TokensPerSecond
            = double(onePrompts.size()) * decoded / run(onePrompts, report.newTokens, 1).second;
        say(row.precision + ": decode batch 1 " + fixed(row.decode1TokensPerSecond, 0)
            + " tokens/s");
        row.decodeBatchTokensPerSecond = double(batchPrompts.size()) * decoded
            / run(batchPrompts, report.newTokens, options.batch).second;
        say(row.precision + ": decode batch " + std::to_string(options.batch) + " "
            + fixed(row.decodeBatchTokensPerSecond, 0) + " tokens/s");
        row.peakRssBytes = processPeakRssBytes();
        report.rows.push_back(row);
        model.reset();
        releaseFreedMemory();
    }
    return report;
}

std::string ModelBenchReport::table() const
{
    std::ostringstream t;
    t << "model " << model << " (" << dir << "), " << threads << " threads, kernel path "
      << kernelPath << "\n"
      << "prefill: 1 prompt of " << prefillTokens << " tokens; decode: greedy, " << newTokens
      << " new tokens a row, " << batch1Prompts << " prompts at batch 1, " << batch
      << " at batch " << batch << " (GSM-style prompts, mean " << fixed(meanPromptTokens, 1)
      << " tokens); median of " << repeats << " runs after a warm-up\n"
      << "peak RSS: resident-set high-water mark during the precision's runs"
      << (peakReset ? "" : " (could not be reset: since process start)") << ", baseline "
      << fixed(baselineRssBytes / 1048576.0, 1) << " MiB before loading\n\n";
    const std::string b = std::to_string(batch);
    t << "| precision | weights MiB | bits/weight | peak RSS MiB | prefill tok/s | decode b1 tok/s "
         "| decode b" << b << " tok/s | prefill vs fp32 | b1 vs fp32 | b" << b << " vs fp32 |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    const ModelBenchRow *ref = nullptr;
    for (const auto &r : rows)
        if (!ref && r.label == "fp32")
            ref = &r;
    for (const auto &r : rows) {
        t << "| " << (r.precision == r.label ? r.precision : r.precision + " (" + r.label + ")")
          << " | " << fixed(r.weightBytes / 1048576.0, 2) << " | " << fixed(r.bitsPerWeight, 2)
          << " | " << fixed(r.peakRssBytes / 1048576.0, 1) << " | "
          << fixed(r.prefillTokensPerSecond, 0) << " | " << fixed(r.decode1TokensPerSecond, 0)
          << " | " << fixed(r.decodeBatchTokensPerSecond, 0) << " | "
          << (ref ? ratio(r.prefillTokensPerSecond, ref->prefillTokensPerSecond) : "-") << " | "
          << (ref ? ratio(r.decode1TokensPerSecond, ref->decode1TokensPerSecond) : "-") << " | "
          << (ref ? ratio(r.decodeBatchTokensPerSecond, ref->decodeBatchTokensPerSecond) : "-")
          << " |\n";
    }
    return t.str();
}

nlohmann::ordered_json ModelBenchReport::toJson() const
{
    nlohmann::ordered_json j;
    j["model"] = model;
    j["dir"] = dir;
    j["threads"] = threads;
    j["kernel_path"] = kernelPath;
    j["prefill_tokens"] = prefillTokens;
    j["new_tokens"] = newTokens;
    j["batch"] = batch;
    j["batch1_prompts"] = batch1Prompts;
    j["mean_prompt_tokens"] = meanPromptTokens;
    j["repeats"] = repeats;
    j["baseline_rss_bytes"] = baselineRssBytes;
    j["peak_rss_reset"] = peakReset;
    const ModelBenchRow *ref = nullptr;
    for (const auto &r : rows)
        if (!ref && r.label == "fp32")
            ref = &r;
    auto rel = [&](double v, double base) -> nlohmann::ordered_json {
        if (!ref || base <= 0)
            return nullptr;
        return v / base;
    };
    j["rows"] = nlohmann::ordered_json::array();
    for (const auto &r : rows) {
        nlohmann::ordered_json o;
        o["precision"] = r.precision;
        o["label"] = r.label;
        o["method"] = r.method;
        o["weight_bytes"] = r.weightBytes;
        o["linear_parameters"] = r.linearParameters;
        o["linear_weight_bytes"] = r.linearWeightBytes;
        o["bits_per_weight"] = r.bitsPerWeight;
        o["peak_rss_bytes"] = r.peakRssBytes;
        o["prefill_tokens_per_second"] = r.prefillTokensPerSecond;
        o["decode_tokens_per_second_batch1"] = r.decode1TokensPerSecond;
        o["decode_tokens_per_second_batch"] = r.decodeBatchTokensPerSecond;
        o["quantize_seconds"] = r.quantizeSeconds;
        o["prefill_vs_fp32"] = rel(r.prefillTokensPerSecond, ref ? ref->prefillTokensPerSecond : 0);
        o["decode_batch1_vs_fp32"]
            = rel(r.decode1TokensPerSecond, ref ? ref->decode1TokensPerSecond : 0);
        o["decode_batch_vs_fp32"]
            = rel(r.decodeBatchTokensPerSecond, ref ? ref->decodeBatchTokensPerSecond : 0);
        o["weight_bytes_vs_fp32"] = rel(double(r.weightBytes), ref ? double(ref->weightBytes) : 0);
        j["rows"].push_back(o);
    }
    return j;
}

} // namespace qb::bench

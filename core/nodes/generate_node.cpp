// The generate node: completes one or more prompts with a model and the decoding settings through
// the evaluation library's generation (the model's own codec: its tokenizer.json, or raw bytes
// for models without one, as the random smoke model), and reports tokens per second.
#include "api/node_context.h"
#include "eval/evaluator.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "util/error.h"
#include "util/files.h"

#include <chrono>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

ParamSpec decodingParamSpec(int64_t defaultMaxNewTokens)
{
    return ParamSpec::object(
        "decoding",
        {ParamSpec::choice("strategy", "greedy", {"greedy", "sample"},
                           "greedy takes the most likely token; sample draws from the "
                           "distribution"),
         ParamSpec::real("temperature", 1.0, "Sampling temperature (logits are divided by it)")
             .range(0.0, 10.0),
         ParamSpec::integer("top_k", 0, "Keep only the k most likely tokens (0 = all)").atLeast(0),
         ParamSpec::real("top_p", 1.0,
                         "Nucleus sampling: smallest set of tokens with this much probability")
             .range(0.0, 1.0),
         ParamSpec::integer("max_new_tokens", defaultMaxNewTokens, "Longest completion in tokens")
             .range(1, 32768),
         ParamSpec::stringList("stop", "A completion ends once it contains one of these strings"),
         ParamSpec::integer("seed", 0, "Mixed with the experiment seed for sampling").atLeast(0)},
        "How completions are produced");
}

DecodingConfig decodingFromJson(const json &d, uint64_t seed)
{
    DecodingConfig c;
    c.strategy = d.value("strategy", c.strategy);
    c.temperature = d.value("temperature", c.temperature);
    c.topK = d.value("top_k", c.topK);
    c.topP = d.value("top_p", c.topP);
    c.maxNewTokens = d.value("max_new_tokens", c.maxNewTokens);
    c.stopStrings = d.value("stop", std::vector<std::string>{});
    c.seed = seed ^ d.value("seed", uint64_t(0));
    return c;
}

namespace {

Artifact runGenerate(NodeContext &ctx)
{
    const Artifact &modelArtifact = ctx.input("model");
    const ModelBundle bundle = loadModelBundle(modelArtifact);
    const auto prompts = ctx.params()["prompts"].get<std::vector<std::string>>();
    if (prompts.empty())
        throw Error("'prompts' is empty");
    const DecodingConfig decoding = decodingFromJson(ctx.params()["decoding"], ctx.seed());
    WorkHooks work = ctx.hooks();
    double seconds = 0;
    const auto out = eval::complete(eval::refOf(bundle), prompts, decoding, decoding.stopStrings,
                                    static_cast<int>(prompts.size()), work, &seconds);
    int64_t tokens = 0;
    std::string lines;
    for (size_t i = 0; i < out.size(); ++i) {
        tokens += static_cast<int64_t>(out[i].ids.size());
        json rec{{"prompt", prompts[i]}, {"completion", out[i].text},
                 {"tokens", out[i].ids.size()}};
        lines += rec.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    }
    writeFileAtomic(ctx.outDir() / "completions.jsonl", lines);
    const double tps = seconds > 0 ? tokens / seconds : 0.0;
    ctx.metric("tokens_per_second", 0, tps, {}, MetricX::None, "tokens/s");
    ctx.addResult({{"model", modelArtifact.nodeId}, {"task", "generate"},
                   {"generated_tokens", tokens}, {"seconds", seconds}, {"tokens_per_second", tps},
                   {"weight_bytes", bundle.model->weightBytes()}});
    Artifact a;
    a.meta = {{"prompts", prompts.size()}, {"generated_tokens", tokens}};
    return a;
}

} // namespace

void registerGenerateNodes(NodeRegistry &registry)
{
    NodeSpec g("generate", "Generate", "Evaluation", "generation",
                 "Complete prompts with a model; writes completions.jsonl and tokens/s.");
    g.inputs = {{"model", "model", false, false, "The model to sample from"}};
    g.params = {ParamSpec::required("prompts", ParamKind::StringList, "Prompts to complete"),
                decodingParamSpec(32)};
    g.run = runGenerate;
    registry.add(g);
}

} // namespace qb

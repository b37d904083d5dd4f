// The evaluate.perplexity node: the perplexity of every connected model on one text, with
// sliding windows (eval/perplexity.h): a raw text file (`path`, WikiText-style) or the text of a
// connected dataset (its questions and worked answers, nodes/calibration_input.h's format).
// One row per model: perplexity, mean NLL, tokens scored, windows; a metric point per model.
#include "api/node_context.h"
#include "eval/perplexity.h"
#include "nodes/calibration_input.h"
#include "nodes/node_inputs.h"
#include "nodes/nodes.h"
#include "util/error.h"
#include "util/files.h"

using nlohmann::json;

namespace qb {

namespace {

Artifact runPerplexity(NodeContext &ctx)
{
    const json &p = ctx.params();
    std::string text, source;
    if (ctx.hasInput("text")) {
        const Artifact &d = ctx.input("text");
        text = datasetText(d);
        source = "dataset " + d.nodeId;
    } else {
        const std::string path = p.at("path").get<std::string>();
        if (path.empty())
            throw Error("evaluate.perplexity needs a text: connect a dataset to 'text' or set "
                        "'path' to a text file");
        text = readTextFile(path);
        source = path;
    }
    eval::PerplexityOptions options;
    options.window = p.at("window").get<int64_t>();
    options.stride = p.at("stride").get<int64_t>();
    const int64_t maxTokens = p.at("max_tokens").get<int64_t>();
    const auto &models = ctx.inputs("models");
    const WorkHooks work = ctx.hooks();
    for (size_t i = 0; i < models.size(); ++i) {
        const Artifact &m = models[i];
        const std::string label = m.meta.value("label", m.nodeId);
        const ModelBundle bundle = loadModelBundle(m);
        std::vector<int64_t> ids = bundle.codec->encode(text);
        if (maxTokens > 0 && int64_t(ids.size()) > maxTokens)
            ids.resize(maxTokens);
        WorkHooks hooks = work;
        hooks.progress = [&](double done, double total, const std::string &) {
            ctx.progress(double(i) + done / std::max(total, 1.0), double(models.size()),
                         label + " on " + source);
        };
        const eval::PerplexityResult r = eval::perplexity(*bundle.model, ids, options, hooks);
        ctx.log(label + ": perplexity " + std::to_string(r.perplexity()) + " (" +
                std::to_string(r.predicted) + " tokens of " + source + ", window "
                + std::to_string(r.window) + ", stride " + std::to_string(r.stride) + ")");
        ctx.metric("perplexity/" + label, double(i), r.perplexity(), {{"model", m.nodeId}},
                   MetricX::None, "perplexity");
        ctx.addResult({{"analysis", "perplexity"},
                       {"model", m.nodeId},
                       {"label", label},
                       {"precision", m.meta.value("precision", "fp32")},
                       {"text", source},
                       {"tokens", r.tokens},
                       {"predicted", r.predicted},
                       {"windows", r.windows},
                       {"window", r.window},
                       {"stride", r.stride},
                       {"nll_per_token", r.meanNll()},
                       {"perplexity", r.perplexity()},
                       {"weight_bytes", bundle.model->weightBytes()}});
    }
    Artifact a;
    a.meta = {{"rows", models.size()}, {"text", source}};
    return a;
}

} // namespace

void registerPerplexityNodes(NodeRegistry &registry)
{
    NodeSpec n("evaluate.perplexity", "Perplexity", "Evaluation", "evaluation",
               "Perplexity of every model on one text with sliding windows (as transformers "
               "documents it): a raw text file, or the questions and answers of a dataset.");
    n.inputs = {{"models", "model", true, false, "Models to compare"},
                {"text", "dataset", false, true, "A dataset whose text to score (else `path`)"}};
    n.params = {
        ParamSpec::path("path", "", "Text file to score when no dataset is connected"),
        ParamSpec::integer("window", 0,
                           "Tokens per forward pass (0 = the model's max_position_embeddings)")
            .range(0, 1 << 20),
        ParamSpec::integer("stride", 0, "Tokens between window starts (0 = window / 2)")
            .range(0, 1 << 20),
        ParamSpec::integer("max_tokens", 0, "Score only the first N tokens (0 = all)")
            .range(0, int64_t(1) << 40)};
    n.run = runPerplexity;
    registry.add(n);
}

} // namespace qb

#include "perplexity_probe.h"

#include "eval/perplexity.h"
#include "model/linear.h"
#include "model/transformer.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <memory>

namespace pplprobe {

namespace {

std::unique_ptr<qb::Transformer> tinyModel()
{
    auto m = std::make_unique<qb::Transformer>(qb::ModelConfig::fromJson(
        nlohmann::json::parse(R"({"vocab_size": 40, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 8, "max_position_embeddings": 32, "tie_word_embeddings": false})"),
        "probe"));
    m->initRandom(5, 0.3); // large weights: far from uniform predictions
    return m;
}

Scored run(qb::Transformer &model, const std::vector<int64_t> &ids, int64_t window, int64_t stride)
{
    Scored s;
    try {
        qb::eval::PerplexityOptions o;
        o.window = window;
        o.stride = stride;
        const auto r = qb::eval::perplexity(model, ids, o);
        s.nll = r.nll;
        s.predicted = r.predicted;
        s.windows = r.windows;
        s.perplexity = r.perplexity();
    } catch (const qb::Error &e) {
        s.error = e.what();
    }
    return s;
}

} // namespace

Scored library(const std::vector<int64_t> &ids, int64_t window, int64_t stride)
{
    auto model = tinyModel();
    return run(*model, ids, window, stride);
}

double naiveNll(const std::vector<int64_t> &ids, const std::vector<int64_t> &contextStarts)
{
    at::NoGradGuard noGrad;
    auto model = tinyModel();
    double nll = 0;
    for (size_t t = 1; t < ids.size(); ++t) {
        const int64_t start = contextStarts[t];
        if (start < 0)
            continue;
        const std::vector<int64_t> context(ids.begin() + start, ids.begin() + t);
        const at::Tensor logits = model->forward(at::tensor(context, at::kLong).unsqueeze(0));
        const at::Tensor last = logits[0][static_cast<int64_t>(context.size()) - 1].to(at::kDouble);
        // -log softmax(last)[ids[t]] written out: logsumexp - logit.
        const double m = last.max().item<double>();
        const double lse = m + std::log((last - m).exp().sum().item<double>());
        nll += lse - last[ids[t]].item<double>();
    }
    return nll;
}

double uniformModelPerplexity(const std::vector<int64_t> &ids, int64_t window, int64_t stride)
{
    auto model = tinyModel();
    const auto &head = model->linear("lm_head");
    model->setLinear("lm_head", std::make_shared<qb::DenseLinear>(
                                    at::zeros({head.outFeatures(), head.inFeatures()})));
    return run(*model, ids, window, stride).perplexity;
}

} // namespace pplprobe

#include "model/transformer.h"

#include "model/fused_attention.h"
#include "model/fused_layer_ops.h"

#include "util/error.h"

#include <cmath>
#include <limits>

namespace qb {

std::string layerName(int64_t layer, const std::string &suffix)
{
    return "model.layers." + std::to_string(layer) + "." + suffix;
}

namespace {

const char *const kAttnProjections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                        "self_attn.o_proj"};
const char *const kMlpProjections[] = {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};

at::Tensor rotateHalf(const at::Tensor &x)
{
    const int64_t half = x.size(-1) / 2;
    auto x1 = x.narrow(-1, 0, half);
    auto x2 = x.narrow(-1, half, half);
    return at::cat({-x2, x1}, -1);
}

} // namespace

Transformer::Transformer(ModelConfig config) : m_config(std::move(config))
{
    const auto &c = m_config;
    TORCH_CHECK(c.vocabSize > 0 && c.hiddenSize > 0 && c.numLayers > 0 && c.numHeads > 0,
                "Transformer: incomplete config");
    const std::vector<double> invFreq = ropeInverseFrequencies(c);
    m_invFreq = at::tensor(invFreq, at::kDouble).to(at::kFloat);
    createTensors();
}

void Transformer::createTensors()
{
    const auto &c = m_config;
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    m_tensors["model.embed_tokens.weight"] = at::zeros({c.vocabSize, c.hiddenSize}, f32);
    m_tensors["model.norm.weight"] = at::ones({c.hiddenSize}, f32);
    auto addLinear = [&](const std::string &name, int64_t out, int64_t in, bool bias) {
        m_linears[name] = std::make_shared<DenseLinear>(at::zeros({out, in}, f32),
                                                        bias ? at::zeros({out}, f32) : at::Tensor());
        m_linearOrder.push_back(name);
    };
    const int64_t qDim = c.numHeads * c.headDim;
    const int64_t kvDim = c.numKvHeads * c.headDim;
    for (int64_t l = 0; l < c.numLayers; ++l) {
        m_tensors[layerName(l, "input_layernorm.weight")] = at::ones({c.hiddenSize}, f32);
        m_tensors[layerName(l, "post_attention_layernorm.weight")] = at::ones({c.hiddenSize}, f32);
        if (c.qkNorm) {
            m_tensors[layerName(l, "self_attn.q_norm.weight")] = at::ones({c.headDim}, f32);
            m_tensors[layerName(l, "self_attn.k_norm.weight")] = at::ones({c.headDim}, f32);
        }
        addLinear(layerName(l, "self_attn.q_proj"), qDim, c.hiddenSize, c.qkvBias);
        addLinear(layerName(l, "self_attn.k_proj"), kvDim, c.hiddenSize, c.qkvBias);
        addLinear(layerName(l, "self_attn.v_proj"), kvDim, c.hiddenSize, c.qkvBias);
        addLinear(layerName(l, "self_attn.o_proj"), c.hiddenSize, qDim, c.oBias);
        addLinear(layerName(l, "mlp.gate_proj"), c.intermediateSize, c.hiddenSize, c.mlpBias);
        addLinear(layerName(l, "mlp.up_proj"), c.intermediateSize, c.hiddenSize, c.mlpBias);
        addLinear(layerName(l, "mlp.down_proj"), c.hiddenSize, c.intermediateSize, c.mlpBias);
    }
    if (c.tieWordEmbeddings)
        m_linears["lm_head"] = std::make_shared<DenseLinear>(m_tensors["model.embed_tokens.weight"]);
    else
        m_linears["lm_head"] = std::make_shared<DenseLinear>(at::zeros({c.vocabSize, c.hiddenSize}, f32));
    m_linearOrder.push_back("lm_head");
}

void Transformer::initRandom(uint64_t seed, double std)
{
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    at::NoGradGuard noGrad;
    // Fill in name order so that the same seed gives the same weights whatever the map holds.
    m_tensors["model.embed_tokens.weight"].normal_(0.0, std, gen);
    for (const auto &name : m_linearOrder) {
        auto *dense = dynamic_cast<DenseLinear *>(m_linears[name].get());
        TORCH_CHECK(dense, "initRandom: ", name, " is not a dense linear");
        if (name == "lm_head" && m_config.tieWordEmbeddings)
            continue;
        // Residual-branch outputs get the GPT-2 style 1/sqrt(2 * layers) scale for stable depth.
        const bool residualOut = name.find("o_proj") != std::string::npos
            || name.find("down_proj") != std::string::npos;
        const double s = residualOut ? std / std::sqrt(2.0 * m_config.numLayers) : std;
        dense->weight().normal_(0.0, s, gen);
        if (dense->bias().defined())
            dense->bias().zero_();
    }
}

std::vector<std::string> Transformer::linearNames() const { return m_linearOrder; }

LinearOp &Transformer::linear(const std::string &name) const { return *linearPtr(name); }

std::shared_ptr<LinearOp> Transformer::linearPtr(const std::string &name) const
{
    auto it = m_linears.find(name);
    if (it == m_linears.end())
        throw Error("model has no linear layer named '" + name + "'");
    return it->second;
}

void Transformer::setLinear(const std::string &name, std::shared_ptr<LinearOp> op)
{
    auto it = m_linears.find(name);
    if (it == m_linears.end())
        throw Error("model has no linear layer named '" + name + "'");
    TORCH_CHECK(op && op->inFeatures() == it->second->inFeatures()
                    && op->outFeatures() == it->second->outFeatures(),
                "setLinear: shape mismatch for ", name);
    it->second = std::move(op);
}

std::vector<at::Tensor> Transformer::parameters()
{
    std::vector<at::Tensor> out;
    for (auto &[name, t] : m_tensors)
        out.push_back(t);
    for (const auto &name : m_linearOrder) {
        if (name == "lm_head" && m_config.tieWordEmbeddings)
            continue;
        for (auto &t : m_linears[name]->trainableParameters())
            out.push_back(t);
    }
    return out;
}

int64_t Transformer::weightBytes() const
{
    int64_t bytes = 0;
    for (const auto &[name, t] : m_tensors)
        bytes += t.numel() * static_cast<int64_t>(t.element_size());
    for (const auto &name : m_linearOrder) {
        if (name == "lm_head" && m_config.tieWordEmbeddings)
            continue;
        bytes += m_linears.at(name)->weightBytes();
    }
    return bytes;
}

at::Tensor Transformer::rmsNorm(const at::Tensor &x, const std::string &weightName) const
{
    const auto &w = m_tensors.at(weightName);
    if (fusedLayerOpsApply(x) && !w.requires_grad())
        return fusedRmsNorm(x, w, m_config.rmsNormEps);
    auto variance = x.pow(2).mean(-1, /*keepdim=*/true);
    return x * at::rsqrt(variance + m_config.rmsNormEps) * w;
}

at::Tensor Transformer::attention(int64_t layer, const at::Tensor &x, const at::Tensor &cos,
                                  const at::Tensor &sin, const at::Tensor &mask, KVCache *cache,
                                  bool lastQueryOnly)
{
    const auto &c = m_config;
    const int64_t b = x.size(0), t = x.size(1), hd = c.headDim;
    // The query rows: every position, or the last one (its rotary angles and mask row with it).
    const int64_t tq = lastQueryOnly ? 1 : t;
    auto queryRows = [&](const at::Tensor &a, int64_t dim) {
        return lastQueryOnly ? a.narrow(dim, t - 1, 1) : a;
    };
    const at::Tensor qCos = queryRows(cos, 2), qSin = queryRows(sin, 2);
    const at::Tensor qMask = mask.defined() ? queryRows(mask, 2) : mask;
    const auto qLinear = linear(layerName(layer, "self_attn.q_proj")).forward(queryRows(x, 1));
    const auto kLinear = linear(layerName(layer, "self_attn.k_proj")).forward(x);
    auto v = linear(layerName(layer, "self_attn.v_proj")).forward(x)
                 .view({b, t, c.numKvHeads, hd}).transpose(1, 2);
    at::Tensor q, k;
    // cos, sin: [b, 1, t, hd]
    if (!c.qkNorm && fusedLayerOpsApply(qLinear) && fusedLayerOpsApply(kLinear)) {
        q = fusedRotary(qLinear, qCos, qSin, c.numHeads, hd);
        k = fusedRotary(kLinear, cos, sin, c.numKvHeads, hd);
    } else {
        q = qLinear.view({b, tq, c.numHeads, hd}).transpose(1, 2);
        k = kLinear.view({b, t, c.numKvHeads, hd}).transpose(1, 2);
        if (c.qkNorm) { // Qwen3: RMSNorm over each head's vector, before rotary
            q = rmsNorm(q, layerName(layer, "self_attn.q_norm.weight"));
            k = rmsNorm(k, layerName(layer, "self_attn.k_norm.weight"));
        }
        q = q * qCos + rotateHalf(q) * qSin;
        k = k * cos + rotateHalf(k) * sin;
    }
    if (fusedAttentionApplies(q, k, v)) {
        const double scale = 1.0 / std::sqrt(double(hd));
        at::Tensor out;
        if (cache && fusedAttentionReads(cache->format())) {
            out = fusedAttention(q, cache->writeStored(layer, k, v), qMask, scale);
        } else {
            if (cache)
                std::tie(k, v) = cache->write(layer, k, v);
            out = fusedAttention(q, k, v, qMask, scale);
        }
        return linear(layerName(layer, "self_attn.o_proj")).forward(out);
    }
    if (cache)
        std::tie(k, v) = cache->write(layer, k, v);
    const int64_t s = k.size(2);
    const int64_t groups = c.numHeads / c.numKvHeads;
    // Grouped-query attention without materialising repeated K/V: fold the group into the query rows.
    auto qg = q.reshape({b, c.numKvHeads, groups * tq, hd});
    // scores: [b, kvh, g*tq, s]
    auto scores = at::matmul(qg, k.transpose(-1, -2)).div_(std::sqrt(double(hd)));
    scores = scores.view({b, c.numKvHeads, groups, tq, s});
    if (qMask.defined())
        scores.add_(qMask.unsqueeze(1));
    auto probs = at::softmax(scores, -1).view({b, c.numKvHeads, groups * tq, s});
    auto out = at::matmul(probs, v).view({b, c.numHeads, tq, hd}).transpose(1, 2)
                   .reshape({b, tq, c.numHeads * hd});
    return linear(layerName(layer, "self_attn.o_proj")).forward(out);
}

at::Tensor Transformer::mlp(int64_t layer, const at::Tensor &x)
{
    auto gate = linear(layerName(layer, "mlp.gate_proj")).forward(x);
    auto up = linear(layerName(layer, "mlp.up_proj")).forward(x);
    const bool fused = fusedLayerOpsApply(gate) && fusedLayerOpsApply(up);
    return linear(layerName(layer, "mlp.down_proj"))
        .forward(fused ? fusedSiluMul(gate, up) : at::silu(gate) * up);
}

at::Tensor Transformer::hidden(const at::Tensor &ids, const ForwardOptions &options)
{
    const auto &c = m_config;
    TORCH_CHECK(ids.dim() == 2, "forward: ids must be [batch, seq]");
    const int64_t b = ids.size(0), t = ids.size(1);
    KVCache *cache = options.cache;
    if (cache && !cache->allocated())
        cache->allocate(c, b, t);
    TORCH_CHECK(!cache || cache->batch() == b, "forward: the cache holds ", cache ? cache->batch() : 0,
                " rows, ids ", b);
    const bool ragged = cache && !cache->uniform();
    TORCH_CHECK(!ragged || (t == 1 && options.attentionMask.defined() && options.positions.defined()),
                "forward: a cache with rows of different lengths takes one token, a mask and positions");
    const int64_t past = cache ? cache->length() : 0;
    const int64_t s = past + t;
    if (ids.numel() > 0) {
        const int64_t maxId = ids.max().item<int64_t>();
        const int64_t minId = ids.min().item<int64_t>();
        if (minId < 0 || maxId >= c.vocabSize)
            throw Error("token id " + std::to_string(minId < 0 ? minId : maxId)
                        + " is outside the vocabulary of " + std::to_string(c.vocabSize));
    }

    at::Tensor positions = options.positions;
    if (!positions.defined())
        positions = at::arange(past, s, at::kLong).unsqueeze(0).expand({b, t});
    auto freqs = positions.to(at::kFloat).unsqueeze(-1) * m_invFreq; // [b, t, hd/2]
    auto emb = at::cat({freqs, freqs}, -1).unsqueeze(1);              // [b, 1, t, hd]
    auto cos = emb.cos(), sin = emb.sin();

    // Additive mask [b, 1, t, s]: causal over absolute positions, plus padding keys. The most
    // negative finite value (not -inf) keeps fully masked pad-query rows finite. One new token
    // sees every earlier column, so it needs only the padding part (none without a mask).
    const float neg = std::numeric_limits<float>::lowest();
    if (options.attentionMask.defined())
        TORCH_CHECK(options.attentionMask.size(0) == b && options.attentionMask.size(1) == s,
                    "forward: attention mask must be [batch, past + seq]");
    at::Tensor mask;
    if (t == 1) {
        if (options.attentionMask.defined())
            mask = at::zeros({b, 1, 1, s}, at::kFloat)
                       .masked_fill_(options.attentionMask.to(at::kBool).logical_not().view({b, 1, 1, s}), neg);
    } else {
        auto qIdx = at::arange(past, s, at::kLong).unsqueeze(1);
        auto kIdx = at::arange(0, s, at::kLong).unsqueeze(0);
        auto allowed = (kIdx <= qIdx).unsqueeze(0).expand({b, t, s});
        if (options.attentionMask.defined())
            allowed = allowed.logical_and(options.attentionMask.to(at::kBool).unsqueeze(1));
        mask = at::zeros({b, t, s}, at::kFloat).masked_fill(allowed.logical_not(), neg).unsqueeze(1);
    }
    // Sliding-window layers also drop keys window or more columns behind the query (transformers:
    // query i sees keys j with i - window < j <= i). A row's cache columns are its tokens in order
    // (left padding first), so column distance is token distance. The query's column is past + i,
    // or, one token into a ragged cache, that row's own length.
    at::Tensor windowMask = mask;
    if (c.slidingWindow > 0 && s > c.slidingWindow) {
        at::Tensor qCol;
        if (t == 1 && cache) {
            std::vector<int64_t> lengths(b);
            for (int64_t r = 0; r < b; ++r)
                lengths[r] = cache->rowLength(r);
            qCol = at::tensor(lengths, at::kLong).view({b, 1, 1});
        } else {
            qCol = at::arange(past, s, at::kLong).view({1, t, 1});
        }
        auto kIdx = at::arange(0, s, at::kLong).view({1, 1, s});
        auto outside = (kIdx <= qCol - c.slidingWindow).expand({b, t, s}).unsqueeze(1);
        windowMask = (mask.defined() ? mask : at::zeros({b, 1, t, s}, at::kFloat))
                         .masked_fill(outside, neg);
    }

    auto x = at::embedding(m_tensors.at("model.embed_tokens.weight"), ids);
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const bool lastOnly = options.lastPositionOnly && l + 1 == c.numLayers && t > 1;
        const at::Tensor attended
            = attention(l, rmsNorm(x, layerName(l, "input_layernorm.weight")), cos, sin,
                        c.slidingLayer(l) ? windowMask : mask, cache, lastOnly);
        x = (lastOnly ? x.narrow(1, t - 1, 1) : x) + attended;
        x = x + mlp(l, rmsNorm(x, layerName(l, "post_attention_layernorm.weight")));
        if (options.hiddenStates)
            options.hiddenStates->push_back(x);
    }
    if (cache)
        cache->advance(t);
    if (options.lastPositionOnly && x.size(1) > 1) // a model without layers
        x = x.narrow(1, t - 1, 1);
    return x;
}

at::Tensor Transformer::head(const at::Tensor &hidden)
{
    return linear("lm_head").forward(rmsNorm(hidden, "model.norm.weight"));
}

at::Tensor Transformer::forward(const at::Tensor &ids, const ForwardOptions &options)
{
    return head(hidden(ids, options));
}

} // namespace qb

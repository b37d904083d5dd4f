// Torch side of tst_hf_families, and the naive reference decoder (plain loops, double precision).
#include "hf_families_probe.h"

#include "model/generation.h"
#include "model/kv_cache.h"
#include "model/model_bundle.h"
#include "model/transformer.h"
#include "util/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace hfprobe {

namespace {

using Vec = std::vector<double>;
constexpr double kPi = 3.14159265358979323846;

const Tensor &get(const Weights &w, const std::string &name)
{
    auto it = w.find(name);
    if (it == w.end())
        throw std::runtime_error("naive reference: no tensor " + name);
    return it->second;
}

const Tensor *find(const Weights &w, const std::string &name)
{
    auto it = w.find(name);
    return it == w.end() ? nullptr : &it->second;
}

// y = W x (+ b); W: [out, in]
Vec affine(const Weights &w, const std::string &name, const Vec &x)
{
    const Tensor &W = get(w, name + ".weight");
    const Tensor *b = find(w, name + ".bias");
    const int64_t out = W.shape[0], in = W.shape[1];
    Vec y(out);
    for (int64_t o = 0; o < out; ++o) {
        double acc = b ? b->data[o] : 0.0;
        for (int64_t i = 0; i < in; ++i)
            acc += double(W.data[o * in + i]) * x[i];
        y[o] = acc;
    }
    return y;
}

// RMSNorm of x[offset .. offset + n) in place with weight `name`.
void rmsNormInPlace(Vec &x, size_t offset, size_t n, const Tensor &weight, double eps)
{
    double ss = 0;
    for (size_t i = 0; i < n; ++i)
        ss += x[offset + i] * x[offset + i];
    const double r = 1.0 / std::sqrt(ss / double(n) + eps);
    for (size_t i = 0; i < n; ++i)
        x[offset + i] = x[offset + i] * r * weight.data[i];
}

// The family's inverse frequencies, written out from transformers' description of each rope type.
Vec inverseFrequencies(const Arch &a)
{
    Vec inv(a.headDim / 2);
    for (int64_t i = 0; i < a.headDim / 2; ++i) {
        double f = std::pow(a.theta, -2.0 * double(i) / double(a.headDim));
        if (a.ropeType == "linear") {
            f /= a.factor;
        } else if (a.ropeType == "llama3") {
            const double wavelength = 2 * kPi / f;
            if (wavelength > a.originalMax / a.lowFreqFactor) {
                f = f / a.factor;
            } else if (!(wavelength < a.originalMax / a.highFreqFactor)) {
                const double s = (a.originalMax / wavelength - a.lowFreqFactor)
                    / (a.highFreqFactor - a.lowFreqFactor);
                f = (1 - s) * f / a.factor + s * f;
            }
        }
        inv[i] = f;
    }
    return inv;
}

// Rotates x[offset .. offset + headDim) for position pos: pairs (i, i + headDim / 2).
void rotate(Vec &x, size_t offset, int64_t headDim, int64_t pos, const Vec &inv)
{
    const int64_t half = headDim / 2;
    for (int64_t i = 0; i < half; ++i) {
        const double angle = double(pos) * inv[i];
        const double c = std::cos(angle), s = std::sin(angle);
        const double a = x[offset + i], b = x[offset + i + half];
        x[offset + i] = a * c - b * s;
        x[offset + i + half] = b * c + a * s;
    }
}

std::string layerPrefix(int64_t l) { return "model.layers." + std::to_string(l) + "."; }

std::vector<float> toFloat(const at::Tensor &t)
{
    const at::Tensor c = t.contiguous().to(at::kFloat);
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

at::Tensor idsTensor(const std::vector<int64_t> &ids)
{
    return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())});
}

} // namespace

std::vector<float> naiveLogits(const Arch &a, const Weights &w, const std::vector<int64_t> &ids)
{
    const Tensor &embed = get(w, "model.embed_tokens.weight");
    const int64_t vocab = embed.shape[0], hidden = embed.shape[1];
    const int64_t n = static_cast<int64_t>(ids.size()), hd = a.headDim;
    const int64_t groups = a.heads / a.kvHeads;
    const Vec inv = inverseFrequencies(a);
    std::vector<Vec> x(n, Vec(hidden));
    for (int64_t p = 0; p < n; ++p)
        for (int64_t i = 0; i < hidden; ++i)
            x[p][i] = embed.data[ids[p] * hidden + i];
    for (int64_t l = 0; l < a.layers; ++l) {
        const std::string pre = layerPrefix(l);
        const Tensor *qNorm = find(w, pre + "self_attn.q_norm.weight");
        const Tensor *kNorm = find(w, pre + "self_attn.k_norm.weight");
        std::vector<Vec> q(n), k(n), v(n);
        for (int64_t p = 0; p < n; ++p) {
            Vec h = x[p];
            rmsNormInPlace(h, 0, hidden, get(w, pre + "input_layernorm.weight"), a.eps);
            q[p] = affine(w, pre + "self_attn.q_proj", h);
            k[p] = affine(w, pre + "self_attn.k_proj", h);
            v[p] = affine(w, pre + "self_attn.v_proj", h);
            for (int64_t head = 0; head < a.heads; ++head) {
                if (qNorm)
                    rmsNormInPlace(q[p], head * hd, hd, *qNorm, a.eps);
                rotate(q[p], head * hd, hd, p, inv);
            }
            for (int64_t head = 0; head < a.kvHeads; ++head) {
                if (kNorm)
                    rmsNormInPlace(k[p], head * hd, hd, *kNorm, a.eps);
                rotate(k[p], head * hd, hd, p, inv);
            }
        }
        const bool windowed = a.window > 0 && l >= a.windowFromLayer;
        for (int64_t i = 0; i < n; ++i) {
            Vec attn(a.heads * hd, 0.0);
            const int64_t first = windowed ? std::max<int64_t>(0, i - a.window + 1) : 0;
            for (int64_t head = 0; head < a.heads; ++head) {
                const int64_t kvHead = head / groups;
                Vec scores;
                double top = -1e300;
                for (int64_t j = first; j <= i; ++j) {
                    double dot = 0;
                    for (int64_t d = 0; d < hd; ++d)
                        dot += q[i][head * hd + d] * k[j][kvHead * hd + d];
                    scores.push_back(dot / std::sqrt(double(hd)));
                    top = std::max(top, scores.back());
                }
                double sum = 0;
                for (double &s : scores)
                    sum += (s = std::exp(s - top));
                for (int64_t j = first; j <= i; ++j)
                    for (int64_t d = 0; d < hd; ++d)
                        attn[head * hd + d] += scores[j - first] / sum * v[j][kvHead * hd + d];
            }
            const Vec o = affine(w, pre + "self_attn.o_proj", attn);
            for (int64_t d = 0; d < hidden; ++d)
                x[i][d] += o[d];
            Vec h = x[i];
            rmsNormInPlace(h, 0, hidden, get(w, pre + "post_attention_layernorm.weight"), a.eps);
            const Vec gate = affine(w, pre + "mlp.gate_proj", h);
            const Vec up = affine(w, pre + "mlp.up_proj", h);
            Vec act(gate.size());
            for (size_t d = 0; d < gate.size(); ++d)
                act[d] = gate[d] / (1.0 + std::exp(-gate[d])) * up[d];
            const Vec down = affine(w, pre + "mlp.down_proj", act);
            for (int64_t d = 0; d < hidden; ++d)
                x[i][d] += down[d];
        }
    }
    const bool tied = !find(w, "lm_head.weight");
    std::vector<float> logits;
    for (int64_t p = 0; p < n; ++p) {
        Vec h = x[p];
        rmsNormInPlace(h, 0, hidden, get(w, "model.norm.weight"), a.eps);
        const Vec out = tied ? [&] {
            Vec y(vocab);
            for (int64_t t = 0; t < vocab; ++t) {
                double acc = 0;
                for (int64_t d = 0; d < hidden; ++d)
                    acc += double(embed.data[t * hidden + d]) * h[d];
                y[t] = acc;
            }
            return y;
        }()
                             : affine(w, "lm_head", h);
        for (double value : out)
            logits.push_back(float(value));
    }
    return logits;
}

std::vector<int64_t> naiveGreedy(const Arch &a, const Weights &w, std::vector<int64_t> prompt,
                                 int steps)
{
    const int64_t vocab = get(w, "model.embed_tokens.weight").shape[0];
    std::vector<int64_t> out;
    for (int s = 0; s < steps; ++s) {
        const std::vector<float> logits = naiveLogits(a, w, prompt);
        const float *last = logits.data() + (prompt.size() - 1) * vocab;
        const int64_t next = std::max_element(last, last + vocab) - last;
        out.push_back(next);
        prompt.push_back(next);
    }
    return out;
}

std::vector<float> loadedLogits(const std::string &dir, const std::vector<int64_t> &ids)
{
    auto model = qb::Transformer::load(dir);
    at::NoGradGuard noGrad;
    return toFloat(model->forward(idsTensor(ids)));
}

std::vector<float> cachedLogits(const std::string &dir, const std::vector<int64_t> &ids,
                                int64_t prefill)
{
    auto model = qb::Transformer::load(dir);
    at::NoGradGuard noGrad;
    qb::KVCache cache;
    qb::ForwardOptions options;
    options.cache = &cache;
    const std::vector<int64_t> head(ids.begin(), ids.begin() + prefill);
    std::vector<float> out = toFloat(model->forward(idsTensor(head), options));
    for (size_t p = prefill; p < ids.size(); ++p) {
        const std::vector<float> step = toFloat(model->forward(idsTensor({ids[p]}), options));
        out.insert(out.end(), step.begin(), step.end());
    }
    return out;
}

std::vector<std::vector<int64_t>> generateGreedy(const std::string &dir,
                                                 const std::vector<std::vector<int64_t>> &prompts,
                                                 const std::vector<int> &steps, int64_t rows,
                                                 bool useCache, bool refill)
{
    auto model = qb::Transformer::load(dir);
    at::NoGradGuard noGrad;
    qb::DecodingConfig d;
    d.maxNewTokens = *std::max_element(steps.begin(), steps.end());
    d.useCache = useCache;
    d.refill = refill;
    qb::GenerationHooks hooks;
    hooks.shouldStop = [&](size_t row, const std::vector<int64_t> &generated) {
        return generated.size() >= static_cast<size_t>(steps.at(row));
    };
    return qb::generate(*model, prompts, d, {}, rows, hooks);
}

void resave(const std::string &from, const std::string &to) { qb::Transformer::load(from)->save(to); }

std::string loadError(const std::string &dir)
{
    try {
        qb::Transformer::load(dir);
    } catch (const qb::Error &e) {
        return e.what();
    }
    return {};
}

BundleView loadBundle(const std::string &dir, const std::vector<int64_t> &ids)
{
    qb::ModelBundle b = qb::loadModelBundle(dir);
    at::NoGradGuard noGrad;
    BundleView v;
    v.logits = toFloat(b.model->forward(idsTensor(ids)));
    v.endTokens = b.endTokens();
    v.doSample = b.generation.doSample;
    v.temperature = b.generation.temperature;
    v.topP = b.generation.topP;
    v.topK = b.generation.topK;
    v.maxNewTokens = b.generation.maxNewTokens.value_or(-1);
    v.architecture = b.model->config().toJson()["architectures"][0].get<std::string>();
    return v;
}

} // namespace hfprobe

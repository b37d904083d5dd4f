#include "analysis/layer_error.h"

#include "analysis/linear_swap.h"
#include "util/error.h"

#include <cmath>
#include <map>

namespace qb {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Rows per chunk so that float64 copies stay around 8 MiB whatever the width (lm_head rows are
// vocabulary-wide).
int64_t chunkRows(int64_t width) { return std::max<int64_t>(1, (int64_t(1) << 20) / width); }

// Runs the reference op and the quantized op on the same input, accumulates the comparison and the
// input's outlier statistics, and passes the reference output on.
class ComparingLinear : public LinearOp
{
public:
    ComparingLinear(std::shared_ptr<LinearOp> reference, std::shared_ptr<LinearOp> quantized,
                    double threshold)
        : m_ref(std::move(reference)), m_quant(std::move(quantized)), m_threshold(threshold)
    {
    }

    at::Tensor forward(const at::Tensor &x) override
    {
        at::Tensor y = m_ref->forward(x);
        m_sums.add(y, m_quant->forward(x));
        const auto a = x.detach().reshape({-1, x.size(-1)}).abs();
        const auto amax = a.amax(0);
        m_channelAbsmax = m_channelAbsmax.defined() ? at::maximum(m_channelAbsmax, amax) : amax;
        m_outliers += (a >= m_threshold).sum().item<int64_t>();
        m_entries += a.numel();
        m_rows += a.size(0);
        return y;
    }

    int64_t inFeatures() const override { return m_ref->inFeatures(); }
    int64_t outFeatures() const override { return m_ref->outFeatures(); }
    std::string kind() const override { return m_ref->kind(); }
    int64_t weightBytes() const override { return m_ref->weightBytes(); }
    at::Tensor denseWeight() const override { return m_ref->denseWeight(); }
    at::Tensor bias() const override { return m_ref->bias(); }

    void fill(LinearError &e) const
    {
        e.tokens = m_rows;
        e.outputRelMse = m_sums.relMse();
        e.sqnrDb = m_sums.sqnrDb();
        e.cosine = m_sums.cosine();
        e.maxAbsError = m_sums.maxAbs;
        if (m_channelAbsmax.defined()) {
            e.actAbsmax = m_channelAbsmax.max().item<double>();
            e.actOutlierChannels = (m_channelAbsmax >= m_threshold).sum().item<int64_t>();
        }
        e.actOutlierFraction = m_entries ? double(m_outliers) / double(m_entries) : 0.0;
    }

private:
    std::shared_ptr<LinearOp> m_ref, m_quant;
    double m_threshold;
    OutputErrorSums m_sums;
    at::Tensor m_channelAbsmax; // [in] float32
    int64_t m_outliers = 0, m_entries = 0, m_rows = 0;
};

struct BlockSums
{
    OutputErrorSums sums;
    double cosSum = 0;
    int64_t tokens = 0;
};

void checkSameArchitecture(const Transformer &a, const Transformer &b)
{
    const ModelConfig &x = a.config(), &y = b.config();
    if (x.vocabSize != y.vocabSize || x.hiddenSize != y.hiddenSize || x.numLayers != y.numLayers
        || x.intermediateSize != y.intermediateSize || x.numHeads != y.numHeads
        || x.numKvHeads != y.numKvHeads)
        throw Error("layer error: the quantized model's architecture differs from the reference "
                    "(vocab, hidden, intermediate, layers or heads)");
    if (a.linearNames() != b.linearNames())
        throw Error("layer error: the models' linear layers differ");
}

// Sum of -log softmax(logits)[target] over positions t < seq - 1 predicting ids[t + 1].
double nextTokenNll(const at::Tensor &logits, const at::Tensor &ids)
{
    const int64_t seq = ids.size(1);
    if (seq < 2)
        return 0.0;
    const auto l = logits.narrow(1, 0, seq - 1).reshape({-1, logits.size(-1)});
    const auto t = ids.narrow(1, 1, seq - 1).reshape({-1, 1});
    double sum = 0;
    for (int64_t r = 0; r < l.size(0); r += chunkRows(l.size(1))) {
        const int64_t n = std::min(chunkRows(l.size(1)), l.size(0) - r);
        const auto lp = at::log_softmax(l.narrow(0, r, n).to(at::kDouble), -1);
        sum -= lp.gather(1, t.narrow(0, r, n)).sum().item<double>();
    }
    return sum;
}

} // namespace

void OutputErrorSums::add(const at::Tensor &y, const at::Tensor &yq)
{
    TORCH_CHECK(y.numel() == yq.numel(), "OutputErrorSums: outputs differ in size");
    const int64_t width = y.dim() > 0 ? y.size(-1) : 1;
    const auto a = y.detach().reshape({-1, width});
    const auto b = yq.detach().reshape({-1, width});
    for (int64_t r = 0; r < a.size(0); r += chunkRows(width)) {
        const int64_t n = std::min(chunkRows(width), a.size(0) - r);
        const auto ad = a.narrow(0, r, n).to(at::kDouble), bd = b.narrow(0, r, n).to(at::kDouble);
        const auto d = bd - ad;
        ref2 += ad.square().sum().item<double>();
        test2 += bd.square().sum().item<double>();
        diff2 += d.square().sum().item<double>();
        dot += (ad * bd).sum().item<double>();
        maxAbs = std::max(maxAbs, d.abs().max().item<double>());
    }
}

double OutputErrorSums::relMse() const
{
    if (ref2 > 0)
        return diff2 / ref2;
    return diff2 > 0 ? kInf : 0.0;
}

double OutputErrorSums::sqnrDb() const
{
    if (diff2 == 0)
        return kInf;
    return ref2 > 0 ? 10.0 * std::log10(ref2 / diff2) : -kInf;
}

double OutputErrorSums::cosine() const
{
    if (ref2 == 0 || test2 == 0)
        return ref2 == test2 ? 1.0 : 0.0;
    return dot / std::sqrt(ref2 * test2);
}

double weightKurtosis(const at::Tensor &w)
{
    const auto x = w.detach().to(at::kDouble).flatten();
    const auto c = x - x.mean();
    const double m2 = c.square().mean().item<double>();
    const double m4 = c.square().square().mean().item<double>();
    return m2 > 0 ? m4 / (m2 * m2) : std::numeric_limits<double>::quiet_NaN();
}

at::Tensor klPerPosition(const at::Tensor &refLogits, const at::Tensor &testLogits)
{
    const int64_t vocab = refLogits.size(-1);
    const auto a = refLogits.detach().reshape({-1, vocab});
    const auto b = testLogits.detach().reshape({-1, vocab});
    std::vector<at::Tensor> parts;
    for (int64_t r = 0; r < a.size(0); r += chunkRows(vocab)) {
        const int64_t n = std::min(chunkRows(vocab), a.size(0) - r);
        const auto lp = at::log_softmax(a.narrow(0, r, n).to(at::kDouble), -1);
        const auto lq = at::log_softmax(b.narrow(0, r, n).to(at::kDouble), -1);
        parts.push_back((lp.exp() * (lp - lq)).sum(-1).clamp_min(0.0));
    }
    return parts.empty() ? at::zeros({0}, at::kDouble) : at::cat(parts);
}

std::pair<int64_t, std::string> layerAndModule(const std::string &name, int64_t numLayers)
{
    const std::string head = "model.layers.";
    const std::string module = name.substr(name.rfind('.') + 1);
    if (name.rfind(head, 0) == 0)
        return {std::stoll(name.substr(head.size())), module};
    return {numLayers, module};
}

LayerErrorReport analyzeLayerError(Transformer &reference, Transformer &quantized,
                                   const std::vector<at::Tensor> &batches,
                                   const LayerErrorOptions &options,
                                   const WorkHooks &hooks)
{
    at::NoGradGuard noGrad;
    if (&reference == &quantized)
        throw Error("layer error: reference and quantized must be different model objects");
    checkSameArchitecture(reference, quantized);
    if (batches.empty())
        throw Error("layer error: no calibration sequences");
    const std::vector<std::string> names = reference.linearNames();
    const std::string histLayer = options.histogramLayer.empty() ? names.front()
                                                                 : options.histogramLayer;
    if (std::find(names.begin(), names.end(), histLayer) == names.end())
        throw Error("histogram_layer: the model has no linear layer named '" + histLayer + "'");
    const int64_t numLayers = reference.config().numLayers;

    std::vector<std::shared_ptr<ComparingLinear>> comparers;
    std::vector<BlockSums> blocks(numLayers);
    std::vector<double> klAlone(names.size(), 0.0);
    double klSum = 0, klMax = 0, nllRef = 0, nllQuant = 0;
    int64_t positions = 0, predicted = 0;
    const double passes = double(batches.size()) * (2 + (options.layerKl ? names.size() : 0));
    double done = 0;
    auto step = [&](const std::string &message) {
        hooks.poll();
        hooks.report(++done, passes, message);
    };
    {
        LinearSwap wrap(reference);
        for (const auto &name : names) {
            comparers.push_back(std::make_shared<ComparingLinear>(
                reference.linearPtr(name), quantized.linearPtr(name), options.outlierThreshold));
            wrap.set(name, comparers.back());
        }
        for (const auto &ids : batches) {
            std::vector<at::Tensor> hRef, hQuant;
            ForwardOptions fo;
            fo.hiddenStates = &hRef;
            // The wrappers pass reference outputs on: these are the reference logits.
            const at::Tensor refLogits = reference.forward(ids, fo);
            step("reference pass");
            fo.hiddenStates = &hQuant;
            const at::Tensor quantLogits = quantized.forward(ids, fo);
            step("quantized pass");
            for (int64_t l = 0; l < numLayers; ++l) {
                const auto h = hRef[l].reshape({-1, hRef[l].size(-1)}).to(at::kDouble);
                const auto hq = hQuant[l].reshape({-1, hQuant[l].size(-1)}).to(at::kDouble);
                blocks[l].sums.add(h, hq);
                const auto cos = (h * hq).sum(-1)
                    / (h.norm(2, -1) * hq.norm(2, -1)).clamp_min(1e-300);
                blocks[l].cosSum += cos.sum().item<double>();
                blocks[l].tokens += h.size(0);
            }
            const auto kl = klPerPosition(refLogits, quantLogits);
            klSum += kl.sum().item<double>();
            klMax = std::max(klMax, kl.max().item<double>());
            positions += kl.numel();
            nllRef += nextTokenNll(refLogits, ids);
            nllQuant += nextTokenNll(quantLogits, ids);
            predicted += ids.size(0) * (ids.size(1) - 1);
        }
    }
    if (options.layerKl) {
        LinearSwap swap(reference);
        for (const auto &ids : batches) {
            const at::Tensor refLogits = reference.forward(ids);
            for (size_t i = 0; i < names.size(); ++i) {
                swap.set(names[i], quantized.linearPtr(names[i]));
                klAlone[i] += klPerPosition(refLogits, reference.forward(ids)).sum().item<double>();
                swap.restore(names[i]);
                step("KL with " + names[i] + " quantized alone");
            }
        }
    }

    LayerErrorReport report;
    for (size_t i = 0; i < names.size(); ++i) {
        LinearError e;
        e.name = names[i];
        std::tie(e.layer, e.module) = layerAndModule(names[i], numLayers);
        const LinearOp &ref = reference.linear(names[i]), &q = quantized.linear(names[i]);
        e.kind = q.kind();
        const auto w = ref.denseWeight().detach().to(at::kDouble);
        const auto wq = q.denseWeight().detach().to(at::kDouble);
        const double w2 = w.square().sum().item<double>();
        const double d2 = (wq - w).square().sum().item<double>();
        e.weightRelMse = w2 > 0 ? d2 / w2 : (d2 > 0 ? kInf : 0.0);
        e.weightKurtosis = weightKurtosis(w);
        comparers[i]->fill(e);
        if (options.layerKl)
            e.kl = positions ? klAlone[i] / double(positions) : 0.0;
        report.linears.push_back(e);
    }
    for (int64_t l = 0; l < numLayers; ++l)
        report.blocks.push_back({l, blocks[l].sums.relMse(),
                                 blocks[l].tokens ? blocks[l].cosSum / blocks[l].tokens : 1.0});
    ModelError &m = report.model;
    m.positions = positions;
    m.klMean = positions ? klSum / double(positions) : 0.0;
    m.klMax = klMax;
    m.predicted = predicted;
    m.pplReference = predicted ? std::exp(nllRef / double(predicted)) : kInf;
    m.pplQuantized = predicted ? std::exp(nllQuant / double(predicted)) : kInf;
    report.histogram = weightHistogram(histLayer, reference.linear(histLayer),
                                       quantized.linear(histLayer), options.histogramBins);
    return report;
}

} // namespace qb

#include "analysis/sensitivity.h"

#include "analysis/linear_swap.h"
#include "quant/method_registry.h"
#include "quant/quantize_model.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

namespace qb {

namespace {

int64_t weightOnlyBytes(const LinearOp &op)
{
    return op.weightBytes() - (op.bias().defined() ? op.bias().numel() * 4 : 0);
}

// Mean KL(reference || model) over every position; refLogits: per batch [b, seq, vocab].
double meanKl(Transformer &model, const std::vector<at::Tensor> &batches,
              const std::vector<at::Tensor> &refLogits)
{
    double sum = 0;
    int64_t n = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
        const auto kl = klPerPosition(refLogits[b], model.forward(batches[b]));
        sum += kl.sum().item<double>();
        n += kl.numel();
    }
    return n ? sum / double(n) : 0.0;
}

// Quantizes `name` alone with `method` (calibrated on the model as it is) and returns the op; the
// model's own op is put back.
std::shared_ptr<LinearOp> quantizeAlone(Transformer &model, const std::string &name,
                                        const MethodSpec &method, const TokenSequences &calib,
                                        int64_t maxRows, const WorkHooks &hooks)
{
    QuantSpec spec;
    spec.method = method;
    spec.include = {name};
    spec.maxCalibrationRows = maxRows;
    LinearSwap keep(model);
    keep.set(name, model.linearPtr(name)); // remembers the original
    WorkHooks quiet; // the caller counts whole quantizations
    quiet.checkCancelled = hooks.checkCancelled;
    quantizeModel(model, spec, method.needsCalibration() ? calib : TokenSequences{}, quiet);
    return model.linearPtr(name);
}

} // namespace

std::string overrideString(const std::string &pattern, const MethodSpec &m)
{
    std::string s = pattern + ": method=" + m.method;
    for (const auto &p : quantMethod(m.method, "override '" + pattern + "'").params) {
        const nlohmann::json &v = m.params.at(p.name);
        // Weight-only (act_bits 0) writes the strings written before activation quantization.
        if (p.name == "act_bits" && v == p.defaultValue)
            continue;
        s += " " + p.name + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    return s;
}

SensitivityReport analyzeSensitivity(Transformer &model, const TokenSequences &calibration,
                                     const SensitivityOptions &options,
                                     const WorkHooks &hooks)
{
    at::NoGradGuard noGrad;
    options.low.validate("sensitivity.low");
    options.high.validate("sensitivity.high");
    const auto batches = sequenceBatches(calibration, model.config().vocabSize);
    if (batches.empty())
        throw Error("sensitivity: no calibration sequences");
    const QuantSpec everything; // include "*": every linear but lm_head
    const std::vector<std::string> names = selectLayers(model, everything);
    const size_t n = names.size();
    const double total = 3.0 * n + 2;
    double done = 0;
    auto step = [&](const std::string &message) {
        hooks.poll();
        hooks.report(++done, total, message);
    };

    std::vector<at::Tensor> refLogits;
    for (const auto &ids : batches)
        refLogits.push_back(model.forward(ids));
    step("reference pass");

    SensitivityReport report;
    std::vector<std::shared_ptr<LinearOp>> lowOps, highOps;
    LinearSwap swap(model);
    for (const auto &name : names) {
        LayerSensitivity s;
        s.cost.name = name;
        std::tie(s.layer, s.module) = layerAndModule(name, model.config().numLayers);
        const LinearOp &orig = model.linear(name);
        s.cost.parameters = orig.inFeatures() * orig.outFeatures();
        for (int high = 0; high < 2; ++high) {
            const MethodSpec &m = high ? options.high : options.low;
            auto op = quantizeAlone(model, name, m, calibration, options.maxCalibrationRows,
                                    hooks);
            swap.set(name, op);
            const double kl = meanKl(model, batches, refLogits);
            swap.restore(name);
            (high ? s.klHigh : s.klLow) = kl;
            (high ? s.cost.highBytes : s.cost.lowBytes) = weightOnlyBytes(*op);
            (high ? s.highKind : s.lowKind) = op->kind();
            (high ? highOps : lowOps).push_back(op);
            step(name + " at " + m.label());
        }
        s.cost.sensitivity = s.klLow;
        report.layers.push_back(s);
    }

    std::vector<LayerCost> costs;
    for (const auto &s : report.layers)
        costs.push_back(s.cost);
    report.ranking = sensitivityRanking(costs);
    std::vector<bool> upgraded(n, false);
    for (size_t i = 0; i < n; ++i)
        swap.set(names[i], lowOps[i]);
    for (size_t k = 0; k <= n; ++k) {
        CurvePoint p;
        p.upgraded = k;
        if (k > 0) {
            const size_t i = report.ranking[k - 1];
            swap.set(names[i], highOps[i]);
            upgraded[i] = true;
            p.layer = names[i];
        }
        p.bitsPerParam = bitsPerParam(costs, upgraded);
        p.kl = meanKl(model, batches, refLogits);
        report.curve.push_back(p);
        step(k == 0 ? "all layers at low bits" : "upgraded " + p.layer);
    }

    report.allocation = greedyAllocation(costs, options.budgetBitsPerParam);
    // The allocation is often a prefix of the ranking, whose KL the curve already measured.
    const size_t chosen = report.allocation.upgradeOrder.size();
    bool prefix = true;
    for (size_t k = 0; k < chosen; ++k)
        prefix &= report.allocation.upgraded[report.ranking[k]];
    if (prefix) {
        report.allocationKl = report.curve[chosen].kl;
    } else {
        for (size_t i = 0; i < n; ++i)
            swap.set(names[i], report.allocation.upgraded[i] ? highOps[i] : lowOps[i]);
        report.allocationKl = meanKl(model, batches, refLogits);
    }
    step("allocation");
    for (size_t i : report.allocation.upgradeOrder)
        report.overrides.push_back(overrideString(names[i], options.high));
    return report;
}

} // namespace qb

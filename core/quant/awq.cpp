#include "quant/awq.h"

#include "kernels/int_group.h"
#include "util/error.h"

#include <cmath>

namespace qb {

namespace {

at::Tensor candidateScales(const at::Tensor &xMeanAbs, double a)
{
    auto s = at::pow(xMeanAbs, a).clamp_min(1e-4);
    return (s / at::sqrt(s.max() * s.min())).contiguous();
}

// RTN quantize-dequantize of w: [rows, cols] float32 with the fast kernels.
at::Tensor pseudoQuantize(const at::Tensor &w, const kernels::IntGroupConfig &cfg)
{
    auto op = IntGroupLinear::quantize(w, {}, cfg);
    return op->storedWeight();
}

} // namespace

AwqSearch awqSearchScales(const at::Tensor &weight, const at::Tensor &x, const AwqConfig &cfg)
{
    auto w = weight.detach().to(at::kFloat).contiguous();
    auto x2 = x.detach().reshape({-1, x.size(-1)}).to(at::kFloat).contiguous();
    TORCH_CHECK(x2.size(1) == w.size(1), "awq: inputs must be [tokens, in]");
    if (x2.size(0) == 0)
        throw Error("awq: no calibration rows");
    auto xMean = x2.abs().mean(0);
    auto reference = at::matmul(x2, w.t());
    AwqSearch out;
    double bestLoss = INFINITY;
    for (int i = 0; i < cfg.grid; ++i) {
        auto s = candidateScales(xMean, static_cast<double>(i) / cfg.grid);
        auto wq = pseudoQuantize(w * s.unsqueeze(0), cfg.quant) / s.unsqueeze(0);
        const double loss = (at::matmul(x2, wq.t()) - reference).pow(2).mean().item<double>();
        out.losses.push_back(loss);
        if (loss < bestLoss) {
            bestLoss = loss;
            out.best = i;
            out.scales = s;
        }
    }
    return out;
}

AwqSearch awqSearchScalesRef(const at::Tensor &weight, const at::Tensor &x, const AwqConfig &cfg)
{
    auto w = weight.detach().to(at::kFloat).contiguous();
    auto x2 = x.detach().reshape({-1, x.size(-1)}).to(at::kFloat).contiguous();
    const int64_t out = w.size(0), in = w.size(1), n = x2.size(0);
    const float *wv = w.data_ptr<float>();
    const float *xv = x2.data_ptr<float>();
    std::vector<double> mean(in, 0.0);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < in; ++j)
            mean[j] += std::fabs(xv[t * in + j]) / static_cast<double>(n);
    const int64_t groups = kernels::int_group_groups_per_row(cfg.quant, in);
    std::vector<uint8_t> packed(out * kernels::int_group_row_bytes(cfg.quant.bits, in));
    std::vector<float> scales(out * groups), ws(out * in), wq(out * in), s(in);
    std::vector<uint8_t> zeros(out * groups);
    AwqSearch result;
    double bestLoss = INFINITY;
    for (int i = 0; i < cfg.grid; ++i) {
        const double a = static_cast<double>(i) / cfg.grid;
        float smax = 0.0f, smin = INFINITY;
        for (int64_t j = 0; j < in; ++j) {
            s[j] = std::max(std::pow(static_cast<float>(mean[j]), static_cast<float>(a)), 1e-4f);
            smax = std::max(smax, s[j]);
            smin = std::min(smin, s[j]);
        }
        const float norm = std::sqrt(smax * smin);
        for (int64_t j = 0; j < in; ++j)
            s[j] /= norm;
        for (int64_t r = 0; r < out; ++r)
            for (int64_t j = 0; j < in; ++j)
                ws[r * in + j] = wv[r * in + j] * s[j];
        kernels::quantize_int_group_ref(ws.data(), out, in, cfg.quant, packed.data(), scales.data(),
                                        zeros.data());
        kernels::dequantize_int_group_ref(packed.data(), scales.data(), zeros.data(), out, in,
                                          cfg.quant, wq.data());
        double loss = 0.0;
        for (int64_t t = 0; t < n; ++t)
            for (int64_t r = 0; r < out; ++r) {
                double diff = 0.0;
                for (int64_t j = 0; j < in; ++j)
                    diff += static_cast<double>(xv[t * in + j])
                        * (static_cast<double>(wq[r * in + j]) / s[j] - wv[r * in + j]);
                loss += diff * diff;
            }
        loss /= static_cast<double>(n * out);
        result.losses.push_back(loss);
        if (loss < bestLoss) {
            bestLoss = loss;
            result.best = i;
            result.scales = at::from_blob(s.data(), {in}, at::kFloat).clone();
        }
    }
    return result;
}

at::Tensor awqClip(const at::Tensor &scaledWeight, const at::Tensor &xScaled, const AwqConfig &cfg)
{
    auto w = scaledWeight.detach().to(at::kFloat).contiguous();
    const int64_t out = w.size(0), in = w.size(1);
    const int64_t gs = kernels::int_group_size(cfg.quant, in);
    if (in % gs != 0)
        return w; // a ragged last group: clipping is skipped (documented in the node)
    const int64_t groups = in / gs;
    auto x = xScaled.detach().reshape({-1, in}).to(at::kFloat);
    if (x.size(0) > cfg.clipRows) // evenly spaced rows, deterministic
        x = x.index_select(0, at::linspace(0, x.size(0) - 1, cfg.clipRows).to(at::kLong));
    auto xg = x.reshape({x.size(0), groups, gs}).permute({1, 2, 0}).contiguous(); // [G, gs, t]
    kernels::IntGroupConfig perRow = cfg.quant;
    perRow.group_size = 0; // each [group] row of the reshaped weight is one group
    auto result = w.clone();
    const int64_t chunk = 256; // output rows per step, bounds the [rows, G, t] temporaries
    for (int64_t r0 = 0; r0 < out; r0 += chunk) {
        const int64_t r1 = std::min(out, r0 + chunk);
        auto wg = w.slice(0, r0, r1).reshape({r1 - r0, groups, gs}); // [R, G, gs]
        auto orig = at::einsum("rgk,gkt->rgt", {wg, xg});
        auto maxVal = wg.abs().amax(-1, true); // [R, G, 1]
        auto bestErr = at::full({r1 - r0, groups, 1}, INFINITY, at::kFloat);
        auto best = wg.clone();
        const int steps = static_cast<int>(cfg.maxShrink * cfg.clipGrid);
        for (int i = 0; i < steps; ++i) {
            auto limit = maxVal * (1.0 - static_cast<double>(i) / cfg.clipGrid);
            auto clipped = at::max(at::min(wg, limit), -limit).contiguous();
            auto q = pseudoQuantize(clipped.reshape({-1, gs}), perRow).reshape(wg.sizes());
            auto err = (at::einsum("rgk,gkt->rgt", {q, xg}) - orig).pow(2).mean(-1, true);
            auto better = err < bestErr;
            bestErr = at::where(better, err, bestErr);
            best = at::where(better, clipped, best);
        }
        result.slice(0, r0, r1).copy_(best.reshape({r1 - r0, in}));
    }
    return result;
}

std::shared_ptr<IntGroupLinear> awqQuantize(const at::Tensor &weight, const at::Tensor &bias,
                                            const at::Tensor &x, const AwqConfig &cfg,
                                            AwqSearch *search, const at::Tensor &searchWeight)
{
    AwqSearch found = awqSearchScales(searchWeight.defined() ? searchWeight : weight, x, cfg);
    const auto &s = found.scales;
    auto ws = weight.detach().to(at::kFloat) * s.unsqueeze(0);
    if (cfg.clipSearch)
        ws = awqClip(ws, x.detach().reshape({-1, x.size(-1)}).to(at::kFloat) / s, cfg);
    auto op = IntGroupLinear::quantize(ws, bias, cfg.quant);
    op->setInputScale(s.clone());
    op->setMethod("awq");
    if (search)
        *search = std::move(found);
    return op;
}

} // namespace qb

#include "quant/tensor_quant.h"

#include "quant/int8_linear.h"
#include "quant/method_spec.h"
#include "util/error.h"

#include <cmath>

namespace qb {

nlohmann::json TensorQuantResult::toJson() const
{
    nlohmann::json j = {{"method", label},
                        {"weight_bytes", weightBytes},
                        {"bits_per_param", bitsPerParam},
                        {"weight_rel_error", weightRelError}};
    if (hasOutput) {
        j["output_rel_mse"] = outputRelMse;
        j["sqnr_db"] = sqnrDb;
        j["cosine"] = cosine;
        j["max_abs_error"] = maxAbsError;
    }
    if (outlierColumns >= 0)
        j["outlier_columns"] = outlierColumns;
    return j;
}

TensorQuantResult quantizeTensor(const std::vector<float> &weight, int64_t out, int64_t in,
                                 const std::vector<float> &x, int64_t tokens,
                                 const nlohmann::json &specJson)
{
    if (out <= 0 || in <= 0 || static_cast<int64_t>(weight.size()) != out * in)
        throw Error("weight must be a non-empty [out, in] matrix");
    if (tokens > 0 && static_cast<int64_t>(x.size()) != tokens * in)
        throw Error("inputs must be [tokens, " + std::to_string(in) + "]");
    at::NoGradGuard noGrad;
    const MethodSpec spec = MethodSpec::fromJson(specJson, "quant");
    // Double for the statistics: they compare nearly equal float32 matrices.
    auto w = at::from_blob(const_cast<float *>(weight.data()), {out, in}, at::kFloat).clone();
    DenseLinear dense(w);
    LayerCalibration calib;
    at::Tensor xt;
    if (tokens > 0) {
        xt = at::from_blob(const_cast<float *>(x.data()), {tokens, in}, at::kFloat).clone();
        calib.tokens = tokens;
        calib.rows = xt;
        calib.absmax = xt.abs().amax(0);
        auto xd = xt.to(at::kDouble);
        calib.hessian = (at::matmul(xd.t(), xd) * (2.0 / tokens)).to(at::kFloat);
    }
    auto op = quantizeLinear(dense, spec, tokens > 0 ? &calib : nullptr, "quant " + spec.method);
    TensorQuantResult r;
    r.label = spec.label();
    r.weightBytes = op->weightBytes();
    r.bitsPerParam = 8.0 * r.weightBytes / static_cast<double>(out * in);
    auto wq = op->denseWeight().to(at::kFloat).contiguous();
    r.dequantized.assign(wq.data_ptr<float>(), wq.data_ptr<float>() + out * in);
    auto wd = w.to(at::kDouble);
    r.weightRelError = (wq.to(at::kDouble) - wd).norm().item<double>()
        / std::max(1e-300, wd.norm().item<double>());
    if (tokens > 0) {
        auto y = at::matmul(xt.to(at::kDouble), wd.t());
        auto yq = op->forward(xt).to(at::kDouble);
        const double signal = y.pow(2).sum().item<double>();
        const double noise = (y - yq).pow(2).sum().item<double>();
        r.hasOutput = true;
        r.outputRelMse = noise / std::max(1e-300, signal);
        r.sqnrDb = noise > 0 ? 10.0 * std::log10(signal / noise) : INFINITY;
        r.cosine = (y * yq).sum().item<double>()
            / std::max(1e-300, std::sqrt(signal * yq.pow(2).sum().item<double>()));
        r.maxAbsError = (y - yq).abs().max().item<double>();
        if (auto *llm = dynamic_cast<LlmInt8Linear *>(op.get()))
            r.outlierColumns = llm->lastOutlierColumns();
    }
    return r;
}

} // namespace qb

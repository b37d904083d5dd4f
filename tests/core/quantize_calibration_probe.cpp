// Torch side of tst_quantize_calibration; the checks live in tst_quantize_calibration.cpp.
#include "quantize_calibration_probe.h"

#include "model/model_bundle.h"
#include "quant/quant_checkpoint.h"
#include "quant/quantize_model.h"

#include <ATen/ATen.h>

namespace qbprobe {

std::vector<float> logitsOf(const std::string &dir, const Sequences &sequences)
{
    at::NoGradGuard noGrad;
    auto model = qb::loadTransformer(dir);
    const int64_t n = static_cast<int64_t>(sequences.size());
    const int64_t len = static_cast<int64_t>(sequences.front().size());
    auto ids = at::empty({n, len}, at::kLong);
    for (int64_t s = 0; s < n; ++s)
        std::copy(sequences[s].begin(), sequences[s].end(), ids.data_ptr<int64_t>() + s * len);
    auto logits = model->forward(ids).to(at::kFloat).contiguous();
    return {logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel()};
}

double requantizationGap(const std::string &baseDir, const std::string &quantDir,
                         const std::string &paramsJson, const Sequences &sequences)
{
    at::NoGradGuard noGrad;
    const auto p = nlohmann::json::parse(paramsJson);
    qb::QuantSpec spec;
    spec.method = qb::MethodSpec::fromJson(p, "probe");
    spec.include = p["include"].get<std::vector<std::string>>();
    if (spec.include.empty())
        spec.include = {"*"};
    spec.exclude = p["exclude"].get<std::vector<std::string>>();
    spec.maxCalibrationRows = p["max_calibration_rows"];
    auto mine = qb::loadTransformer(baseDir);
    qb::quantizeModel(*mine, spec, sequences);
    auto theirs = qb::loadTransformer(quantDir);
    if (mine->linearNames() != theirs->linearNames())
        return -1;
    double gap = 0;
    for (const auto &name : mine->linearNames()) {
        if (mine->linear(name).kind() != theirs->linear(name).kind())
            return -1;
        const auto d = (mine->linear(name).denseWeight().to(at::kFloat)
                        - theirs->linear(name).denseWeight().to(at::kFloat))
                           .abs()
                           .max()
                           .item<float>();
        gap = std::max(gap, static_cast<double>(d));
    }
    return gap;
}

} // namespace qbprobe

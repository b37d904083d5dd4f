#include "analysis/weight_histogram.h"

#include "kernels/int_group.h"
#include "kernels/nf4.h"
#include "quant/int8_linear.h"
#include "quant/int_group_linear.h"
#include "quant/nf4_linear.h"

#include <algorithm>

namespace qb {

namespace {

std::vector<double> sortedUnique(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

} // namespace

std::vector<double> quantizationLevels(const LinearOp &op, std::string *source)
{
    at::NoGradGuard noGrad;
    const at::Tensor wq = op.denseWeight().detach().to(at::kFloat).contiguous();
    const int64_t in = wq.size(1);
    const int64_t peak = wq.abs().flatten().argmax().item<int64_t>();
    const int64_t row = peak / in, col = peak % in;
    std::vector<double> levels;
    if (const auto *nf = dynamic_cast<const Nf4Linear *>(&op)) {
        const nlohmann::json cfg = nf->config();
        const int64_t block = peak / cfg["block_size"].get<int64_t>();
        const float absmax = nf->absmax()[block].item<float>();
        const auto book
            = cfg["method"] == "nf4" ? kernels::Codebook4::Nf4 : kernels::Codebook4::Fp4;
        const float *values = kernels::codebook4_values(book);
        for (int i = 0; i < 16; ++i)
            levels.push_back(values[i] * absmax);
        *source = "codebook x absmax of block " + std::to_string(block)
            + " (the block holding the largest |w|)";
        return sortedUnique(levels);
    }
    if (const auto *ig = dynamic_cast<const IntGroupLinear *>(&op);
        ig && !ig->permutation().defined() && !ig->inputScale().defined()) {
        const kernels::IntGroupConfig &cfg = ig->intConfig();
        const auto t = ig->tensors();
        const int64_t group = col / kernels::int_group_size(cfg, in);
        const float scale = t.at("scales")[row][group].item<float>();
        const int top = (1 << cfg.bits) - 1;
        const int zero = cfg.symmetric
            ? 1 << (cfg.bits - 1)
            : static_cast<int>(t.at("qzeros")[row][group].item<uint8_t>());
        for (int code = cfg.symmetric ? 1 : 0; code <= top; ++code)
            levels.push_back(static_cast<float>(code - zero) * scale);
        *source = "(code - zero) x scale of row " + std::to_string(row) + ", group "
            + std::to_string(group) + " (the group holding the largest |w|)";
        return sortedUnique(levels);
    }
    if (const auto *i8 = dynamic_cast<const Int8RowLinear *>(&op)) {
        const float scale = i8->scales()[row].item<float>();
        for (int k = -127; k <= 127; ++k)
            levels.push_back(static_cast<float>(k) * scale);
        *source = "k x scale, k = -127..127, of row " + std::to_string(row)
            + " (the row holding the largest |w|)";
        return sortedUnique(levels);
    }
    if (op.kind() == "dense") {
        *source = "none (dense float32 layer)";
        return {};
    }
    const at::Tensor r = wq[row].to(at::kDouble).contiguous();
    levels.assign(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
    *source = "distinct dequantized values of row " + std::to_string(row)
        + " (the row holding the largest |w|)";
    return sortedUnique(levels);
}

WeightHistogram weightHistogram(const std::string &layer, const LinearOp &reference,
                                const LinearOp &quantized, int bins)
{
    at::NoGradGuard noGrad;
    TORCH_CHECK(bins > 0, "weightHistogram: bins must be positive");
    WeightHistogram h;
    h.layer = layer;
    h.kind = quantized.kind();
    const at::Tensor w = reference.denseWeight().detach().to(at::kFloat).flatten();
    const at::Tensor wq = quantized.denseWeight().detach().to(at::kFloat).flatten();
    double lo = std::min(w.min().item<double>(), wq.min().item<double>());
    double hi = std::max(w.max().item<double>(), wq.max().item<double>());
    if (!(hi > lo)) {
        lo -= 0.5;
        hi += 0.5;
    }
    for (int i = 0; i <= bins; ++i)
        h.edges.push_back(lo + (hi - lo) * i / bins);
    // Bin i holds [edge_i, edge_i+1); the top edge belongs to the last bin.
    auto count = [&](const at::Tensor &x) {
        auto idx = ((x.to(at::kDouble) - lo) * (bins / (hi - lo))).floor().clamp(0, bins - 1);
        auto c = at::bincount(idx.to(at::kLong), {}, bins).to(at::kLong).contiguous();
        return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + bins);
    };
    h.reference = count(w);
    h.quantized = count(wq);
    h.levels = quantizationLevels(quantized, &h.levelsSource);
    return h;
}

nlohmann::json WeightHistogram::toJson() const
{
    return {{"layer", layer},           {"kind", kind},       {"bin_edges", edges},
            {"reference_counts", reference}, {"quantized_counts", quantized},
            {"levels", levels},         {"levels_source", levelsSource}};
}

} // namespace qb

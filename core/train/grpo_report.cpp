#include "train/grpo_report.h"

#include "train/grpo_loss.h"
#include "util/error.h"

#include <torch/csrc/autograd/autograd.h>

namespace qb {

namespace {

at::Tensor matrix(const std::vector<float> &v, int64_t rows, int64_t cols, const char *name)
{
    if (int64_t(v.size()) != rows * cols)
        throw Error(std::string(name) + ": " + std::to_string(v.size()) + " values, expected "
                    + std::to_string(rows) + " x " + std::to_string(cols));
    return at::from_blob(const_cast<float *>(v.data()), {rows, cols}, at::kFloat).clone();
}

std::vector<float> values(const at::Tensor &t)
{
    const at::Tensor c = t.detach().to(at::kFloat).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

} // namespace

GrpoReport evaluateGrpo(const GrpoBatch &batch, const GrpoConfig &config)
{
    const int64_t b = batch.batch, t = batch.tokens;
    at::Tensor policy = matrix(batch.policyLogps, b, t, "policy_logps").requires_grad_(true);
    const at::Tensor old = batch.oldLogps.empty() ? policy.detach()
                                                  : matrix(batch.oldLogps, b, t, "old_logps");
    const at::Tensor ref = batch.refLogps.empty() ? at::Tensor()
                                                  : matrix(batch.refLogps, b, t, "ref_logps");
    const at::Tensor mask = matrix(batch.mask, b, t, "completion_mask");
    const at::Tensor rewards = matrix(batch.rewards, 1, b, "rewards").view({b});

    const GrpoLoss l = grpoLoss(policy, old, ref, mask, rewards, config);
    GrpoReport r;
    r.loss = l.loss.item<double>();
    r.meanKl = l.meanKl;
    r.clipFraction = l.clipFraction;
    r.clipLow = l.clipLow;
    r.clipHigh = l.clipHigh;
    r.advantages = values(l.advantages);
    r.gradient = values(torch::autograd::grad({l.loss}, {policy})[0]);
    return r;
}

} // namespace qb

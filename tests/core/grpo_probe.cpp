#include "grpo_probe.h"

#include "train/grpo_loss.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

namespace qbprobe {

namespace {

at::Tensor tensor(const std::vector<float> &v, std::vector<int64_t> shape)
{
    return at::tensor(at::ArrayRef<float>(v), at::kFloat).reshape(shape);
}

std::vector<float> vec(const at::Tensor &t)
{
    const at::Tensor c = t.detach().to(at::kFloat).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

} // namespace

std::vector<float> grpoAdvantages(const std::vector<float> &rewards, int64_t groupSize,
                                  qb::AdvantageScale scale)
{
    return vec(qb::grpoAdvantages(tensor(rewards, {int64_t(rewards.size())}), groupSize, scale));
}

double k3(float logp, float ref)
{
    return qb::k3Kl(tensor({logp}, {1}), tensor({ref}, {1})).item<double>();
}

GrpoRun grpoRun(const std::vector<float> &policy, const std::vector<float> &old,
                const std::vector<float> &ref, const std::vector<float> &mask,
                const std::vector<float> &rewards, int64_t b, int64_t t,
                const qb::GrpoConfig &config)
{
    at::Tensor p = tensor(policy, {b, t}).requires_grad_(true);
    const qb::GrpoLoss l = qb::grpoLoss(p, tensor(old, {b, t}),
                                        ref.empty() ? at::Tensor() : tensor(ref, {b, t}),
                                        tensor(mask, {b, t}), tensor(rewards, {b}), config);
    l.loss.backward();
    GrpoRun r;
    r.loss = l.loss.item<double>();
    r.meanKl = l.meanKl;
    r.clipFraction = l.clipFraction;
    r.clipLow = l.clipLow;
    r.clipHigh = l.clipHigh;
    r.advantages = vec(l.advantages);
    r.grad = vec(p.grad());
    return r;
}

} // namespace qbprobe

#include "train/grpo_loss.h"

#include "util/error.h"

namespace qb {

namespace {

constexpr double kStdEps = 1e-4; // TRL's constant under the std

std::string shapeOf(const at::Tensor &t)
{
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i)
        s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}

void checkShape(const at::Tensor &t, const char *name, int64_t b, int64_t tokens)
{
    if (!t.defined())
        throw Error(std::string(name) + " is missing");
    if (t.dim() != 2 || t.size(0) != b || t.size(1) != tokens)
        throw Error(std::string(name) + " has shape " + shapeOf(t) + ", expected ["
                    + std::to_string(b) + ", " + std::to_string(tokens) + "]");
}

} // namespace

at::Tensor grpoAdvantages(const at::Tensor &rewards, int64_t groupSize, AdvantageScale scale)
{
    if (groupSize < 2)
        throw Error("group size must be at least 2, got " + std::to_string(groupSize));
    if (rewards.dim() != 1 || rewards.size(0) == 0 || rewards.size(0) % groupSize != 0)
        throw Error("rewards has shape " + shapeOf(rewards) + ": B must be a positive multiple of "
                    "the group size " + std::to_string(groupSize));
    // float64 so that the advantages do not depend on the order of the float32 sums.
    const at::Tensor r = rewards.detach().to(at::kDouble);
    const at::Tensor groups = r.view({-1, groupSize});
    at::Tensor a = (groups - groups.mean(1, true)).reshape({-1});
    if (scale == AdvantageScale::Group)
        a = a / (groups.std(1, true, true).repeat_interleave(groupSize) + kStdEps);
    else if (scale == AdvantageScale::Batch)
        a = a / (r.std() + kStdEps);
    return a.to(at::kFloat);
}

at::Tensor k3Kl(const at::Tensor &logp, const at::Tensor &ref)
{
    const at::Tensor d = ref - logp;
    return at::exp(d) - d - 1;
}

GrpoLoss grpoLoss(const at::Tensor &policyLogps, const at::Tensor &oldLogps,
                  const at::Tensor &refLogps, const at::Tensor &mask, const at::Tensor &rewards,
                  const GrpoConfig &config)
{
    if (!policyLogps.defined() || policyLogps.dim() != 2)
        throw Error("policy_logps must be [B, T], got "
                    + (policyLogps.defined() ? shapeOf(policyLogps) : std::string("nothing")));
    const int64_t b = policyLogps.size(0);
    const int64_t t = policyLogps.size(1);
    checkShape(oldLogps, "old_logps", b, t);
    checkShape(mask, "completion_mask", b, t);
    if (config.beta > 0)
        checkShape(refLogps, "ref_logps", b, t);
    if (!rewards.defined() || rewards.dim() != 1 || rewards.size(0) != b)
        throw Error("rewards must be [" + std::to_string(b) + "], got "
                    + (rewards.defined() ? shapeOf(rewards) : std::string("nothing")));

    GrpoLoss out;
    out.advantages = grpoAdvantages(rewards, config.groupSize, config.scale);
    const at::Tensor adv = out.advantages.to(policyLogps.dtype()).unsqueeze(1); // [B, 1]
    const at::Tensor m = mask.to(policyLogps.dtype());
    const at::Tensor tokens = m.sum().clamp_min(1);

    // Differences are zeroed at padding before exp(), so that whatever padding holds (even inf
    // or NaN) gives a finite term there and a zero gradient; multiplying by the mask alone would
    // turn inf * 0 into NaN.
    const at::Tensor active = m > 0;
    const at::Tensor zeros = at::zeros_like(m);
    const at::Tensor ratio = at::exp(at::where(active, policyLogps - oldLogps.detach(), zeros));
    const at::Tensor clipped = at::clamp(ratio, 1 - config.epsilonLow, 1 + config.epsilonHigh);
    at::Tensor perToken = -at::minimum(ratio * adv, clipped * adv);
    if (config.beta > 0) {
        const at::Tensor d = at::where(active, refLogps.detach() - policyLogps, zeros);
        const at::Tensor kl = at::exp(d) - d - 1; // k3Kl
        perToken = perToken + config.beta * kl;
        out.meanKl = ((kl.detach() * m).sum() / tokens).item<double>();
    }

    const at::Tensor masked = perToken * m;
    switch (config.loss) {
    case LossType::Grpo:
        out.loss = (masked.sum(1) / m.sum(1).clamp_min(1)).mean();
        break;
    case LossType::Bnpo:
    case LossType::Dapo:
        out.loss = masked.sum() / tokens;
        break;
    case LossType::DrGrpo: {
        const int64_t length = config.maxCompletionLength > 0 ? config.maxCompletionLength : t;
        out.loss = masked.sum() / double(b * length);
        break;
    }
    }

    const at::Tensor r = ratio.detach();
    const at::Tensor low = (r < 1 - config.epsilonLow) & (adv < 0);
    const at::Tensor high = (r > 1 + config.epsilonHigh) & (adv > 0);
    out.clipLow = ((low.to(m.dtype()) * m).sum() / tokens).item<double>();
    out.clipHigh = ((high.to(m.dtype()) * m).sum() / tokens).item<double>();
    out.clipFraction = out.clipLow + out.clipHigh;
    return out;
}

} // namespace qb

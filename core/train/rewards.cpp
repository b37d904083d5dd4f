#include "train/rewards.h"

#include "data/steps.h"
#include "eval/evaluator.h"
#include "util/error.h"

#include <algorithm>

using nlohmann::json;

namespace qb {

const char *rewardPartName(RewardPart part)
{
    switch (part) {
    case RewardPart::Correctness: return "correctness";
    case RewardPart::Format: return "format";
    case RewardPart::Length: return "length";
    case RewardPart::Steps: return "steps";
    }
    return "?";
}

RewardConfig RewardConfig::fromJson(const json &j, const std::string &where)
{
    if (!j.is_object())
        throw Error(where + ": expected a mapping of reward weights");
    RewardConfig c;
    c.weights.fill(0.0);
    bool any = false;
    for (const auto &[key, value] : j.items()) {
        if (key == "overlong_buffer") {
            if (!value.is_number_integer() || value.get<int64_t>() < 1)
                throw Error(where + ".overlong_buffer: expected an integer >= 1");
            c.overlongBuffer = value.get<int64_t>();
            continue;
        }
        int part = -1;
        for (int p = 0; p < kRewardParts; ++p)
            if (key == rewardPartName(static_cast<RewardPart>(p)))
                part = p;
        if (part < 0)
            throw Error(where + ": unknown reward '" + key
                        + "' (correctness, format, length, steps, overlong_buffer)");
        if (!value.is_number() || value.get<double>() < 0)
            throw Error(where + "." + key + ": expected a weight >= 0");
        c.weights[part] = value.get<double>();
        any = any || c.weights[part] > 0;
    }
    if (!any)
        throw Error(where + ": every reward weight is 0; nothing would be learned");
    return c;
}

RewardScore scoreRollout(const eval::QuestionSet &set, size_t i, const Rollout &r,
                         int64_t maxTokens, const RewardConfig &config)
{
    RewardScore s;
    const data::AnswerCheck check = eval::scoreCompletion(set, i, r.text);
    const eval::EvalQuestion &q = set.questions.at(i);
    auto &p = s.parts;
    p[int(RewardPart::Correctness)] = check.strict.parsed && check.strict.answer == q.gold;
    p[int(RewardPart::Format)] = check.strict.parsed ? 1.0 : 0.0;
    const int64_t buffer = std::min(config.overlongBuffer, maxTokens);
    const int64_t safe = maxTokens - buffer;
    double length = 0.0;
    if (r.truncated)
        length = -1.0;
    else if (r.tokens > safe)
        length = std::max(-1.0, double(safe - r.tokens) / double(buffer));
    p[int(RewardPart::Length)] = length;
    if (set.task == eval::Task::Gsm8k)
        p[int(RewardPart::Steps)] =
            data::scoreSteps(r.text, data::stepResults(q.gsm.solution)).fraction();
    for (int k = 0; k < kRewardParts; ++k)
        s.total += config.weights[k] * p[k];
    return s;
}

} // namespace qb

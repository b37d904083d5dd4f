#include "train/grpo_config.h"

#include "util/error.h"

namespace qb {

std::string lossTypeName(LossType type)
{
    switch (type) {
    case LossType::Grpo: return "grpo";
    case LossType::Bnpo: return "bnpo";
    case LossType::DrGrpo: return "dr_grpo";
    case LossType::Dapo: return "dapo";
    }
    return "?";
}

LossType lossTypeFromName(const std::string &name)
{
    for (LossType t : {LossType::Grpo, LossType::Bnpo, LossType::DrGrpo, LossType::Dapo})
        if (lossTypeName(t) == name)
            return t;
    throw Error("unknown loss type '" + name + "' (choices: grpo, bnpo, dr_grpo, dapo)");
}

std::string advantageScaleName(AdvantageScale scale)
{
    switch (scale) {
    case AdvantageScale::Group: return "group";
    case AdvantageScale::Batch: return "batch";
    case AdvantageScale::None: return "none";
    }
    return "?";
}

AdvantageScale advantageScaleFromName(const std::string &name)
{
    for (AdvantageScale s : {AdvantageScale::Group, AdvantageScale::Batch, AdvantageScale::None})
        if (advantageScaleName(s) == name)
            return s;
    throw Error("unknown advantage scale '" + name + "' (choices: group, batch, none)");
}

} // namespace qb

// quantbench-cli rl loss: the GRPO objective (core/train/grpo_loss.h, TRL's GRPOTrainer loss) of a
// batch of scored completions saved as safetensors, with its advantages, KL and clip fraction.
// The tensors are checked here so that a bad file is reported with its path and tensor name.
#include "cli/args.h"
#include "cli/commands.h"
#include "io/safetensors.h"
#include "train/grpo_report.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace qbcli {

namespace {

using Json = nlohmann::ordered_json;

const char *kRlHelp
    = "usage: quantbench-cli rl loss --input BATCH.safetensors [options]\n\n"
      "Computes the GRPO objective of one batch as TRL's GRPOTrainer does and prints the loss,\n"
      "the mean KL to the reference, the clip fraction and each completion's advantage.\n\n"
      "BATCH.safetensors holds (B completions, T completion tokens, padded):\n"
      "  policy_logps     [B, T] float   log-probabilities (nats) of the completion tokens under\n"
      "                                  the policy being trained\n"
      "  old_logps        [B, T] float   the same under the policy that sampled them (optional:\n"
      "                                  default policy_logps, one update per batch, ratio 1)\n"
      "  ref_logps        [B, T] float   the same under the reference policy (needed when\n"
      "                                  --beta > 0)\n"
      "  completion_mask  [B, T] 0/1     1 for completion tokens, 0 for padding (float32, uint8,\n"
      "                                  int32 or int64)\n"
      "  rewards          [B]    float   one reward per completion; the G completions of a\n"
      "                                  prompt are consecutive\n\n"
      "options:\n"
      "  --input FILE               the batch (required)\n"
      "  --loss L                   grpo, bnpo, dr_grpo or dapo (default dapo, as TRL):\n"
      "                               grpo     mean over sequences of the per-sequence token mean\n"
      "                               bnpo     sum over tokens / completion tokens in the batch\n"
      "                               dapo     as bnpo on one process\n"
      "                               dr_grpo  sum over tokens / (B * max completion length)\n"
      "  --beta B                   weight of the k3 KL to ref_logps (default 0)\n"
      "  --epsilon E                clip the ratio below at 1 - E (default 0.2), and above\n"
      "                             unless --epsilon-high is given\n"
      "  --epsilon-high E           clip the ratio above at 1 + E (default: --epsilon)\n"
      "  --scale S                  advantage scaling: group (default), batch or none; the std\n"
      "                             is Bessel-corrected, plus 1e-4\n"
      "  --group-size G             completions per prompt (default 8, TRL's num_generations)\n"
      "  --max-completion-length L  dr_grpo's normaliser (default T)\n"
      "  --json                     print one JSON object instead of the table\n\n"
      "The clip fraction counts completion tokens where the clipped term binds: ratio below\n"
      "1 - epsilon with a negative advantage (clip_low) or above 1 + epsilon-high with a positive\n"
      "one (clip_high); those tokens give no gradient. mean_kl is 0 when --beta is 0.\n"
      "A missing tensor, a wrong shape or a B that is not a multiple of G is an error naming the\n"
      "file and the tensor (exit code 1).\n";

struct BatchReader
{
    const qb::io::SafetensorsFile &file;

    std::string where(const std::string &name) const
    {
        return file.path().string() + ": tensor '" + name + "'";
    }

    std::string shapeString(const std::vector<int64_t> &shape) const
    {
        std::string s = "[";
        for (size_t i = 0; i < shape.size(); ++i)
            s += (i ? ", " : "") + std::to_string(shape[i]);
        return s + "]";
    }

    // The tensor's values, or empty when it is absent and optional.
    std::vector<float> read(const std::string &name, const std::vector<int64_t> &shape,
                            bool required) const
    {
        const qb::io::TensorInfo *info = file.find(name);
        if (!info) {
            if (required)
                throw qb::Error(where(name) + " is missing");
            return {};
        }
        if (info->shape != shape)
            throw qb::Error(where(name) + " has shape " + shapeString(info->shape) + ", expected "
                            + shapeString(shape) + " (B, T from policy_logps)");
        return file.readFloat32(*info);
    }
};

qb::GrpoConfig configOf(const Args &args)
{
    qb::GrpoConfig c;
    try {
        c.loss = qb::lossTypeFromName(args.value("loss").value_or("dapo"));
        c.scale = qb::advantageScaleFromName(args.value("scale").value_or("group"));
    } catch (const qb::Error &e) {
        throw UsageError(e.what());
    }
    c.beta = args.number("beta", 0.0);
    c.epsilonLow = args.number("epsilon", 0.2);
    c.epsilonHigh = args.number("epsilon-high", c.epsilonLow);
    c.groupSize = args.integer("group-size", 8);
    c.maxCompletionLength = args.integer("max-completion-length", 0);
    if (c.beta < 0)
        throw UsageError("--beta must be >= 0");
    if (c.epsilonLow < 0 || c.epsilonHigh < 0)
        throw UsageError("--epsilon and --epsilon-high must be >= 0");
    if (c.groupSize < 2)
        throw UsageError("--group-size must be at least 2");
    if (c.maxCompletionLength < 0)
        throw UsageError("--max-completion-length must be >= 0");
    return c;
}

std::string fixed(double v, int digits = 6)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

} // namespace

int cmdRl(const std::vector<std::string> &argv)
{
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::cout << kRlHelp;
        return argv.empty() ? 2 : 0;
    }
    if (argv[0] != "loss")
        throw UsageError("unknown rl subcommand '" + argv[0] + "' (expected: loss)");
    Args args({argv.begin() + 1, argv.end()},
              {"input", "loss", "beta", "epsilon", "epsilon-high", "scale", "group-size",
               "max-completion-length"},
              {"json", "help"});
    if (args.flag("help")) {
        std::cout << kRlHelp;
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const std::string input = args.required("input");
    const qb::GrpoConfig config = configOf(args);

    const qb::io::SafetensorsFile file = qb::io::SafetensorsFile::open(input);
    const BatchReader reader{file};
    const qb::io::TensorInfo *policy = file.find("policy_logps");
    if (!policy)
        throw qb::Error(reader.where("policy_logps") + " is missing");
    if (policy->shape.size() != 2)
        throw qb::Error(reader.where("policy_logps") + " has shape "
                        + reader.shapeString(policy->shape) + ", expected [B, T]");
    qb::GrpoBatch batch;
    batch.batch = policy->shape[0];
    batch.tokens = policy->shape[1];
    const std::vector<int64_t> bt{batch.batch, batch.tokens};
    batch.policyLogps = file.readFloat32(*policy);
    batch.oldLogps = reader.read("old_logps", bt, false);
    batch.refLogps = reader.read("ref_logps", bt, config.beta > 0);
    batch.mask = reader.read("completion_mask", bt, true);
    batch.rewards = reader.read("rewards", {batch.batch}, true);
    for (float m : batch.mask)
        if (m != 0.0f && m != 1.0f)
            throw qb::Error(reader.where("completion_mask") + " holds " + fixed(m, 4)
                            + "; expected only 0 and 1");
    if (batch.batch == 0 || batch.batch % config.groupSize != 0)
        throw qb::Error(reader.where("rewards") + ": B = " + std::to_string(batch.batch)
                        + " is not a positive multiple of --group-size "
                        + std::to_string(config.groupSize));

    const qb::GrpoReport r = qb::evaluateGrpo(batch, config);
    double completionTokens = 0;
    for (float m : batch.mask)
        completionTokens += m;

    if (args.flag("json")) {
        Json j;
        j["input"] = input;
        j["loss_type"] = qb::lossTypeName(config.loss);
        j["scale_rewards"] = qb::advantageScaleName(config.scale);
        j["batch"] = batch.batch;
        j["tokens"] = batch.tokens;
        j["group_size"] = config.groupSize;
        j["completion_tokens"] = int64_t(completionTokens);
        j["loss"] = r.loss;
        j["mean_kl"] = r.meanKl;
        j["clip_fraction"] = r.clipFraction;
        j["clip_low"] = r.clipLow;
        j["clip_high"] = r.clipHigh;
        j["advantages"] = r.advantages;
        std::cout << j.dump() << "\n";
        return 0;
    }
    std::cout << "batch " << batch.batch << " x " << batch.tokens << " ("
              << int64_t(completionTokens) << " completion tokens), group size "
              << config.groupSize << ", loss " << qb::lossTypeName(config.loss) << ", scale "
              << qb::advantageScaleName(config.scale) << "\n\n"
              << "loss            " << fixed(r.loss) << "\n"
              << "mean_kl         " << fixed(r.meanKl) << "\n"
              << "clip_fraction   " << fixed(r.clipFraction) << "  (low " << fixed(r.clipLow)
              << ", high " << fixed(r.clipHigh) << ")\n\n"
              << "  i  prompt       reward    advantage\n";
    for (int64_t i = 0; i < batch.batch; ++i) {
        char line[96];
        std::snprintf(line, sizeof line, "%3lld  %6lld  %11.6f  %11.6f\n", (long long)i,
                      (long long)(i / config.groupSize), batch.rewards[size_t(i)],
                      r.advantages[size_t(i)]);
        std::cout << line;
    }
    return 0;
}

} // namespace qbcli

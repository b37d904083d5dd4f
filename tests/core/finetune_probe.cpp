// Torch side of tst_finetune.
#include "finetune_probe.h"

#include "api/model_handle.h"
#include "data/gsm_generator.h"
#include "eval/question_set.h"
#include "model/model_bundle.h"
#include "quant/method_spec.h"
#include "quant/quant_checkpoint.h"
#include "quant/quantize_model.h"
#include "train/finetune.h"
#include "train/lora.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ftprobe {

namespace {

std::vector<float> flat(const at::Tensor &t)
{
    const at::Tensor c = t.detach().to(at::kFloat).contiguous().reshape({-1});
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

} // namespace

Run runMicro(const std::string &method, int steps, double lr, int stopAt,
             const std::string &resumeDir, const std::string &workDir)
{
    const fs::path base = fs::path(workDir) / "base";
    if (!fs::exists(base / "config.json")) {
        qb::ModelHandle::random(R"({"vocab_size": 256, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "eos_token_id": 0, "max_position_embeddings": 256})", 11)
            .save(base);
        // The quantized base of qlora/qalora.
        auto model = qb::loadTransformer(base);
        qb::QuantSpec spec;
        spec.method = qb::MethodSpec::fromJson({{"method", "int"}, {"bits", 4}, {"group_size", 32}},
                                               "probe");
        qb::quantizeModel(*model, spec, {});
        qb::saveQuantizedModel(*model, fs::path(workDir) / "int4", {{"label", "int4-g32"}});
    }
    const fs::path from = method == "qat" ? base : fs::path(workDir) / "int4";
    qb::ModelBundle bundle = qb::loadModelBundle(from);

    // The head is a target too (but for qalora, whose targets must be INT-k): a random model's
    // loss then falls within a few steps.
    qb::FinetuneRecipe r = qb::FinetuneRecipe::fromJson(
        {{"method", method}, {"rank", 4}, {"alpha", 8}, {"dropout", 0.1}, {"steps", steps},
         {"batch_size", 4}, {"lr", lr}, {"warmup", 2}, {"max_seq_len", 256}, {"eval_every", 0},
         {"checkpoint_every", 5},
         {"targets", method == "qalora" ? nlohmann::json{"*"} : nlohmann::json{"*", "lm_head"}},
         {"qat", {{"method", "int"}, {"bits", 4}, {"group_size", 32}}}});
    qb::data::GsmGeneratorOptions g;
    const auto train = qb::eval::gsmQuestions(
        qb::data::recordsOf(qb::data::generateGsmProblems(g, qb::data::Split::Train, 32)), {});

    Run run;
    qb::FinetuneHooks hooks;
    hooks.onStep = [&](int64_t step, int64_t, double loss, double, double, double) {
        run.losses.push_back(loss);
        if (stopAt >= 0 && step == stopAt)
            throw qb::Cancelled();
    };
    try {
        const auto result = qb::finetune(bundle, r, {train}, {}, resumeDir, hooks);
        run.summaryJson = result.summary.dump();
    } catch (const std::exception &e) {
        run.error = e.what();
        return run;
    }
    for (const auto &name : bundle.model->linearNames())
        for (auto &t : bundle.model->linear(name).trainableParameters()) {
            const auto v = flat(t);
            run.trainable.insert(run.trainable.end(), v.begin(), v.end());
        }
    if (method != "qat")
        for (auto &[name, op] : qb::loraLayers(*bundle.model))
            for (const at::Tensor *t : {&op->loraA(), &op->loraB()}) {
                const auto v = flat(*t);
                run.trainable.insert(run.trainable.end(), v.begin(), v.end());
            }
    const at::Tensor ids = at::arange(1, 20, at::kLong).reshape({1, -1});
    at::NoGradGuard noGrad;
    run.logits = flat(bundle.model->forward(ids));
    if (method == "qlora") {
        const fs::path out = fs::path(workDir) / "adapter";
        qb::saveLoraAdapter(*bundle.model, r.lora, out, fs::absolute(from).string());
        auto reloaded = qb::loadModelBundle(out);
        run.reloaded = flat(reloaded.model->forward(ids));
    }
    return run;
}

} // namespace ftprobe

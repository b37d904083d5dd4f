// QuantBench's logits for a .gguf file (imported through loadModelBundle) on a sample text.
// usage: qb_logits FILE.gguf OUT_PREFIX   -> OUT_PREFIX.ids (int32) and OUT_PREFIX.logits (f32)
#include "model/model_bundle.h"
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <cstdio>
int main(int argc, char **argv)
{
    at::set_num_threads(1);
    auto b = qb::loadModelBundle(argv[1]);
    const std::string text = "Tom has 12 apples. He buys 7 more apples and gives 3 to Ann.\nHow many apples does Tom have now?";
    auto ids = b.codec->encode(text);
    std::vector<int32_t> ids32(ids.begin(), ids.end());
    at::NoGradGuard g;
    auto logits = b.model->forward(at::tensor(ids, at::kLong).unsqueeze(0)).contiguous();
    std::string p = argv[2];
    FILE *f = fopen((p + ".ids").c_str(), "wb");
    fwrite(ids32.data(), 4, ids32.size(), f);
    fclose(f);
    f = fopen((p + ".logits").c_str(), "wb");
    fwrite(logits.data_ptr<float>(), 4, logits.numel(), f);
    fclose(f);
    printf("%zu tokens, vocab %lld, kind of blk0 q: %s\n", ids.size(), (long long)logits.size(2),
           b.model->linear("model.layers.0.self_attn.q_proj").kind().c_str());
}

// The llama/qwen2 forward pass written with ggml ops (ggml_rope_ext mode 0 for llama = GGML's
// interleaved rotary, NEOX for qwen2; rms_norm; GQA by mul_mat broadcasting) over the tensors of
// a QuantBench .gguf file as ggml loads them, compared with QuantBench's own logits.
// usage: forward FILE.gguf PREFIX   (PREFIX.ids, PREFIX.logits from qb_logits)
#include "ggml.h"
#include "ggml-cpu.h"
#include "gguf.h"

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

static gguf_context *g;
static ggml_context *w;
static uint32_t u32(const std::string &k) { return gguf_get_val_u32(g, gguf_find_key(g, k.c_str())); }
static float f32(const std::string &k) { return gguf_get_val_f32(g, gguf_find_key(g, k.c_str())); }
static ggml_tensor *T(const std::string &n) { return ggml_get_tensor(w, n.c_str()); }

int main(int argc, char **argv)
{
    gguf_init_params p{false, &w};
    g = gguf_init_from_file(argv[1], p);
    if (!g) { printf("ggml could not open %s\n", argv[1]); return 1; }
    const std::string arch = gguf_get_val_str(g, gguf_find_key(g, "general.architecture"));
    const int nEmbd = u32(arch + ".embedding_length"), nLayer = u32(arch + ".block_count");
    const int nHead = u32(arch + ".attention.head_count"), nKv = u32(arch + ".attention.head_count_kv");
    const int nRot = u32(arch + ".rope.dimension_count"), nCtx = u32(arch + ".context_length");
    const int hd = nEmbd / nHead;
    const float eps = f32(arch + ".attention.layer_norm_rms_epsilon"), base = f32(arch + ".rope.freq_base");
    int mode = arch == "qwen2" ? GGML_ROPE_TYPE_NEOX : 0;
    if (getenv("FORCE_ROPE_MODE")) mode = atoi(getenv("FORCE_ROPE_MODE")); // control: the wrong rotary must fail

    std::string prefix = argv[2];
    std::vector<int32_t> ids;
    FILE *f = fopen((prefix + ".ids").c_str(), "rb");
    for (int32_t v; fread(&v, 4, 1, f) == 1;) ids.push_back(v);
    fclose(f);
    const int n = ids.size();

    ggml_init_params cp{size_t(512) << 20, nullptr, false};
    ggml_context *c = ggml_init(cp);
    ggml_tensor *inp = ggml_new_tensor_1d(c, GGML_TYPE_I32, n);
    ggml_tensor *pos = ggml_new_tensor_1d(c, GGML_TYPE_I32, n);
    for (int i = 0; i < n; ++i) { ((int32_t *)inp->data)[i] = ids[i]; ((int32_t *)pos->data)[i] = i; }
    auto addBias = [&](ggml_tensor *x, const std::string &name) {
        ggml_tensor *b = T(name);
        return b ? ggml_add(c, x, b) : x;
    };
    ggml_tensor *x = ggml_get_rows(c, T("token_embd.weight"), inp);
    for (int l = 0; l < nLayer; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        ggml_tensor *cur = ggml_mul(c, ggml_rms_norm(c, x, eps), T(b + "attn_norm.weight"));
        ggml_tensor *q = addBias(ggml_mul_mat(c, T(b + "attn_q.weight"), cur), b + "attn_q.bias");
        ggml_tensor *k = addBias(ggml_mul_mat(c, T(b + "attn_k.weight"), cur), b + "attn_k.bias");
        ggml_tensor *v = addBias(ggml_mul_mat(c, T(b + "attn_v.weight"), cur), b + "attn_v.bias");
        q = ggml_rope_ext(c, ggml_reshape_3d(c, q, hd, nHead, n), pos, nullptr, nRot, mode, nCtx, base,
                          1.0f, 0.0f, 1.0f, 0.0f, 0.0f);
        k = ggml_rope_ext(c, ggml_reshape_3d(c, k, hd, nKv, n), pos, nullptr, nRot, mode, nCtx, base,
                          1.0f, 0.0f, 1.0f, 0.0f, 0.0f);
        v = ggml_reshape_3d(c, v, hd, nKv, n);
        ggml_tensor *Q = ggml_cont(c, ggml_permute(c, q, 0, 2, 1, 3)); // [hd, n, nHead]
        ggml_tensor *K = ggml_cont(c, ggml_permute(c, k, 0, 2, 1, 3)); // [hd, n, nKv]
        ggml_tensor *kq = ggml_mul_mat(c, K, Q);                       // [n_k, n_q, nHead]
        kq = ggml_soft_max_ext(c, ggml_diag_mask_inf(c, kq, 0), nullptr, 1.0f / std::sqrt(float(hd)), 0.0f);
        ggml_tensor *Vt = ggml_cont(c, ggml_permute(c, v, 1, 2, 0, 3)); // [n_k, hd, nKv]
        ggml_tensor *o = ggml_mul_mat(c, Vt, kq);                       // [hd, n_q, nHead]
        o = ggml_cont_2d(c, ggml_permute(c, o, 0, 2, 1, 3), hd * nHead, n);
        o = addBias(ggml_mul_mat(c, T(b + "attn_output.weight"), o), b + "attn_output.bias");
        x = ggml_add(c, x, o);
        cur = ggml_mul(c, ggml_rms_norm(c, x, eps), T(b + "ffn_norm.weight"));
        ggml_tensor *h = ggml_mul(c, ggml_silu(c, ggml_mul_mat(c, T(b + "ffn_gate.weight"), cur)),
                                  ggml_mul_mat(c, T(b + "ffn_up.weight"), cur));
        x = ggml_add(c, x, ggml_mul_mat(c, T(b + "ffn_down.weight"), h));
    }
    x = ggml_mul(c, ggml_rms_norm(c, x, eps), T("output_norm.weight"));
    ggml_tensor *out = T("output.weight") ? T("output.weight") : T("token_embd.weight");
    ggml_tensor *logits = ggml_mul_mat(c, out, x);
    ggml_cgraph *gf = ggml_new_graph_custom(c, 4096, false);
    ggml_build_forward_expand(gf, logits);
    ggml_graph_compute_with_ctx(c, gf, 1);

    const int vocab = logits->ne[0];
    std::vector<float> ref(size_t(vocab) * n);
    f = fopen((prefix + ".logits").c_str(), "rb");
    fread(ref.data(), 4, ref.size(), f);
    fclose(f);
    double maxDiff = 0, maxAbs = 0;
    int agree = 0;
    for (int t = 0; t < n; ++t) {
        const float *a = (const float *)logits->data + size_t(t) * vocab, *r = ref.data() + size_t(t) * vocab;
        int am = 0, rm = 0;
        for (int i = 0; i < vocab; ++i) {
            maxDiff = std::fmax(maxDiff, std::fabs(a[i] - r[i]));
            maxAbs = std::fmax(maxAbs, std::fabs(r[i]));
            if (a[i] > a[am]) am = i;
            if (r[i] > r[rm]) rm = i;
        }
        agree += am == rm;
    }
    printf("%s (%s, rope mode %d): %d tokens, max |ggml - quantbench| logit %.3g (max |logit| %.3g), "
           "argmax agrees at %d of %d positions\n",
           argv[1], arch.c_str(), mode, n, maxDiff, maxAbs, agree, n);
    return 0;
}

// Outside check of QuantBench's GGUF files with ggml's own reader and type traits.
// usage: check QUANT.gguf [F32.gguf]
#include "ggml.h"
#include "gguf.h"
#include "io/gguf.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static std::string value(gguf_context *g, int64_t k)
{
    const auto t = gguf_get_kv_type(g, k);
    char buf[128];
    switch (t) {
    case GGUF_TYPE_UINT32: snprintf(buf, sizeof buf, "%u", gguf_get_val_u32(g, k)); return buf;
    case GGUF_TYPE_INT32: snprintf(buf, sizeof buf, "%d", gguf_get_val_i32(g, k)); return buf;
    case GGUF_TYPE_FLOAT32: snprintf(buf, sizeof buf, "%g", gguf_get_val_f32(g, k)); return buf;
    case GGUF_TYPE_BOOL: return gguf_get_val_bool(g, k) ? "true" : "false";
    case GGUF_TYPE_STRING: {
        std::string s = gguf_get_val_str(g, k);
        if (s.size() > 60)
            s = s.substr(0, 60) + "... (" + std::to_string(s.size()) + " bytes)";
        for (auto &c : s) if (c == '\n') c = ' ';
        return "\"" + s + "\"";
    }
    case GGUF_TYPE_ARRAY: {
        const auto at = gguf_get_arr_type(g, k);
        const size_t n = gguf_get_arr_n(g, k);
        std::string s = std::string("[") + gguf_type_name(at) + " x " + std::to_string(n) + "]";
        if (at == GGUF_TYPE_STRING && n > 4)
            s += " " + std::string(gguf_get_arr_str(g, k, 0)) + ", " + gguf_get_arr_str(g, k, 1)
                + ", ..., " + gguf_get_arr_str(g, k, n - 1);
        return s;
    }
    default: return std::string("<") + gguf_type_name(t) + ">";
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    ggml_context *ctx = nullptr;
    gguf_init_params p{false, &ctx};
    gguf_context *g = gguf_init_from_file(argv[1], p);
    if (!g) { printf("ggml could not open %s\n", argv[1]); return 1; }
    printf("ggml opened %s: version %u, alignment %zu, data offset %zu, %lld KV, %lld tensors\n",
           argv[1], gguf_get_version(g), gguf_get_alignment(g), gguf_get_data_offset(g),
           (long long)gguf_get_n_kv(g), (long long)gguf_get_n_tensors(g));
    for (int64_t k = 0; k < gguf_get_n_kv(g); ++k)
        printf("  kv %-42s %-7s %s\n", gguf_get_key(g, k), gguf_type_name(gguf_get_kv_type(g, k)),
               value(g, k).c_str());
    ggml_context *fctx = nullptr;
    gguf_context *fg = nullptr;
    if (argc > 2) {
        gguf_init_params fp{false, &fctx};
        fg = gguf_init_from_file(argv[2], fp);
    }
    const auto ours = qb::io::GgufFile::open(argv[1]);
    double worstDecode = 0;
    long long blocksDiff = 0, blocksTotal = 0;
    for (int64_t t = 0; t < gguf_get_n_tensors(g); ++t) {
        const char *name = gguf_get_tensor_name(g, t);
        ggml_tensor *x = ggml_get_tensor(ctx, name);
        const auto type = x->type;
        const int64_t n = ggml_nelements(x);
        std::vector<float> theirs(n);
        if (type == GGML_TYPE_F32)
            memcpy(theirs.data(), x->data, n * 4);
        else
            ggml_get_type_traits(type)->to_float(x->data, theirs.data(), n);
        const auto mine = ours.readFloat32(*ours.findTensor(name));
        double d = 0;
        for (int64_t i = 0; i < n; ++i) d = std::fmax(d, std::fabs(theirs[i] - mine[i]));
        worstDecode = std::fmax(worstDecode, d);
        std::string requant;
        if (fctx && type == GGML_TYPE_F16) {
            ggml_tensor *f = ggml_get_tensor(fctx, name);
            std::vector<ggml_fp16_t> h(n);
            ggml_fp32_to_fp16_row((const float *)f->data, h.data(), n);
            long long diff = 0;
            for (int64_t i = 0; i < n; ++i)
                diff += h[i] != ((const ggml_fp16_t *)x->data)[i];
            requant = " ggml_fp32_to_fp16_row from the f32 file: " + std::to_string(diff)
                + " of " + std::to_string(n) + " values differ";
        }
        if (fctx && ggml_is_quantized(type)) {
            ggml_tensor *f = ggml_get_tensor(fctx, name);
            const int64_t row = x->ne[0], rows = n / row;
            std::vector<uint8_t> buf(ggml_row_size(type, row) * rows);
            ggml_quantize_chunk(type, (const float *)f->data, buf.data(), 0, rows, row, nullptr);
            const size_t bs = ggml_type_size(type);
            long long diff = 0;
            for (size_t b = 0; b < buf.size() / bs; ++b)
                diff += memcmp(buf.data() + b * bs, (const uint8_t *)x->data + b * bs, bs) != 0;
            blocksDiff += diff;
            blocksTotal += buf.size() / bs;
            requant = " ggml requantized from the f32 file: " + std::to_string(diff) + " of "
                + std::to_string(buf.size() / bs) + " blocks differ";
        }
        printf("  tensor %-24s %-5s ne {%lld, %lld} offset %zu max|ggml - ours| %g%s\n", name,
               ggml_type_name(type), (long long)x->ne[0], (long long)x->ne[1],
               gguf_get_tensor_offset(g, t), d, requant.c_str());
    }
    printf("largest |ggml to_float - quantbench decode| over all tensors: %g\n", worstDecode);
    if (fctx)
        printf("blocks where ggml's quantizer and ours differ: %lld of %lld\n", blocksDiff, blocksTotal);
    return 0;
}

#include "model/gguf_import.h"

#include "io/gguf.h"
#include "kernels/gguf_blocks.h"
#include "quant/int_group_linear.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace fs = std::filesystem;

namespace qb {

namespace {

using io::GgmlType;

std::string shapeText(const std::vector<int64_t> &ne)
{
    std::string s = "{";
    for (size_t i = 0; i < ne.size(); ++i)
        s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "}";
}

const io::GgufTensorInfo &need(const io::GgufFile &f, const std::string &name,
                               const std::vector<int64_t> &ne)
{
    const auto *info = f.findTensor(name);
    if (!info)
        throw Error(f.path().string() + ": tensor '" + name + "' is missing");
    if (info->ne != ne)
        throw Error(f.path().string() + ": tensor '" + name + "' has ne " + shapeText(info->ne)
                    + ", the metadata implies " + shapeText(ne));
    return *info;
}

// Float32 [ne[1], ne[0]] (or [ne[0]]) of any supported type.
at::Tensor readFloat(const io::GgufFile &f, const io::GgufTensorInfo &info)
{
    std::vector<float> v = f.readFloat32(info);
    std::vector<int64_t> shape(info.ne.rbegin(), info.ne.rend());
    return at::from_blob(v.data(), shape, at::kFloat).clone();
}

at::Tensor inverseRows(const at::Tensor &t, int64_t heads, int64_t headDim)
{
    // GGUF row r holds HF row order[r]: scatter back.
    const auto order = ggufRopeRowOrder(heads, headDim);
    std::vector<int64_t> inverse(order.size());
    for (size_t r = 0; r < order.size(); ++r)
        inverse[static_cast<size_t>(order[r])] = static_cast<int64_t>(r);
    return t.index_select(0, at::tensor(inverse, at::kLong));
}

// A linear weight [out, in] from the file: dense for float types, IntGroupLinear for blocks.
std::shared_ptr<LinearOp> readLinear(const io::GgufFile &f, const std::string &name,
                                     int64_t out, int64_t in, at::Tensor bias,
                                     int64_t ropeHeads, int64_t headDim)
{
    const auto &info = need(f, name, {in, out});
    if (info.type == GgmlType::F32 || info.type == GgmlType::F16) {
        at::Tensor w = readFloat(f, info);
        if (ropeHeads)
            w = inverseRows(w, ropeHeads, headDim);
        return std::make_shared<DenseLinear>(w.contiguous(), bias);
    }
    const bool q8 = info.type == GgmlType::Q8_0;
    const int64_t blocks = in / kernels::kGgmlBlock;
    const size_t blockBytes = q8 ? kernels::kQ8_0BlockBytes : kernels::kQ4_0BlockBytes;
    at::Tensor codes = at::empty({out, in}, at::kByte);
    at::Tensor scales = at::empty({out, blocks}, at::kFloat);
    const uint8_t *p = f.data(info);
    uint8_t *c = codes.data_ptr<uint8_t>();
    float *s = scales.data_ptr<float>();
    for (int64_t b = 0; b < out * blocks; ++b) {
        const uint8_t *blk = p + b * blockBytes;
        if (q8)
            kernels::unpack_q8_0_block(blk, s + b, c + b * kernels::kGgmlBlock);
        else
            kernels::unpack_q4_0_block(blk, s + b, c + b * kernels::kGgmlBlock);
    }
    if (ropeHeads) {
        codes = inverseRows(codes, ropeHeads, headDim).contiguous();
        scales = inverseRows(scales, ropeHeads, headDim).contiguous();
    }
    // Symmetric k-bit codes decode as (code - 2^(k-1)) * scale: Q8_0 stores q + 128, Q4_0 the
    // nibble with its implicit 8, so both decode exactly as ggml does.
    kernels::IntGroupConfig cfg;
    cfg.bits = q8 ? 8 : 4;
    cfg.group_size = static_cast<int>(kernels::kGgmlBlock);
    cfg.symmetric = true;
    return IntGroupLinear::fromCodes(codes, scales, at::Tensor(), cfg, bias);
}

// llama.cpp stores eps and rope base as float32. Keep our config's double when it rounds to the
// stored float; otherwise take the shortest decimal of the float (1e-5f -> 1e-5, not 9.99e-6).
double floatKey(double stored, double ours)
{
    const auto f = static_cast<float>(stored);
    if (static_cast<float>(ours) == f)
        return ours;
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof(buf), f);
    return std::strtod(std::string(buf, res.ptr).c_str(), nullptr);
}

ModelConfig readConfig(const io::GgufFile &f, std::string &arch)
{
    const std::string path = f.path().string();
    arch = f.requireString("general.architecture");
    if (arch != "llama" && arch != "qwen2")
        throw Error(path + ": general.architecture '" + arch
                    + "' is not supported (llama and qwen2 are)");
    ModelConfig c;
    // Our own config (written by export) carries what llama.cpp's keys do not: eos/bos/pad ids,
    // the HF model type, bias flags. The llama.cpp keys below stay authoritative for shapes.
    if (const auto *v = f.find("quantbench.config_json"); v && v->type == io::GgufType::String) {
        try {
            c = ModelConfig::fromJson(nlohmann::json::parse(v->s),
                                      path + ": quantbench.config_json");
        } catch (const nlohmann::json::exception &) {
            throw Error(path + ": quantbench.config_json is not valid JSON");
        }
    } else {
        c.modelType = arch;
    }
    const auto *embd = f.findTensor("token_embd.weight");
    if (!embd || embd->ne.size() != 2)
        throw Error(path + ": tensor 'token_embd.weight' is missing or not 2-D");
    c.vocabSize = embd->ne[1];
    c.hiddenSize = f.requireInt(arch + ".embedding_length");
    c.numLayers = f.requireInt(arch + ".block_count");
    c.intermediateSize = f.requireInt(arch + ".feed_forward_length");
    c.numHeads = f.requireInt(arch + ".attention.head_count");
    c.numKvHeads = f.find(arch + ".attention.head_count_kv")
        ? f.requireInt(arch + ".attention.head_count_kv")
        : c.numHeads;
    if (c.numHeads <= 0 || c.numKvHeads <= 0 || c.numHeads % c.numKvHeads != 0)
        throw Error(path + ": " + arch + ".attention.head_count / head_count_kv ("
                    + std::to_string(c.numHeads) + " / " + std::to_string(c.numKvHeads)
                    + ") are not a valid grouping");
    c.headDim = f.find(arch + ".attention.key_length")
        ? f.requireInt(arch + ".attention.key_length")
        : c.hiddenSize / c.numHeads;
    if (f.find(arch + ".rope.dimension_count")
        && f.requireInt(arch + ".rope.dimension_count") != c.headDim)
        throw Error(path + ": " + arch + ".rope.dimension_count differs from the head size "
                    "(partial rotary is not supported)");
    c.maxPositions = f.requireInt(arch + ".context_length");
    c.rmsNormEps = floatKey(f.requireFloat(arch + ".attention.layer_norm_rms_epsilon"),
                            c.rmsNormEps);
    if (f.find(arch + ".rope.freq_base"))
        c.ropeTheta = floatKey(f.requireFloat(arch + ".rope.freq_base"), c.ropeTheta);
    c.tieWordEmbeddings = f.findTensor("output.weight") == nullptr;
    c.qkvBias = f.findTensor("blk.0.attn_q.bias") != nullptr;
    c.oBias = f.findTensor("blk.0.attn_output.bias") != nullptr;
    c.mlpBias = false;
    return c;
}

} // namespace

std::vector<int64_t> ggufRopeRowOrder(int64_t heads, int64_t headDim)
{
    std::vector<int64_t> order(static_cast<size_t>(heads * headDim));
    const int64_t half = headDim / 2;
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < half; ++j)
            for (int64_t i = 0; i < 2; ++i)
                order[static_cast<size_t>(h * headDim + 2 * j + i)] = h * headDim + i * half + j;
    return order;
}

bool isGgufPath(const fs::path &path)
{
    return path.extension() == ".gguf" && !fs::is_directory(path);
}

std::unique_ptr<Transformer> loadGgufTransformer(const fs::path &path)
{
    const auto f = io::GgufFile::open(path);
    std::string arch;
    const ModelConfig c = readConfig(f, arch);
    auto model = std::make_unique<Transformer>(c);
    const bool permute = arch == "llama";
    at::NoGradGuard noGrad;
    auto &t = model->tensors();
    auto copyInto = [&](const std::string &hf, const std::string &gguf) {
        at::Tensor &dst = t.at(hf);
        std::vector<int64_t> ne(dst.sizes().rbegin(), dst.sizes().rend());
        dst.copy_(readFloat(f, need(f, gguf, ne)));
    };
    // copy_ keeps a tied lm_head sharing the embedding storage.
    copyInto("model.embed_tokens.weight", "token_embd.weight");
    copyInto("model.norm.weight", "output_norm.weight");
    const int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        copyInto(layerName(l, "input_layernorm.weight"), b + "attn_norm.weight");
        copyInto(layerName(l, "post_attention_layernorm.weight"), b + "ffn_norm.weight");
        auto bias = [&](const std::string &name, int64_t n, bool present, int64_t ropeHeads) {
            if (!present)
                return at::Tensor();
            at::Tensor v = readFloat(f, need(f, b + name + ".bias", {n}));
            return ropeHeads ? inverseRows(v, ropeHeads, c.headDim).contiguous() : v;
        };
        const int64_t qh = permute ? c.numHeads : 0, kh = permute ? c.numKvHeads : 0;
        struct Proj
        {
            const char *gguf, *hf;
            int64_t out, in, rope;
            bool hasBias;
        };
        const Proj projs[] = {
            {"attn_q", "self_attn.q_proj", qDim, c.hiddenSize, qh, c.qkvBias},
            {"attn_k", "self_attn.k_proj", kvDim, c.hiddenSize, kh, c.qkvBias},
            {"attn_v", "self_attn.v_proj", kvDim, c.hiddenSize, 0, c.qkvBias},
            {"attn_output", "self_attn.o_proj", c.hiddenSize, qDim, 0, c.oBias},
            {"ffn_gate", "mlp.gate_proj", c.intermediateSize, c.hiddenSize, 0, false},
            {"ffn_up", "mlp.up_proj", c.intermediateSize, c.hiddenSize, 0, false},
            {"ffn_down", "mlp.down_proj", c.hiddenSize, c.intermediateSize, 0, false},
        };
        for (const auto &p : projs)
            model->setLinear(layerName(l, p.hf),
                             readLinear(f, b + p.gguf + ".weight", p.out, p.in,
                                        bias(p.gguf, p.out, p.hasBias, p.rope), p.rope, c.headDim));
    }
    if (!c.tieWordEmbeddings)
        model->setLinear("lm_head", readLinear(f, "output.weight", c.vocabSize, c.hiddenSize,
                                               at::Tensor(), 0, c.headDim));
    return model;
}

ModelBundle loadGgufBundle(const fs::path &path)
{
    ModelBundle b;
    b.model = loadGgufTransformer(path);
    const auto f = io::GgufFile::open(path);
    if (const auto *v = f.find("quantbench.tokenizer_json"); v && v->type == io::GgufType::String)
        b.codec = tokenizerCodec(
            Tokenizer::fromJson(v->s, path.string() + ": quantbench.tokenizer_json"));
    else
        b.codec = unavailableCodec(path.string()
                                   + ": the GGUF file has no quantbench.tokenizer_json, so "
                                     "QuantBench cannot turn text into its token ids");
    b.chatTemplate = b.codec->chatTemplate();
    if (const auto *v = f.find("tokenizer.chat_template"); v && v->type == io::GgufType::String)
        b.chatTemplate = v->s;
    b.provenance.dir = path;
    b.provenance.format = "gguf";
    static const char *const fileTypes[] = {"fp32", "f16", "q4_0", "q4_1", "", "", "", "q8_0"};
    std::string precision = "gguf";
    if (const auto *ft = f.find("general.file_type"); ft && ft->isInteger() && ft->u < 8)
        precision = fileTypes[ft->u];
    b.provenance.precision = precision;
    b.provenance.label = path.stem().string();
    return b;
}

} // namespace qb

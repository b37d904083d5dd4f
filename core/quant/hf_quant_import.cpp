#include "quant/hf_quant_import.h"

#include "io/safetensors.h"
#include "quant/hf_quant_pack.h"
#include "util/error.h"
#include "util/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

json readConfig(const fs::path &dir)
{
    try {
        return json::parse(readTextFile(dir / "config.json"));
    } catch (const json::parse_error &e) {
        throw Error((dir / "config.json").string() + ": invalid JSON at byte "
                    + std::to_string(e.byte));
    }
}

std::string shapeText(const std::vector<int64_t> &s)
{
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

class Reader
{
public:
    Reader(const io::Checkpoint &ckpt, std::string where)
        : m_ckpt(ckpt), m_where(std::move(where))
    {
    }

    bool has(const std::string &name) const { return m_ckpt.find(name) != nullptr; }

    const io::TensorInfo &info(const std::string &name, const std::vector<int64_t> &shape) const
    {
        const io::TensorInfo *i = m_ckpt.find(name);
        if (!i)
            throw Error(m_where + ": tensor '" + name + "' is missing (expected shape "
                        + shapeText(shape) + ")");
        if (i->shape != shape)
            throw Error(m_where + ": tensor '" + name + "' has shape " + shapeText(i->shape)
                        + ", expected " + shapeText(shape));
        return *i;
    }

    at::Tensor floats(const std::string &name, const std::vector<int64_t> &shape) const
    {
        const auto &i = info(name, shape);
        if (i.dtype != io::DType::F32 && i.dtype != io::DType::F16 && i.dtype != io::DType::BF16)
            throw Error(m_where + ": tensor '" + name + "' must be F32, F16 or BF16");
        std::vector<float> v = m_ckpt.readFloat32(name);
        return at::from_blob(v.data(), shape, at::kFloat).clone();
    }

    at::Tensor ints(const std::string &name, const std::vector<int64_t> &shape) const
    {
        const auto &i = info(name, shape);
        if (i.dtype != io::DType::I32)
            throw Error(m_where + ": tensor '" + name + "' must be I32 " + shapeText(shape));
        auto t = at::empty(shape, at::kInt);
        std::memcpy(t.data_ptr(), m_ckpt.fileOf(name)->data(i), i.nbytes());
        return t;
    }

private:
    const io::Checkpoint &m_ckpt;
    std::string m_where;
};

struct Layout
{
    std::string method; // "gptq" or "awq"
    int bits = 4;
    int64_t groupSize = -1;
    bool zerosMinusOne = true; // GPTQ v1
};

Layout readLayout(const json &qc, const std::string &where)
{
    Layout l;
    l.method = qc.value("quant_method", "");
    auto number = [&](std::initializer_list<const char *> keys, int64_t fallback) {
        for (const char *k : keys)
            if (qc.contains(k) && !qc[k].is_null()) {
                if (!qc[k].is_number_integer())
                    throw Error(where + ": quantization_config." + k + " must be an integer");
                return qc[k].get<int64_t>();
            }
        return fallback;
    };
    // AutoAWQ's own quant_config.json spells them w_bit / q_group_size.
    l.bits = static_cast<int>(number({"bits", "w_bit"}, -1));
    l.groupSize = number({"group_size", "q_group_size"}, -1);
    if (l.groupSize == 0 || l.groupSize < -1)
        throw Error(where + ": quantization_config.group_size " + std::to_string(l.groupSize)
                    + " is not -1 or a positive size");
    if (l.method == "gptq") {
        if (l.bits != 2 && l.bits != 3 && l.bits != 4 && l.bits != 8)
            throw Error(where + ": quantization_config.bits " + std::to_string(l.bits)
                        + " is not 2, 3, 4 or 8");
        const std::string fmt = qc.value("checkpoint_format", "gptq");
        if (fmt != "gptq" && fmt != "gptq_v2")
            throw Error(where + ": quantization_config.checkpoint_format '" + fmt
                        + "' is not supported (gptq or gptq_v2)");
        l.zerosMinusOne = fmt == "gptq";
    } else {
        if (l.bits != 4)
            throw Error(where + ": AWQ with " + std::to_string(l.bits)
                        + " bits is not supported (4)");
        std::string version = qc.value("version", "gemm");
        std::transform(version.begin(), version.end(), version.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (version != "gemm")
            throw Error(where + ": AWQ version '" + version + "' is not supported (gemm)");
        if (qc.contains("zero_point") && !qc.value("zero_point", true))
            throw Error(where + ": AWQ without zero points is not supported");
        l.zerosMinusOne = false;
    }
    return l;
}

std::shared_ptr<IntGroupLinear> readLinear(const Reader &r, const Layout &lay,
                                           const std::string &name, int64_t out, int64_t in,
                                           bool bias, const std::string &where)
{
    hfq::HfLinear l;
    l.bits = lay.bits;
    l.groupSize = lay.groupSize;
    const int64_t gs = (lay.groupSize <= 0 || lay.groupSize >= in) ? in : lay.groupSize;
    const int64_t groups = (in + gs - 1) / gs;
    const std::string what = where + ": " + name;
    if (lay.method == "gptq") {
        if (in * lay.bits % 32 != 0 || out * lay.bits % 32 != 0)
            throw Error(what + ": " + std::to_string(in) + " x " + std::to_string(out)
                        + " cannot be packed in the GPTQ layout at " + std::to_string(lay.bits)
                        + " bits");
        l.codes = hfq::unpackGptqRows(r.ints(name + ".qweight", {in * lay.bits / 32, out}),
                                      lay.bits, in)
                      .t()
                      .contiguous();
        const auto qz = r.ints(name + ".qzeros", {groups, out * lay.bits / 32});
        // Packed along out: unpack the transpose, [out, G].
        l.zeros = hfq::unpackGptqRows(qz.t().contiguous(), lay.bits, out);
        if (lay.zerosMinusOne)
            l.zeros = l.zeros + 1;
        l.gIdx = r.has(name + ".g_idx")
            ? r.ints(name + ".g_idx", {in})
            : at::arange(in, at::kLong).div(gs, "floor").to(at::kInt);
        if (l.gIdx.lt(0).any().item<bool>() || l.gIdx.ge(groups).any().item<bool>())
            throw Error(what + ".g_idx: group indices must lie in [0, " + std::to_string(groups)
                        + ")");
    } else {
        if (out % 8 != 0 || in % gs != 0)
            throw Error(what + ": out " + std::to_string(out) + " must be a multiple of 8 and in "
                        + std::to_string(in) + " of the group size " + std::to_string(gs)
                        + " in the AWQ layout");
        l.codes = hfq::unpackAwqCols(r.ints(name + ".qweight", {in, out / 8})).t().contiguous();
        l.zeros = hfq::unpackAwqCols(r.ints(name + ".qzeros", {groups, out / 8})).t().contiguous();
        l.gIdx = at::arange(in, at::kLong).div(gs, "floor").to(at::kInt);
    }
    l.scales = r.floats(name + ".scales", {groups, out}).t().contiguous();
    if (bias)
        l.bias = r.floats(name + ".bias", {out});
    return hfq::toIntGroup(l, lay.method, what);
}

// The quantization config and the file it came from: config.json's quantization_config, else
// the side files older tools wrote (AutoGPTQ quantize_config.json, AutoAWQ quant_config.json),
// whose quant_method may be missing. Null when the folder is neither GPTQ nor AWQ.
std::pair<json, fs::path> quantConfigOf(const fs::path &dir)
{
    const json j = readConfig(dir);
    if (j.contains("quantization_config") && j["quantization_config"].is_object()) {
        const std::string m = j["quantization_config"].value("quant_method", "");
        if (m == "gptq" || m == "awq")
            return {j["quantization_config"], dir / "config.json"};
        return {};
    }
    for (const auto &[file, method] :
         {std::pair<const char *, const char *>{"quantize_config.json", "gptq"},
          {"quant_config.json", "awq"}}) {
        if (!fs::exists(dir / file))
            continue;
        json qc;
        try {
            qc = json::parse(readTextFile(dir / file));
        } catch (const json::parse_error &e) {
            throw Error((dir / file).string() + ": invalid JSON at byte " + std::to_string(e.byte));
        }
        if (!qc.is_object())
            throw Error((dir / file).string() + ": expected a JSON object");
        const std::string m = qc.value("quant_method", method);
        if (m != method)
            return {};
        qc["quant_method"] = m;
        return {qc, dir / file};
    }
    return {};
}

} // namespace

std::string hfQuantMethod(const fs::path &dir)
{
    if (!fs::exists(dir / "config.json"))
        return "";
    const json qc = quantConfigOf(dir).first;
    return qc.is_object() ? qc.value("quant_method", "") : "";
}

std::unique_ptr<Transformer> loadHfQuantized(const fs::path &dir)
{
    if (!fs::is_directory(dir))
        throw Error(dir.string() + ": model folder does not exist");
    const std::string where = dir.string();
    const json j = readConfig(dir);
    const auto [qc, qcFile] = quantConfigOf(dir);
    if (!qc.is_object())
        throw Error(where + ": no GPTQ or AWQ quantization config (config.json "
                            "quantization_config, quantize_config.json or quant_config.json)");
    const Layout lay = readLayout(qc, qcFile.string());
    auto model = std::make_unique<Transformer>(ModelConfig::fromJson(j, where + "/config.json"));
    const auto ckpt = io::Checkpoint::open(dir);
    const Reader r(ckpt, where);
    at::NoGradGuard noGrad;
    for (auto &[name, t] : model->tensors())
        t.copy_(r.floats(name, t.sizes().vec()));
    for (const auto &name : model->linearNames()) {
        if (name == "lm_head" && model->config().tieWordEmbeddings)
            continue;
        const auto op = model->linearPtr(name);
        auto *dense = dynamic_cast<DenseLinear *>(op.get());
        TORCH_CHECK(dense, "loadHfQuantized: fresh model has a non-dense ", name);
        const bool bias = dense->bias().defined();
        if (r.has(name + ".qweight")) {
            model->setLinear(name, readLinear(r, lay, name, op->outFeatures(), op->inFeatures(),
                                              bias, where));
            continue;
        }
        dense->weight().copy_(r.floats(name + ".weight", dense->weight().sizes().vec()));
        if (bias)
            dense->bias().copy_(r.floats(name + ".bias", dense->bias().sizes().vec()));
    }
    return model;
}

} // namespace qb

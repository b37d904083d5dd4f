#include "quant/quant_checkpoint.h"

#include "io/safetensors.h"
#include "quant/quantized_linear.h"
#include "util/error.h"
#include "util/files.h"

#include <cstring>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

namespace {

io::DType toIo(at::ScalarType t)
{
    switch (t) {
    case at::kFloat: return io::DType::F32;
    case at::kByte: return io::DType::U8;
    case at::kChar: return io::DType::I8;
    case at::kInt: return io::DType::I32;
    case at::kLong: return io::DType::I64;
    default: TORCH_CHECK(false, "quantized checkpoint: unsupported dtype ", t);
    }
}

at::ScalarType fromIo(io::DType t)
{
    switch (t) {
    case io::DType::F32: return at::kFloat;
    case io::DType::U8: return at::kByte;
    case io::DType::I8: return at::kChar;
    case io::DType::I32: return at::kInt;
    case io::DType::I64: return at::kLong;
    default: return at::kHalf; // F16/BF16 are read as float32 by the callers below
    }
}

// A tensor in its stored dtype (F16/BF16 converted to float32).
at::Tensor readStored(const io::Checkpoint &ckpt, const std::string &name)
{
    const io::TensorInfo *info = ckpt.find(name);
    if (!info)
        throw Error(ckpt.path().string() + ": tensor '" + name + "' is missing");
    const at::ScalarType st = fromIo(info->dtype);
    if (st == at::kHalf) {
        auto v = ckpt.readFloat32(name);
        return at::from_blob(v.data(), info->shape, at::kFloat).clone();
    }
    auto t = at::empty(info->shape, st);
    std::memcpy(t.data_ptr(), ckpt.fileOf(name)->data(*info), info->nbytes());
    return t;
}

json readConfigJson(const fs::path &dir)
{
    try {
        return json::parse(readTextFile(dir / "config.json"));
    } catch (const json::parse_error &e) {
        throw Error((dir / "config.json").string() + ": invalid JSON at byte "
                    + std::to_string(e.byte));
    }
}

} // namespace

void saveQuantizedModel(const Transformer &model, const fs::path &dir, const json &extra)
{
    fs::create_directories(dir);
    json qc = {{"quant_method", "quantbench"}, {"format_version", 1}};
    json layers = json::object();
    std::vector<at::Tensor> keepAlive;
    std::vector<io::TensorWrite> writes;
    auto add = [&](const std::string &name, const at::Tensor &t) {
        auto c = t.detach().contiguous();
        keepAlive.push_back(c);
        writes.push_back({name, toIo(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
                          static_cast<size_t>(c.numel()) * c.element_size()});
    };
    for (const auto &[name, t] : model.tensors())
        add(name, t.to(at::kFloat));
    for (const auto &name : model.linearNames()) {
        if (name == "lm_head" && model.config().tieWordEmbeddings)
            continue;
        const auto op = model.linearPtr(name);
        if (auto q = std::dynamic_pointer_cast<QuantizedLinear>(op)) {
            layers[name] = q->config();
            for (const auto &[suffix, t] : q->tensors())
                add(name + "." + suffix, t);
        } else {
            add(name + ".weight", op->denseWeight().to(at::kFloat));
            if (op->bias().defined())
                add(name + ".bias", op->bias().to(at::kFloat));
        }
    }
    for (auto it = extra.begin(); it != extra.end(); ++it)
        qc[it.key()] = it.value();
    qc["layers"] = layers;
    json config = model.config().toJson();
    config["quantization_config"] = qc;
    io::writeSafetensors(dir / "model.safetensors", writes,
                         {{"format", "pt"}, {"quantization_config", qc.dump()}});
    // config.json last: a folder with a config.json is complete.
    writeFileAtomic(dir / "config.json", config.dump(2) + "\n");
}

bool isQuantizedCheckpoint(const fs::path &dir)
{
    if (!fs::exists(dir / "config.json"))
        return false;
    const json j = readConfigJson(dir);
    return j.contains("quantization_config") && j["quantization_config"].is_object()
        && j["quantization_config"].value("quant_method", "") == "quantbench";
}

std::unique_ptr<Transformer> loadQuantizedModel(const fs::path &dir)
{
    if (!fs::is_directory(dir))
        throw Error(dir.string() + ": model folder does not exist");
    const json j = readConfigJson(dir);
    const std::string where = dir.string();
    if (!j.contains("quantization_config") || !j["quantization_config"].contains("layers"))
        throw Error(where + ": config.json has no quantization_config.layers");
    const json &layers = j["quantization_config"]["layers"];
    auto model = std::make_unique<Transformer>(ModelConfig::fromJson(j, where + "/config.json"));
    const auto ckpt = io::Checkpoint::open(dir);
    at::NoGradGuard noGrad;
    for (auto &[name, t] : model->tensors()) {
        auto v = readStored(ckpt, name);
        if (v.sizes() != t.sizes())
            throw Error(where + ": tensor '" + name + "' has the wrong shape");
        t.copy_(v);
    }
    for (const auto &name : model->linearNames()) {
        if (name == "lm_head" && model->config().tieWordEmbeddings)
            continue;
        const auto op = model->linearPtr(name);
        if (layers.contains(name)) {
            std::map<std::string, at::Tensor> tensors;
            const std::string prefix = name + ".";
            for (const auto &tn : ckpt.names())
                if (tn.rfind(prefix, 0) == 0 && tn.find('.', prefix.size()) == std::string::npos)
                    tensors[tn.substr(prefix.size())] = readStored(ckpt, tn);
            try {
                model->setLinear(name,
                                 makeQuantizedLinear(layers[name], tensors, op->outFeatures(),
                                                     op->inFeatures(), where + ": " + name));
            } catch (const Error &e) {
                const std::string msg = e.what();
                throw Error(msg.rfind(where, 0) == 0 ? msg : where + ": " + name + ": " + msg);
            }
            continue;
        }
        auto *dense = dynamic_cast<DenseLinear *>(op.get());
        TORCH_CHECK(dense, "loadQuantizedModel: fresh model has a non-dense ", name);
        auto w = readStored(ckpt, name + ".weight");
        if (w.sizes() != dense->weight().sizes())
            throw Error(where + ": tensor '" + name + ".weight' has the wrong shape");
        dense->weight().copy_(w);
        if (dense->bias().defined())
            dense->bias().copy_(readStored(ckpt, name + ".bias"));
    }
    return model;
}

} // namespace qb

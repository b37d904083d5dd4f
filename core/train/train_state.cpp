#include "train/train_state.h"

#include "eval/evaluator.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/files.h"

#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

std::vector<std::pair<std::string, double>> scoreEvalSets(const ModelBundle &bundle,
                                                          const std::vector<EvalSet> &sets,
                                                          const WorkHooks &work)
{
    std::vector<std::pair<std::string, double>> out;
    at::NoGradGuard noGrad;
    for (const auto &set : sets) {
        eval::EvalOptions o;
        o.batchSize = 64;
        o.decoding.maxNewTokens = set.maxNewTokens;
        out.emplace_back(set.name,
                         eval::evaluate(eval::refOf(bundle), set.questions, o, work).summary.accuracy());
    }
    return out;
}

void saveTrainCheckpoint(const fs::path &dir, const std::vector<at::Tensor> &params,
                         const AdamW &opt, int64_t step, const json &state)
{
    const fs::path tmp = tempSibling(dir / "ckpt");
    fs::create_directories(tmp);
    const auto [m, v] = opt.moments();
    std::vector<at::Tensor> keep; // contiguous copies outlive the writes
    keep.reserve(params.size() * 3);
    std::vector<io::TensorWrite> writes;
    auto add = [&](const std::string &name, const at::Tensor &t) {
        keep.push_back(t.detach().contiguous().to(at::kFloat));
        const at::Tensor &c = keep.back();
        writes.push_back({name, io::DType::F32, c.sizes().vec(), c.data_ptr(),
                          size_t(c.numel()) * sizeof(float)});
    };
    for (size_t i = 0; i < params.size(); ++i) {
        add("p." + std::to_string(i), params[i]);
        add("m." + std::to_string(i), m[i]);
        add("v." + std::to_string(i), v[i]);
    }
    io::writeSafetensors(tmp / "state.safetensors", writes);
    writeFileAtomic(tmp / "state.json",
                    json{{"step", step}, {"adam_steps", opt.steps()}, {"history", state}}.dump());
    fs::remove_all(dir / "ckpt");
    fs::rename(tmp, dir / "ckpt");
}

int64_t loadTrainCheckpoint(const fs::path &dir, const std::vector<at::Tensor> &params,
                            AdamW &opt, json *state)
{
    const fs::path ckpt = dir / "ckpt";
    if (dir.empty() || !fs::exists(ckpt / "state.json"))
        return 0;
    const json saved = json::parse(readTextFile(ckpt / "state.json"));
    const auto file = io::SafetensorsFile::open(ckpt / "state.safetensors");
    auto read = [&](const std::string &name, const at::Tensor &like) {
        const io::TensorInfo *info = file.find(name);
        if (!info || info->shape != like.sizes().vec())
            throw Error((ckpt / "state.safetensors").string() + ": tensor '" + name
                        + "' is missing or has another shape than the model's; delete "
                        + ckpt.string() + " to start over");
        const auto values = file.readFloat32(*info);
        return at::from_blob(const_cast<float *>(values.data()), like.sizes(), at::kFloat).clone();
    };
    std::vector<at::Tensor> m, v;
    at::NoGradGuard noGrad;
    for (size_t i = 0; i < params.size(); ++i) {
        params[i].copy_(read("p." + std::to_string(i), params[i]));
        m.push_back(read("m." + std::to_string(i), params[i]));
        v.push_back(read("v." + std::to_string(i), params[i]));
    }
    opt.restore(m, v, saved.at("adam_steps").get<int64_t>());
    *state = saved.value("history", json::object());
    return saved.at("step").get<int64_t>();
}

double peakMemoryMiB()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

} // namespace qb

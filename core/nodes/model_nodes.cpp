// Model sources: a random Llama-family model of a chosen size (smoke tests, timing) and a Hugging
// Face folder from disk. Output: a "model" artifact whose folder holds config.json and safetensors.
#include "api/node_context.h"
#include "model/gguf_import.h"
#include "model/model_bundle.h"
#include "nodes/nodes.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb {

fs::path modelDir(const Artifact &model)
{
    if (model.meta.contains("path"))
        return model.meta["path"].get<std::string>();
    return model.dir;
}

namespace {

Artifact runRandomModel(NodeContext &ctx)
{
    const json &p = ctx.params();
    ModelConfig c;
    c.vocabSize = p["vocab_size"];
    c.hiddenSize = p["hidden_size"];
    c.intermediateSize = p["intermediate_size"];
    c.numLayers = p["layers"];
    c.numHeads = p["heads"];
    c.numKvHeads = p["kv_heads"];
    c.maxPositions = p["max_positions"];
    c.tieWordEmbeddings = p["tie_embeddings"];
    if (c.hiddenSize % c.numHeads != 0)
        throw Error("hidden_size " + std::to_string(c.hiddenSize) + " is not a multiple of heads "
                    + std::to_string(c.numHeads));
    if (c.numHeads % c.numKvHeads != 0)
        throw Error("heads " + std::to_string(c.numHeads) + " is not a multiple of kv_heads "
                    + std::to_string(c.numKvHeads));
    c.headDim = c.hiddenSize / c.numHeads;
    c.eosTokenIds = {0};
    ctx.progress(0, 1, "initialising weights");
    Transformer model(c);
    model.initRandom(ctx.seed() ^ p["init_seed"].get<uint64_t>());
    model.save(ctx.outDir());
    ctx.progress(1, 1, "saved");
    Artifact a;
    a.meta = {{"label", "random"}, {"precision", "fp32"},
              {"parameters", c.parameterCount()}, {"weight_bytes", model.weightBytes()}};
    return a;
}

Artifact runLoadModel(NodeContext &ctx)
{
    const fs::path path = ctx.params()["path"].get<std::string>();
    const bool gguf = isGgufPath(path);
    if (gguf && !fs::exists(path))
        throw Error(path.string() + ": GGUF file does not exist");
    if (!gguf && !fs::is_directory(path))
        throw Error(path.string() + ": model folder does not exist (expected a Hugging Face "
                    "model folder: config.json, *.safetensors, tokenizer.json; or a quantized, "
                    "GPTQ/AWQ or PEFT adapter folder, or a .gguf file; on the command line: "
                    "--set " + ctx.nodeId() + ".path=DIR)");
    if (!gguf && !fs::exists(path / "config.json"))
        throw Error(path.string() + ": no config.json (expected a Hugging Face model folder)");
    ctx.progress(0, 1, "checking " + path.string());
    // Validates every tensor's name, dtype and shape, the tokenizer and generation_config.json.
    const ModelBundle bundle = loadModelBundle(path);
    const Transformer *model = bundle.model.get();
    ctx.progress(1, 1, "loaded");
    Artifact a;
    // precision: "fp32" for a dense folder, the quantization label for a quantized one.
    a.meta = {{"label", path.filename().string()}, {"precision", bundle.provenance.precision},
              {"path", fs::absolute(path).string()},
              {"parameters", model->config().parameterCount()},
              {"weight_bytes", model->weightBytes()}};
    return a;
}

} // namespace

void registerModelNodes(NodeRegistry &registry)
{
    NodeSpec random("model.random", "Random model", "Models", "model",
                 "A randomly initialised Llama-family model of the given size "
                 "(smoke tests, timing, memory).");
    random.params = {
        ParamSpec::integer("vocab_size", 256, "Vocabulary size (256 = raw bytes)").range(2, 1 << 20),
        ParamSpec::integer("hidden_size", 64, "Width of the residual stream").range(2, 16384),
        ParamSpec::integer("intermediate_size", 172, "Width of the SwiGLU MLP").range(1, 65536),
        ParamSpec::integer("layers", 2, "Number of decoder blocks").range(1, 256),
        ParamSpec::integer("heads", 4, "Attention heads").range(1, 256),
        ParamSpec::integer("kv_heads", 2, "Key/value heads (grouped-query attention)").range(1, 256),
        ParamSpec::integer("max_positions", 512, "Longest sequence").range(8, 1 << 20),
        ParamSpec::integer("init_seed", 0, "Mixed with the experiment seed for the weights")
            .range(0, 1e15),
        ParamSpec::boolean("tie_embeddings", false, "Share the input embedding with the output head"),
    };
    random.run = runRandomModel;
    registry.add(random);

    NodeSpec load("model.load", "Load model", "Models", "model",
                 "A Hugging Face model folder on disk (config.json, *.safetensors, "
                 "tokenizer.json), or a .gguf file. Nothing is downloaded.");
    load.params = {ParamSpec::required(
        "path", ParamKind::Path,
        "Folder with config.json and model.safetensors (or a sharded index), or a .gguf file")};
    load.run = runLoadModel;
    registry.add(load);
}

} // namespace qb

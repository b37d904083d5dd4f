// Registration of the core's node types into a registry, one function per family. Each family's
// node bodies are free functions in its .cpp that read a NodeContext and return an Artifact.
#pragma once
#include "api/registry.h"

#include <filesystem>

namespace qb {

void registerModelNodes(NodeRegistry &registry);
void registerGenerateNodes(NodeRegistry &registry);
void registerQuantNodes(NodeRegistry &registry);
void registerDatasetNodes(NodeRegistry &registry);
void registerBuiltinModelNodes(NodeRegistry &registry);
void registerEvaluateNodes(NodeRegistry &registry);
void registerPerplexityNodes(NodeRegistry &registry);
void registerSweepNodes(NodeRegistry &registry); // evaluate.sweep, beside evaluate
void registerAnalyzeNodes(NodeRegistry &registry);
void registerFinetuneNodes(NodeRegistry &registry);
void registerGrpoNodes(NodeRegistry &registry);

// The folder holding a model artifact's HF files (the artifact itself, or the path it points to).
std::filesystem::path modelDir(const Artifact &model);

} // namespace qb

#include "api/decoding.h"

namespace qb {

// The "decoding" parameter block shared by generation and evaluation nodes, and its reader.
ParamSpec decodingParamSpec(int64_t defaultMaxNewTokens);
DecodingConfig decodingFromJson(const nlohmann::json &decoding, uint64_t seed);

} // namespace qb

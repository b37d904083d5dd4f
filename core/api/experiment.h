// Experiment: the YAML experiment file shared by the GUI and the CLI — nodes with their types,
// input connections and parameters, plus GUI layout. Parsing validates against a NodeRegistry:
// unknown keys, wrong types, out-of-range values, unknown node types or inputs and cycles are
// errors that name the file, line and key path. Plain data; copy freely.
#pragma once
#include "api/registry.h"

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qb {

constexpr int kSchemaVersion = 1;

struct NodeDecl
{
    std::string id;
    std::string type;
    // port -> upstream node ids, in file order
    std::vector<std::pair<std::string, std::vector<std::string>>> inputs;
    nlohmann::json params = nlohmann::json::object(); // as written (typed), without defaults
    int line = 0;                                     // 1-based line of the node in the file

    const std::vector<std::string> *inputsOf(const std::string &port) const;
};

// A titled frame around some nodes in the GUI editor, optionally collapsed to one box. UI-only,
// like layout: the core reads and writes it (`groups:` in the file) and never runs anything by it.
struct GroupDecl
{
    std::string title;
    std::vector<std::string> nodes; // member node ids; a node belongs to at most one group
    bool collapsed = false;
    bool operator==(const GroupDecl &o) const
    {
        return title == o.title && nodes == o.nodes && collapsed == o.collapsed;
    }
    bool operator!=(const GroupDecl &o) const { return !(*this == o); }
};

// The arithmetic an experiment's run computes with (quant/kernel_settings.h), where the file
// says; unset, the process's own (the environment variables QB_ACT_Q8 / QB_COMPUTE_BF16, else
// off). YAML: `arithmetic: {activations: float | int8, dense: fp32 | bf16}`. Both change results,
// and cache keys carry them (executor.h).
struct ArithmeticDecl
{
    // activations: int8 — quantized linears round their activations to int8 per block of 32
    // and multiply with integer codes (llama.cpp's q8_0 scheme)
    std::optional<bool> int8Activations;
    // dense: bf16 — dense float32 linears multiply in bfloat16 at inference (AVX-512 BF16 CPUs)
    std::optional<bool> bf16Dense;
    bool empty() const { return !int8Activations && !bf16Dense; }
    bool operator==(const ArithmeticDecl &o) const
    {
        return int8Activations == o.int8Activations && bf16Dense == o.bf16Dense;
    }
    bool operator!=(const ArithmeticDecl &o) const { return !(*this == o); }
};

struct Experiment
{
    int schemaVersion = kSchemaVersion;
    std::string name;
    std::string description;
    uint64_t seed = 0;
    ArithmeticDecl arithmetic;
    std::vector<NodeDecl> nodes;
    std::map<std::string, std::array<double, 2>> layout; // GUI positions; the core ignores them
    std::vector<GroupDecl> groups;                        // GUI frames; the core ignores them
    std::string source = "<experiment>";                 // file name used in messages

    const NodeDecl *find(const std::string &id) const;
    NodeDecl *find(const std::string &id);
};

struct Diagnostic
{
    std::string path; // e.g. "nodes[2].params.block_size"
    int line = 0;     // 1-based; 0 when unknown
    std::string message;
    std::string format(const std::string &source) const; // "file:line: path: message"
};

// Parses and validates; throws qb::Error listing every problem found.
Experiment parseExperiment(const std::string &yamlText, const std::string &source,
                           const NodeRegistry &registry);
Experiment loadExperiment(const std::filesystem::path &path, const NodeRegistry &registry);

// Structural checks on an in-memory experiment (the GUI edits one): unknown types, dangling or
// ill-typed connections, missing required inputs, duplicate ids, cycles, parameter values.
std::vector<Diagnostic> validateExperiment(const Experiment &experiment,
                                           const NodeRegistry &registry);

// Applies "NODE.PARAM=VALUE" (PARAM may be a dotted path into an object parameter:
// "eval.decoding.max_new_tokens=64"); VALUE is read as YAML ("4", "true", "[a, b]",
// "{method: int, bits: 4}", "text"), as the file would. Validates the result; throws qb::Error
// naming the assignment for an unknown node, a malformed assignment or an invalid value.
void setParameter(Experiment &experiment, const std::string &assignment,
                  const NodeRegistry &registry);

std::string toYaml(const Experiment &experiment);
void saveExperiment(const Experiment &experiment, const std::filesystem::path &path);

// Node ids in an order where every node comes after its inputs; file order breaks ties. With
// upTo set, only that node and what it depends on. Throws qb::Error on a cycle.
std::vector<std::string> executionOrder(const Experiment &experiment, const std::string &upTo = {});

} // namespace qb

// The node registry: every node type an experiment may use, with its typed ports and parameter
// specs (kinds, defaults, ranges, choices, descriptions for GUI tooltips) and the function that
// runs it. Built once at start-up, then read-only: safe to read from any thread.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qb {

enum class ParamKind { Int, Float, Bool, String, Enum, Path, StringList, NumberList, Object };
std::string toString(ParamKind kind);

// One parameter of a node. Built with the named constructors and chained modifiers, e.g.
//   ParamSpec::integer("batch_size", 32, "Prompts decoded together").range(1, 1024)
struct ParamSpec
{
    std::string name;
    ParamKind kind = ParamKind::String;
    nlohmann::json defaultValue; // null = required unless optional
    std::string description;
    std::optional<double> min;
    std::optional<double> max;
    std::vector<std::string> choices; // Enum
    std::vector<ParamSpec> fields;    // Object: its keys
    bool optional = false;            // may be absent without a default
    // Applies only while the parameter `shownWhen` of the same object holds one of `shownFor`
    // (e.g. the quantize node's block_size only for method nf4/fp4). The GUI hides it otherwise;
    // validation checks it always.
    std::string shownWhen;
    std::vector<std::string> shownFor;
    bool integral = false; // NumberList: whole numbers only (min/max bound each item)

    static ParamSpec integer(std::string name, int64_t def, std::string description);
    static ParamSpec real(std::string name, double def, std::string description);
    static ParamSpec boolean(std::string name, bool def, std::string description);
    static ParamSpec string(std::string name, std::string def, std::string description);
    static ParamSpec choice(std::string name, std::string def, std::vector<std::string> choices,
                           std::string description);
    static ParamSpec path(std::string name, std::string def, std::string description);
    static ParamSpec stringList(std::string name, std::string description); // default []
    // Lists of numbers (a sweep's temperatures, its k values); range() bounds every item.
    static ParamSpec realList(std::string name, std::vector<double> def, std::string description);
    static ParamSpec intList(std::string name, std::vector<int64_t> def, std::string description);
    static ParamSpec object(std::string name, std::vector<ParamSpec> fields,
                           std::string description);
    // A parameter with no default that must be given (or may be left out when optional()).
    static ParamSpec required(std::string name, ParamKind kind, std::string description);

    ParamSpec range(double lo, double hi) const;
    ParamSpec atLeast(double lo) const;
    ParamSpec optionalValue() const; // may be absent (no default)
    ParamSpec onlyWhen(std::string param, std::vector<std::string> values) const;
    // Whether the parameter applies given the resolved values of its object.
    bool appliesTo(const nlohmann::json &values) const;
};

// Port types connect when equal; a "model" port accepts any model, quantized or not.
struct PortSpec
{
    std::string name;
    std::string type; // "model", "dataset", "analysis", "evaluation", ...
    bool multiple = false;
    bool optional = false;
    std::string description;
};

// What a node hands to the nodes after it: a folder of files plus a small JSON description.
struct Artifact
{
    std::string type;
    std::string nodeId;
    std::string key; // content hash of type, parameters and inputs
    std::filesystem::path dir;
    nlohmann::json meta = nlohmann::json::object();
};

class NodeContext;
using NodeRunFn = std::function<Artifact(NodeContext &)>;

struct NodeSpec
{
    NodeSpec() = default;
    NodeSpec(std::string type, std::string title, std::string category, std::string outputType,
             std::string description)
        : type(std::move(type)), title(std::move(title)), category(std::move(category)),
          description(std::move(description)), outputType(std::move(outputType))
    {}

    std::string type; // e.g. "quantize"
    std::string title;
    std::string category;
    std::string description;
    std::vector<PortSpec> inputs;
    std::string outputType;
    std::vector<ParamSpec> params;
    int version = 1; // bump when the node's output changes for the same inputs (invalidates cache)
    NodeRunFn run;

    const ParamSpec *param(const std::string &name) const;
    const PortSpec *input(const std::string &name) const;
};

class NodeRegistry
{
public:
    void add(NodeSpec spec); // replaces a spec of the same type
    const NodeSpec *find(const std::string &type) const;
    std::vector<const NodeSpec *> all() const; // sorted by category, then type

private:
    std::map<std::string, NodeSpec> m_specs;
};

// The registry with every node type the core implements.
const NodeRegistry &builtinRegistry();

// params with every missing key filled from the spec's defaults (recursively for objects).
nlohmann::json resolveParams(const NodeSpec &spec, const nlohmann::json &params);

} // namespace qb

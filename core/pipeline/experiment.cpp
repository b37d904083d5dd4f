#include "api/experiment.h"
#include "api/graph_rules.h"

#include "util/error.h"
#include "util/files.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

namespace qb {

using nlohmann::json;

const std::vector<std::string> *NodeDecl::inputsOf(const std::string &port) const
{
    for (const auto &[p, ids] : inputs)
        if (p == port)
            return &ids;
    return nullptr;
}

const NodeDecl *Experiment::find(const std::string &id) const
{
    for (const auto &n : nodes)
        if (n.id == id)
            return &n;
    return nullptr;
}

NodeDecl *Experiment::find(const std::string &id)
{
    for (auto &n : nodes)
        if (n.id == id)
            return &n;
    return nullptr;
}

std::string Diagnostic::format(const std::string &source) const
{
    std::string out = source;
    if (line > 0)
        out += ":" + std::to_string(line);
    out += ": ";
    if (!path.empty())
        out += path + ": ";
    return out + message;
}

namespace {

using LineMap = std::map<std::string, int>;

std::string joinPath(const std::string &base, const std::string &key)
{
    return base.empty() ? key : base + "." + key;
}

// A plain (unquoted) YAML scalar becomes a JSON number, bool or null when it reads as one; a quoted
// scalar always stays a string, so `name: "64"` is text and `block_size: 64` is a number.
json scalarToJson(const YAML::Node &node)
{
    const std::string &text = node.Scalar();
    if (node.Tag() == "!")
        return text;
    if (text == "~" || text == "null" || text == "Null" || text == "NULL")
        return nullptr;
    if (text == "true" || text == "True" || text == "TRUE")
        return true;
    if (text == "false" || text == "False" || text == "FALSE")
        return false;
    static const std::regex intRe(R"([-+]?[0-9]+)");
    static const std::regex floatRe(R"([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)");
    if (std::regex_match(text, intRe)) {
        try {
            return std::stoll(text);
        } catch (const std::out_of_range &) {
            return text;
        }
    }
    if (std::regex_match(text, floatRe))
        return std::stod(text);
    return text;
}

json yamlToJson(const YAML::Node &node, const std::string &path, LineMap &lines)
{
    lines[path] = node.Mark().line + 1;
    switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        return nullptr;
    case YAML::NodeType::Scalar:
        return scalarToJson(node);
    case YAML::NodeType::Sequence: {
        json arr = json::array();
        for (size_t i = 0; i < node.size(); ++i)
            arr.push_back(yamlToJson(node[i], path + "[" + std::to_string(i) + "]", lines));
        return arr;
    }
    case YAML::NodeType::Map: {
        json obj = json::object();
        for (const auto &kv : node) {
            const std::string key = kv.first.Scalar();
            lines[joinPath(path, key)] = kv.first.Mark().line + 1;
            obj[key] = yamlToJson(kv.second, joinPath(path, key), lines);
            lines[joinPath(path, key)] = kv.first.Mark().line + 1;
        }
        return obj;
    }
    }
    return nullptr;
}

class Checker
{
public:
    Checker(const LineMap &lines, std::vector<Diagnostic> &diags) : m_lines(lines), m_diags(diags) {}

    int lineOf(const std::string &path) const
    {
        // The nearest recorded ancestor gives a line for values the GUI created in memory.
        std::string p = path;
        while (true) {
            auto it = m_lines.find(p);
            if (it != m_lines.end())
                return it->second;
            const auto cut = p.find_last_of(".[");
            if (cut == std::string::npos)
                return 0;
            p = p.substr(0, cut);
        }
    }

    void error(const std::string &path, const std::string &message)
    {
        m_diags.push_back({path, lineOf(path), message});
    }

    void checkParams(const std::vector<ParamSpec> &specs, const json &given, const std::string &path,
                     const std::string &owner)
    {
        if (given.is_null())
            return;
        if (!given.is_object()) {
            error(path, "expected a mapping of parameters");
            return;
        }
        for (auto it = given.begin(); it != given.end(); ++it) {
            const ParamSpec *spec = nullptr;
            for (const auto &s : specs)
                if (s.name == it.key())
                    spec = &s;
            if (!spec) {
                std::string known;
                for (const auto &s : specs)
                    known += (known.empty() ? "" : ", ") + s.name;
                error(joinPath(path, it.key()), "unknown parameter '" + it.key() + "' for " + owner
                          + (known.empty() ? " (it takes none)" : " (known: " + known + ")"));
                continue;
            }
            checkValue(*spec, it.value(), joinPath(path, it.key()), owner);
        }
        for (const auto &s : specs) {
            if (!s.optional && s.defaultValue.is_null() && s.kind != ParamKind::Object
                && !given.contains(s.name))
                error(path, "missing required parameter '" + s.name + "' for " + owner);
        }
    }

    void checkValue(const ParamSpec &spec, const json &v, const std::string &path,
                    const std::string &owner)
    {
        auto typeError = [&](const std::string &expected) {
            error(path, "expected " + expected + ", got " + describe(v));
        };
        switch (spec.kind) {
        case ParamKind::Int:
            if (!v.is_number_integer())
                return typeError("an integer");
            checkRange(spec, v.get<double>(), path);
            break;
        case ParamKind::Float:
            if (!v.is_number())
                return typeError("a number");
            if (!std::isfinite(v.get<double>()))
                return typeError("a finite number");
            checkRange(spec, v.get<double>(), path);
            break;
        case ParamKind::Bool:
            if (!v.is_boolean())
                return typeError("true or false");
            break;
        case ParamKind::String:
        case ParamKind::Path:
            if (!v.is_string())
                return typeError("a string");
            break;
        case ParamKind::Enum: {
            const std::string text = v.is_string() ? v.get<std::string>()
                : v.is_number() ? v.dump() : std::string();
            if (!v.is_string() && !v.is_number())
                return typeError("one of " + joinChoices(spec));
            if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end())
                error(path, "'" + text + "' is not one of " + joinChoices(spec));
            break;
        }
        case ParamKind::StringList:
            if (!v.is_array())
                return typeError("a list of strings");
            for (size_t i = 0; i < v.size(); ++i)
                if (!v[i].is_string())
                    error(path + "[" + std::to_string(i) + "]", "expected a string, got "
                              + describe(v[i]));
            break;
        case ParamKind::NumberList:
            if (!v.is_array())
                return typeError(spec.integral ? "a list of integers" : "a list of numbers");
            for (size_t i = 0; i < v.size(); ++i) {
                const std::string item = path + "[" + std::to_string(i) + "]";
                const bool ok = spec.integral ? v[i].is_number_integer()
                                              : v[i].is_number() && std::isfinite(v[i].get<double>());
                if (!ok)
                    error(item, std::string(spec.integral ? "expected an integer" : "expected a number")
                              + ", got " + describe(v[i]));
                else
                    checkRange(spec, v[i].get<double>(), item);
            }
            break;
        case ParamKind::Object:
            checkParams(spec.fields, v, path, owner);
            break;
        }
    }

private:
    static std::string describe(const json &v)
    {
        if (v.is_string())
            return "'" + v.get<std::string>() + "'";
        if (v.is_null())
            return "nothing";
        if (v.is_object())
            return "a mapping";
        if (v.is_array())
            return "a list";
        return v.dump();
    }

    static std::string joinChoices(const ParamSpec &spec)
    {
        std::string out;
        for (const auto &c : spec.choices)
            out += (out.empty() ? "" : ", ") + c;
        return out;
    }

    void checkRange(const ParamSpec &spec, double value, const std::string &path)
    {
        auto fmt = [](double d) {
            std::ostringstream ss;
            ss << d;
            return ss.str();
        };
        if (spec.min && value < *spec.min)
            error(path, fmt(value) + " is below the minimum " + fmt(*spec.min));
        if (spec.max && value > *spec.max)
            error(path, fmt(value) + " is above the maximum " + fmt(*spec.max));
    }

    const LineMap &m_lines;
    std::vector<Diagnostic> &m_diags;
};

std::vector<Diagnostic> validateWithLines(const Experiment &exp, const NodeRegistry &registry,
                                          const LineMap &lines)
{
    std::vector<Diagnostic> diags;
    Checker check(lines, diags);
    static const std::regex idRe("[A-Za-z_][A-Za-z0-9_.-]*");
    std::set<std::string> ids;
    for (size_t i = 0; i < exp.nodes.size(); ++i) {
        const auto &n = exp.nodes[i];
        const std::string base = "nodes[" + std::to_string(i) + "]";
        if (!std::regex_match(n.id, idRe))
            check.error(base + ".id", "node id '" + n.id
                            + "' must start with a letter or _ and use letters, digits, _ . -");
        if (!ids.insert(n.id).second)
            check.error(base + ".id", "duplicate node id '" + n.id + "'");
    }
    for (size_t i = 0; i < exp.nodes.size(); ++i) {
        const auto &n = exp.nodes[i];
        const std::string base = "nodes[" + std::to_string(i) + "]";
        const NodeSpec *spec = registry.find(n.type);
        if (!spec) {
            std::string known;
            for (const auto *s : registry.all())
                known += (known.empty() ? "" : ", ") + s->type;
            check.error(base + ".type", "unknown node type '" + n.type + "' (known: " + known + ")");
            continue;
        }
        const std::string owner = "node '" + n.id + "' (" + n.type + ")";
        check.checkParams(spec->params, n.params, base + ".params", owner);
        for (const auto &[port, sources] : n.inputs) {
            const std::string path = base + ".inputs." + port;
            const PortSpec *ps = spec->input(port);
            if (!ps) {
                std::string known;
                for (const auto &p : spec->inputs)
                    known += (known.empty() ? "" : ", ") + p.name;
                check.error(path, "node type '" + n.type + "' has no input '" + port + "' (inputs: "
                                + (known.empty() ? "none" : known) + ")");
                continue;
            }
            if (!ps->multiple && sources.size() > 1)
                check.error(path, "input '" + port + "' takes one connection, got "
                                + std::to_string(sources.size()));
            for (const auto &src : sources) {
                const NodeDecl *up = exp.find(src);
                if (!up) {
                    check.error(path, "no node with id '" + src + "'");
                    continue;
                }
                if (src == n.id) {
                    check.error(path, "node '" + n.id + "' cannot take its own output");
                    continue;
                }
                const NodeSpec *upSpec = registry.find(up->type);
                if (upSpec && !portAccepts(ps->type, upSpec->outputType))
                    check.error(path, "'" + src + "' gives a " + upSpec->outputType + ", input '"
                                    + port + "' needs a " + ps->type);
            }
        }
        for (const auto &p : spec->inputs) {
            const auto *srcs = n.inputsOf(p.name);
            if (!p.optional && (!srcs || srcs->empty()))
                check.error(base + ".inputs", "missing required input '" + p.name + "' ("
                                + p.type + ") of " + owner);
        }
    }
    if (diags.empty()) {
        try {
            executionOrder(exp);
        } catch (const Error &e) {
            diags.push_back({"nodes", 0, e.what()});
        }
    }
    return diags;
}

[[noreturn]] void throwDiagnostics(const std::vector<Diagnostic> &diags, const std::string &source)
{
    std::string msg;
    for (const auto &d : diags)
        msg += (msg.empty() ? "" : "\n") + d.format(source);
    throw Error(msg);
}

} // namespace

std::vector<Diagnostic> validateExperiment(const Experiment &experiment,
                                           const NodeRegistry &registry)
{
    return validateWithLines(experiment, registry, {});
}

namespace {

// `arithmetic: {activations: float | int8, dense: fp32 | bf16}`: either key may be left out.
void parseArithmetic(const json &a, Experiment &exp, Checker &check)
{
    if (!a.is_object()) {
        check.error("arithmetic", "expected a mapping {activations: float | int8, dense: fp32 | bf16}");
        return;
    }
    for (auto it = a.begin(); it != a.end(); ++it) {
        const std::string path = "arithmetic." + it.key();
        const std::string value = it->is_string() ? it->get<std::string>() : std::string();
        if (it.key() == "activations") {
            if (value == "float" || value == "int8")
                exp.arithmetic.int8Activations = value == "int8";
            else
                check.error(path, "expected float (the default) or int8 (quantized linears' "
                                  "activations rounded to int8 per block of 32)");
        } else if (it.key() == "dense") {
            if (value == "fp32" || value == "bf16")
                exp.arithmetic.bf16Dense = value == "bf16";
            else
                check.error(path, "expected fp32 (the default) or bf16 (dense float32 linears "
                                  "multiplied in bfloat16 at inference)");
        } else {
            check.error(path, "unknown key '" + it.key() + "' (arithmetic has activations, dense)");
        }
    }
}

// `groups:` is the editor's frames: a list of {title, nodes, collapsed}. Only its shape is
// checked (and that members exist, each in one group), since nothing runs by it.
void parseGroups(const json &groups, Experiment &exp, Checker &check)
{
    if (!groups.is_array()) {
        check.error("groups", "expected a list of {title, nodes, collapsed}");
        return;
    }
    std::map<std::string, size_t> owner;
    for (size_t i = 0; i < groups.size(); ++i) {
        const std::string base = "groups[" + std::to_string(i) + "]";
        const json &g = groups[i];
        if (!g.is_object()) {
            check.error(base, "a group must be a mapping with title, nodes, collapsed");
            continue;
        }
        GroupDecl decl;
        for (auto it = g.begin(); it != g.end(); ++it)
            if (it.key() != "title" && it.key() != "nodes" && it.key() != "collapsed")
                check.error(base + "." + it.key(), "unknown key '" + it.key()
                                + "' (a group has title, nodes, collapsed)");
        if (g.contains("title") && !g["title"].is_string())
            check.error(base + ".title", "expected a string");
        else
            decl.title = g.value("title", std::string());
        if (g.contains("collapsed") && !g["collapsed"].is_boolean())
            check.error(base + ".collapsed", "expected true or false");
        else
            decl.collapsed = g.value("collapsed", false);
        if (!g.contains("nodes") || !g["nodes"].is_array()) {
            check.error(base + (g.contains("nodes") ? ".nodes" : ""),
                        "missing 'nodes': a list of node ids");
            continue;
        }
        for (const auto &id : g["nodes"]) {
            if (!id.is_string()) {
                check.error(base + ".nodes", "expected node ids (strings)");
                continue;
            }
            const std::string s = id.get<std::string>();
            if (!exp.find(s))
                check.error(base + ".nodes", "no node with id '" + s + "'");
            else if (owner.count(s))
                check.error(base + ".nodes", "node '" + s + "' is already in groups["
                                + std::to_string(owner[s]) + "]");
            else
                decl.nodes.push_back(s);
            owner.emplace(s, i);
        }
        exp.groups.push_back(std::move(decl));
    }
}

} // namespace

Experiment parseExperiment(const std::string &yamlText, const std::string &source,
                           const NodeRegistry &registry)
{
    YAML::Node root;
    try {
        root = YAML::Load(yamlText);
    } catch (const YAML::Exception &e) {
        throw Error(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1)
                    + ": invalid YAML: " + e.msg);
    }
    LineMap lines;
    std::vector<Diagnostic> diags;
    Checker check(lines, diags);
    const json doc = yamlToJson(root, "", lines);
    if (!doc.is_object())
        throwDiagnostics({{"", 1, "an experiment file must be a mapping with schema_version, name, "
                                  "nodes"}}, source);

    Experiment exp;
    exp.source = source;
    static const std::set<std::string> topKeys{"schema_version", "name", "description", "seed",
                                               "arithmetic", "nodes", "layout", "groups"};
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (!topKeys.count(it.key()))
            check.error(it.key(), "unknown key '" + it.key()
                            + "' (known: schema_version, name, description, seed, arithmetic, "
                              "nodes, layout, groups)");
    if (!doc.contains("schema_version"))
        check.error("", "missing 'schema_version' (this QuantBench reads version "
                            + std::to_string(kSchemaVersion) + ")");
    else if (!doc["schema_version"].is_number_integer())
        check.error("schema_version", "expected an integer");
    else if (doc["schema_version"].get<int>() != kSchemaVersion)
        check.error("schema_version", "version " + doc["schema_version"].dump()
                        + " is not supported (this QuantBench reads version "
                        + std::to_string(kSchemaVersion) + ")");
    if (doc.contains("name")) {
        if (doc["name"].is_string())
            exp.name = doc["name"].get<std::string>();
        else
            check.error("name", "expected a string");
    }
    if (doc.contains("description")) {
        if (doc["description"].is_string())
            exp.description = doc["description"].get<std::string>();
        else
            check.error("description", "expected a string");
    }
    if (doc.contains("seed")) {
        if (doc["seed"].is_number_integer() && doc["seed"].get<int64_t>() >= 0)
            exp.seed = doc["seed"].get<uint64_t>();
        else
            check.error("seed", "expected a non-negative integer");
    }
    if (doc.contains("arithmetic") && !doc["arithmetic"].is_null())
        parseArithmetic(doc["arithmetic"], exp, check);
    if (!doc.contains("nodes") || !doc["nodes"].is_array()) {
        check.error(doc.contains("nodes") ? "nodes" : "", "'nodes' must be a list of nodes");
    } else {
        const json &nodes = doc["nodes"];
        for (size_t i = 0; i < nodes.size(); ++i) {
            const std::string base = "nodes[" + std::to_string(i) + "]";
            const json &n = nodes[i];
            NodeDecl decl;
            decl.line = check.lineOf(base);
            if (!n.is_object()) {
                check.error(base, "a node must be a mapping with id, type, inputs, params");
                continue;
            }
            for (auto it = n.begin(); it != n.end(); ++it)
                if (it.key() != "id" && it.key() != "type" && it.key() != "inputs"
                    && it.key() != "params")
                    check.error(base + "." + it.key(), "unknown key '" + it.key()
                                    + "' (a node has id, type, inputs, params)");
            if (!n.contains("id") || !n["id"].is_string()) {
                check.error(base, "missing string 'id'");
                continue;
            }
            decl.id = n["id"].get<std::string>();
            if (!n.contains("type") || !n["type"].is_string()) {
                check.error(base, "node '" + decl.id + "': missing string 'type'");
                continue;
            }
            decl.type = n["type"].get<std::string>();
            if (n.contains("inputs") && !n["inputs"].is_null()) {
                const json &in = n["inputs"];
                if (!in.is_object()) {
                    check.error(base + ".inputs", "expected a mapping port: node id (or list)");
                } else {
                    for (auto it = in.begin(); it != in.end(); ++it) {
                        std::vector<std::string> srcs;
                        const std::string ipath = base + ".inputs." + it.key();
                        if (it->is_string()) {
                            srcs.push_back(it->get<std::string>());
                        } else if (it->is_array()) {
                            for (const auto &s : *it) {
                                if (s.is_string())
                                    srcs.push_back(s.get<std::string>());
                                else
                                    check.error(ipath, "expected node ids (strings)");
                            }
                        } else {
                            check.error(ipath, "expected a node id or a list of node ids");
                        }
                        decl.inputs.emplace_back(it.key(), srcs);
                    }
                }
            }
            if (n.contains("params") && !n["params"].is_null())
                decl.params = n["params"];
            exp.nodes.push_back(std::move(decl));
        }
    }
    if (doc.contains("layout") && !doc["layout"].is_null()) {
        const json &layout = doc["layout"];
        if (!layout.is_object()) {
            check.error("layout", "expected a mapping node id: [x, y]");
        } else {
            for (auto it = layout.begin(); it != layout.end(); ++it) {
                if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number()
                    || !(*it)[1].is_number()) {
                    check.error("layout." + it.key(), "expected [x, y] numbers");
                    continue;
                }
                exp.layout[it.key()] = {(*it)[0].get<double>(), (*it)[1].get<double>()};
            }
        }
    }
    if (doc.contains("groups") && !doc["groups"].is_null())
        parseGroups(doc["groups"], exp, check);
    if (diags.empty()) {
        auto more = validateWithLines(exp, registry, lines);
        diags.insert(diags.end(), more.begin(), more.end());
    }
    if (!diags.empty())
        throwDiagnostics(diags, source);
    return exp;
}

void setParameter(Experiment &experiment, const std::string &assignment,
                  const NodeRegistry &registry)
{
    const std::string where = "--set '" + assignment + "'";
    const auto eq = assignment.find('=');
    const auto dot = assignment.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 >= eq)
        throw Error(where + ": expected NODE.PARAM=VALUE");
    const std::string nodeId = assignment.substr(0, dot);
    NodeDecl *node = experiment.find(nodeId);
    if (!node)
        throw Error(where + ": the experiment has no node '" + nodeId + "'");
    json value;
    try {
        const std::string text = assignment.substr(eq + 1);
        LineMap lines;
        value = text.empty() ? json("") : yamlToJson(YAML::Load(text), "", lines);
    } catch (const YAML::Exception &e) {
        throw Error(where + ": the value is not YAML: " + e.what());
    }
    // Walk the dotted parameter path, creating objects on the way.
    json *target = &node->params;
    std::string path = assignment.substr(dot + 1, eq - dot - 1);
    for (size_t from = 0;;) {
        const size_t next = path.find('.', from);
        const std::string key = path.substr(from, next == std::string::npos ? std::string::npos
                                                                            : next - from);
        if (key.empty())
            throw Error(where + ": empty parameter name in '" + path + "'");
        if (!target->is_object())
            *target = json::object();
        if (next == std::string::npos) {
            (*target)[key] = value;
            break;
        }
        target = &(*target)[key];
        from = next + 1;
    }
    std::string problems;
    for (const auto &d : validateExperiment(experiment, registry))
        problems += "\n  " + d.format(experiment.source);
    if (!problems.empty())
        throw Error(where + ": the experiment is not valid with it:" + problems);
}

Experiment loadExperiment(const std::filesystem::path &path, const NodeRegistry &registry)
{
    return parseExperiment(readTextFile(path), path.string(), registry);
}

namespace {

void emitJson(YAML::Emitter &out, const json &v)
{
    if (v.is_object()) {
        out << YAML::BeginMap;
        for (auto it = v.begin(); it != v.end(); ++it) {
            out << YAML::Key << it.key() << YAML::Value;
            emitJson(out, it.value());
        }
        out << YAML::EndMap;
    } else if (v.is_array()) {
        out << YAML::Flow << YAML::BeginSeq;
        for (const auto &e : v)
            emitJson(out, e);
        out << YAML::EndSeq;
    } else if (v.is_string()) {
        const std::string s = v.get<std::string>();
        // Quote text that would otherwise read back as a number, bool or null.
        // Text YAML cannot read back as itself (e.g. "*.mlp.*" is an alias) is quoted too.
        const json reread = [&]() -> json {
            try {
                YAML::Node probe = YAML::Load(s.empty() ? std::string("''") : s);
                return probe.IsScalar() ? scalarToJson(probe) : json(nullptr);
            } catch (const YAML::Exception &) {
                return nullptr;
            }
        }();
        if (s.empty() || !reread.is_string() || reread.get<std::string>() != s)
            out << YAML::DoubleQuoted << s;
        else
            out << s;
    } else if (v.is_boolean()) {
        out << (v.get<bool>() ? "true" : "false");
    } else if (v.is_number_integer()) {
        out << v.get<int64_t>();
    } else if (v.is_number()) {
        // Shortest text that reads back to the same double.
        std::ostringstream ss;
        ss.precision(17);
        ss << v.get<double>();
        std::string text = ss.str();
        for (int p = 1; p <= 17; ++p) {
            std::ostringstream t;
            t.precision(p);
            t << v.get<double>();
            if (std::stod(t.str()) == v.get<double>()) {
                text = t.str();
                break;
            }
        }
        if (text.find_first_of(".eE") == std::string::npos)
            text += ".0";
        out << text;
    } else {
        out << YAML::Null;
    }
}

} // namespace

std::string toYaml(const Experiment &exp)
{
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "schema_version" << YAML::Value << exp.schemaVersion;
    out << YAML::Key << "name" << YAML::Value;
    emitJson(out, exp.name);
    if (!exp.description.empty()) {
        out << YAML::Key << "description" << YAML::Value;
        emitJson(out, exp.description);
    }
    out << YAML::Key << "seed" << YAML::Value << exp.seed;
    if (!exp.arithmetic.empty()) {
        out << YAML::Key << "arithmetic" << YAML::Value << YAML::Flow << YAML::BeginMap;
        if (exp.arithmetic.int8Activations)
            out << YAML::Key << "activations" << YAML::Value
                << (*exp.arithmetic.int8Activations ? "int8" : "float");
        if (exp.arithmetic.bf16Dense)
            out << YAML::Key << "dense" << YAML::Value
                << (*exp.arithmetic.bf16Dense ? "bf16" : "fp32");
        out << YAML::EndMap;
    }
    out << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
    for (const auto &n : exp.nodes) {
        out << YAML::BeginMap;
        out << YAML::Key << "id" << YAML::Value << n.id;
        out << YAML::Key << "type" << YAML::Value << n.type;
        if (!n.inputs.empty()) {
            out << YAML::Key << "inputs" << YAML::Value << YAML::Flow << YAML::BeginMap;
            for (const auto &[port, srcs] : n.inputs) {
                out << YAML::Key << port << YAML::Value;
                if (srcs.size() == 1) {
                    out << srcs.front();
                } else {
                    out << YAML::Flow << YAML::BeginSeq;
                    for (const auto &s : srcs)
                        out << s;
                    out << YAML::EndSeq;
                }
            }
            out << YAML::EndMap;
        }
        if (n.params.is_object() && !n.params.empty()) {
            out << YAML::Key << "params" << YAML::Value;
            emitJson(out, n.params);
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    if (!exp.layout.empty()) {
        out << YAML::Key << "layout" << YAML::Value << YAML::BeginMap;
        for (const auto &[id, pos] : exp.layout) {
            out << YAML::Key << id << YAML::Value << YAML::Flow << YAML::BeginSeq;
            emitJson(out, pos[0]);
            emitJson(out, pos[1]);
            out << YAML::EndSeq;
        }
        out << YAML::EndMap;
    }
    if (!exp.groups.empty()) {
        out << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
        for (const auto &g : exp.groups) {
            out << YAML::Flow << YAML::BeginMap;
            out << YAML::Key << "title" << YAML::Value;
            emitJson(out, g.title);
            out << YAML::Key << "nodes" << YAML::Value;
            emitJson(out, g.nodes);
            if (g.collapsed)
                out << YAML::Key << "collapsed" << YAML::Value << true;
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

void saveExperiment(const Experiment &experiment, const std::filesystem::path &path)
{
    writeFileAtomic(path, toYaml(experiment));
}

std::vector<std::string> executionOrder(const Experiment &exp, const std::string &upTo)
{
    std::set<std::string> wanted;
    if (!upTo.empty()) {
        if (!exp.find(upTo))
            throw Error(exp.source + ": no node with id '" + upTo + "'");
        std::function<void(const std::string &, int)> collect = [&](const std::string &id, int depth) {
            if (depth > static_cast<int>(exp.nodes.size()))
                throw Error(exp.source + ": the nodes form a cycle through '" + id + "'");
            if (!wanted.insert(id).second)
                return;
            if (const NodeDecl *n = exp.find(id))
                for (const auto &[port, srcs] : n->inputs)
                    for (const auto &s : srcs)
                        collect(s, depth + 1);
        };
        collect(upTo, 0);
    }
    std::vector<std::string> order;
    std::set<std::string> placed;
    const size_t total = upTo.empty() ? exp.nodes.size() : wanted.size();
    // Repeated passes in file order: stable and plenty fast for graphs of tens of nodes.
    while (order.size() < total) {
        bool progressed = false;
        for (const auto &n : exp.nodes) {
            if (placed.count(n.id) || (!upTo.empty() && !wanted.count(n.id)))
                continue;
            bool ready = true;
            for (const auto &[port, srcs] : n.inputs)
                for (const auto &s : srcs)
                    if (!placed.count(s))
                        ready = false;
            if (ready) {
                order.push_back(n.id);
                placed.insert(n.id);
                progressed = true;
            }
        }
        if (!progressed) {
            std::string stuck;
            for (const auto &n : exp.nodes)
                if (!placed.count(n.id) && (upTo.empty() || wanted.count(n.id)))
                    stuck += (stuck.empty() ? "" : ", ") + n.id;
            throw Error(exp.source + ": the nodes form a cycle (or wait on missing nodes): " + stuck);
        }
    }
    return order;
}

} // namespace qb

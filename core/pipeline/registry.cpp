#include "api/registry.h"

#include <algorithm>

namespace qb {

std::string toString(ParamKind kind)
{
    switch (kind) {
    case ParamKind::Int: return "int";
    case ParamKind::Float: return "float";
    case ParamKind::Bool: return "bool";
    case ParamKind::String: return "string";
    case ParamKind::Enum: return "enum";
    case ParamKind::Path: return "path";
    case ParamKind::StringList: return "list of strings";
    case ParamKind::NumberList: return "list of numbers";
    case ParamKind::Object: return "mapping";
    }
    return "?";
}

namespace {

ParamSpec make(std::string name, ParamKind kind, nlohmann::json def, std::string description)
{
    ParamSpec p;
    p.name = std::move(name);
    p.kind = kind;
    p.defaultValue = std::move(def);
    p.description = std::move(description);
    return p;
}

} // namespace

ParamSpec ParamSpec::integer(std::string name, int64_t def, std::string description)
{
    return make(std::move(name), ParamKind::Int, def, std::move(description));
}

ParamSpec ParamSpec::real(std::string name, double def, std::string description)
{
    return make(std::move(name), ParamKind::Float, def, std::move(description));
}

ParamSpec ParamSpec::boolean(std::string name, bool def, std::string description)
{
    return make(std::move(name), ParamKind::Bool, def, std::move(description));
}

ParamSpec ParamSpec::string(std::string name, std::string def, std::string description)
{
    return make(std::move(name), ParamKind::String, std::move(def), std::move(description));
}

ParamSpec ParamSpec::choice(std::string name, std::string def, std::vector<std::string> choices,
                            std::string description)
{
    ParamSpec p = make(std::move(name), ParamKind::Enum, std::move(def), std::move(description));
    p.choices = std::move(choices);
    return p;
}

ParamSpec ParamSpec::path(std::string name, std::string def, std::string description)
{
    return make(std::move(name), ParamKind::Path, std::move(def), std::move(description));
}

ParamSpec ParamSpec::stringList(std::string name, std::string description)
{
    return make(std::move(name), ParamKind::StringList, nlohmann::json::array(),
                std::move(description));
}

ParamSpec ParamSpec::realList(std::string name, std::vector<double> def, std::string description)
{
    return make(std::move(name), ParamKind::NumberList, nlohmann::json(def),
                std::move(description));
}

ParamSpec ParamSpec::intList(std::string name, std::vector<int64_t> def, std::string description)
{
    ParamSpec p = make(std::move(name), ParamKind::NumberList, nlohmann::json(def),
                       std::move(description));
    p.integral = true;
    return p;
}

ParamSpec ParamSpec::object(std::string name, std::vector<ParamSpec> fields,
                            std::string description)
{
    ParamSpec p = make(std::move(name), ParamKind::Object, nullptr, std::move(description));
    p.fields = std::move(fields);
    return p;
}

ParamSpec ParamSpec::required(std::string name, ParamKind kind, std::string description)
{
    return make(std::move(name), kind, nullptr, std::move(description));
}

ParamSpec ParamSpec::range(double lo, double hi) const
{
    ParamSpec p = *this;
    p.min = lo;
    p.max = hi;
    return p;
}

ParamSpec ParamSpec::atLeast(double lo) const
{
    ParamSpec p = *this;
    p.min = lo;
    return p;
}

ParamSpec ParamSpec::optionalValue() const
{
    ParamSpec p = *this;
    p.optional = true;
    return p;
}

ParamSpec ParamSpec::onlyWhen(std::string param, std::vector<std::string> values) const
{
    ParamSpec p = *this;
    p.shownWhen = std::move(param);
    p.shownFor = std::move(values);
    return p;
}

bool ParamSpec::appliesTo(const nlohmann::json &values) const
{
    if (shownWhen.empty())
        return true;
    if (!values.is_object() || !values.contains(shownWhen) || !values[shownWhen].is_string())
        return true;
    const std::string v = values[shownWhen].get<std::string>();
    return std::find(shownFor.begin(), shownFor.end(), v) != shownFor.end();
}

const ParamSpec *NodeSpec::param(const std::string &name) const
{
    for (const auto &p : params)
        if (p.name == name)
            return &p;
    return nullptr;
}

const PortSpec *NodeSpec::input(const std::string &name) const
{
    for (const auto &p : inputs)
        if (p.name == name)
            return &p;
    return nullptr;
}

void NodeRegistry::add(NodeSpec spec)
{
    const std::string type = spec.type;
    m_specs[type] = std::move(spec);
}

const NodeSpec *NodeRegistry::find(const std::string &type) const
{
    auto it = m_specs.find(type);
    return it == m_specs.end() ? nullptr : &it->second;
}

std::vector<const NodeSpec *> NodeRegistry::all() const
{
    std::vector<const NodeSpec *> out;
    for (const auto &[type, spec] : m_specs)
        out.push_back(&spec);
    std::stable_sort(out.begin(), out.end(), [](const NodeSpec *a, const NodeSpec *b) {
        return a->category < b->category;
    });
    return out;
}

namespace {

nlohmann::json resolveFields(const std::vector<ParamSpec> &specs, const nlohmann::json &given)
{
    nlohmann::json out = given.is_object() ? given : nlohmann::json::object();
    for (const auto &p : specs) {
        if (p.kind == ParamKind::Object) {
            out[p.name] = resolveFields(p.fields, out.value(p.name, nlohmann::json::object()));
        } else if (!out.contains(p.name) && !p.defaultValue.is_null()) {
            out[p.name] = p.defaultValue;
        }
    }
    return out;
}

} // namespace

nlohmann::json resolveParams(const NodeSpec &spec, const nlohmann::json &params)
{
    return resolveFields(spec.params, params);
}

} // namespace qb

#include "quant/method_spec.h"

#include "quant/method_registry.h"
#include "util/error.h"

#include <sstream>

using nlohmann::json;

namespace qb {

namespace {

std::string kindName(ParamKind kind)
{
    switch (kind) {
    case ParamKind::Int:
        return "an integer";
    case ParamKind::Float:
        return "a number";
    case ParamKind::Bool:
        return "true or false";
    default:
        return "a " + toString(kind);
    }
}

// v as the kind of p (Float accepts integers and stores them as doubles); throws naming the key.
json typed(const ParamSpec &p, const json &v, const std::string &where)
{
    const bool ok = (p.kind == ParamKind::Int && v.is_number_integer())
        || (p.kind == ParamKind::Float && v.is_number()) || (p.kind == ParamKind::Bool && v.is_boolean())
        || ((p.kind == ParamKind::String || p.kind == ParamKind::Enum) && v.is_string());
    if (!ok)
        throw Error(where + ": " + p.name + " must be " + kindName(p.kind) + ", got " + v.dump());
    return p.kind == ParamKind::Float ? json(v.get<double>()) : v;
}

std::string number(double v)
{
    std::ostringstream ss;
    ss << v;
    return ss.str();
}

const json &value(const MethodSpec &m, const std::string &key)
{
    auto it = m.params.find(key);
    TORCH_CHECK(it != m.params.end(), "MethodSpec ", m.method, " has no parameter ", key);
    return *it;
}

} // namespace

MethodSpec MethodSpec::fromJson(const json &flat, const std::string &where)
{
    if (!flat.is_object())
        throw Error(where + ": expected an object of method parameters, got " + flat.dump());
    if (!flat.contains("method") || !flat["method"].is_string())
        throw Error(where + ": method must be the name of a quantization method");
    MethodSpec m;
    m.method = flat["method"].get<std::string>();
    for (const auto &p : quantMethod(m.method, where).params)
        m.params[p.name] = flat.contains(p.name) ? typed(p, flat[p.name], where) : p.defaultValue;
    m.validate(where);
    return m;
}

int64_t MethodSpec::integer(const std::string &key) const { return value(*this, key).get<int64_t>(); }

double MethodSpec::real(const std::string &key) const { return value(*this, key).get<double>(); }

bool MethodSpec::boolean(const std::string &key) const { return value(*this, key).get<bool>(); }

bool MethodSpec::needsCalibration() const
{
    return quantMethod(method, "MethodSpec").calibration != CalibrationNeed::None;
}

int MethodSpec::actBits() const
{
    auto it = params.find("act_bits");
    return it == params.end() ? 0 : it->get<int>();
}

std::string MethodSpec::label() const
{
    const std::string base = quantMethod(method, "MethodSpec").label(*this);
    return actBits() > 0 ? base + "-a" + std::to_string(actBits()) : base;
}

void MethodSpec::validate(const std::string &where) const
{
    const QuantMethod &q = quantMethod(method, where);
    for (const auto &p : q.params)
        if (!params.contains(p.name))
            throw Error(where + ": " + method + " is missing its parameter " + p.name);
    if (q.validate)
        q.validate(*this, where);
    if (actBits() == 1)
        throw Error(where + ": act_bits must be 0 (weight-only) or 2..8, got 1");
    for (const auto &p : q.params) {
        const json &v = params[p.name];
        if (!v.is_number())
            continue;
        const double d = v.get<double>();
        if ((p.min && d < *p.min) || (p.max && d > *p.max))
            throw Error(where + ": " + p.name + " must be "
                        + (p.min && p.max ? "in " + number(*p.min) + ".." + number(*p.max)
                           : p.min        ? ">= " + number(*p.min)
                                          : "<= " + number(*p.max))
                        + ", got " + v.dump());
    }
}

json MethodSpec::toJson() const
{
    json j = json::object();
    for (const auto &p : quantMethodParams(method))
        j[p.name] = p.defaultValue;
    for (const auto &[k, v] : params.items())
        j[k] = v;
    j["method"] = method;
    return j;
}

std::shared_ptr<LinearOp> quantizeLinear(const LinearOp &op, const MethodSpec &spec,
                                         const LayerCalibration *calib, const std::string &where)
{
    spec.validate(where);
    const QuantMethod &q = quantMethod(spec.method, where);
    at::NoGradGuard noGrad;
    const at::Tensor w = op.denseWeight().detach().to(at::kFloat).contiguous();
    const at::Tensor b = op.bias().defined() ? op.bias().detach().to(at::kFloat) : at::Tensor();
    auto require = [&](const at::Tensor LayerCalibration::*field, const char *what) {
        if (!calib || !(calib->*field).defined())
            throw Error(where + ": method " + spec.method + " needs calibration data (" + what
                        + ")");
    };
    switch (q.calibration) {
    case CalibrationNeed::None:
        break;
    case CalibrationNeed::Absmax:
        require(&LayerCalibration::absmax, "activation absmax");
        break;
    case CalibrationNeed::Hessian:
        require(&LayerCalibration::hessian, "input Hessian");
        break;
    case CalibrationNeed::Rows:
        require(&LayerCalibration::rows, "input rows");
        break;
    }
    auto out = q.quantize(w, b, calib, spec, where);
    out->setActBits(spec.actBits());
    return out;
}

} // namespace qb

#include "quant/method_registry.h"

#include "util/error.h"

#include <algorithm>

namespace qb {

// The table: one line per method (its file is quant/methods/<name>_method.cpp), in the order the
// quantize node offers them.
#define QB_QUANT_METHODS(X)                                                                        \
    X(int8Method)                                                                                  \
    X(llmInt8Method)                                                                               \
    X(nf4Method)                                                                                   \
    X(fp4Method)                                                                                   \
    X(intMethod)                                                                                   \
    X(gptqMethod)                                                                                  \
    X(awqMethod)                                                                                   \
    X(fp8Method)                                                                                   \
    X(smoothquantMethod)

#define QB_DECLARE_METHOD(f) QuantMethod f();
QB_QUANT_METHODS(QB_DECLARE_METHOD)
#undef QB_DECLARE_METHOD

namespace {

// The quantize node listed its method parameters in this order before the table existed; keeping
// it keeps the inspector's form as users know it. Parameters not named here follow in table order.
const std::vector<std::string> kFormOrder = {
    "bits", "group_size", "block_size", "double_quant", "symmetric", "threshold",
    "act_order", "static_groups", "damp", "alpha", "clip_search", "act_bits"};

bool sameSpec(const ParamSpec &a, const ParamSpec &b)
{
    return a.name == b.name && a.kind == b.kind && a.defaultValue == b.defaultValue
        && a.description == b.description && a.min == b.min && a.max == b.max
        && a.choices == b.choices;
}

} // namespace

const ParamSpec *QuantMethod::param(const std::string &n) const
{
    for (const auto &p : params)
        if (p.name == n)
            return &p;
    return nullptr;
}

const std::vector<QuantMethod> &quantMethods()
{
#define QB_LIST_METHOD(f) f(),
    static const std::vector<QuantMethod> table = {QB_QUANT_METHODS(QB_LIST_METHOD)};
#undef QB_LIST_METHOD
    return table;
}

const QuantMethod &quantMethod(const std::string &name, const std::string &where)
{
    std::string known;
    for (const auto &m : quantMethods()) {
        if (m.name == name)
            return m;
        known += (known.empty() ? "" : ", ") + m.name;
    }
    throw Error(where + ": unknown method '" + name + "' (known: " + known + ")");
}

std::vector<ParamSpec> quantMethodParams(const std::string &defaultMethod)
{
    std::vector<std::string> names;
    std::vector<ParamSpec> shared; // union, first-seen order
    std::vector<std::vector<std::string>> users;
    for (const auto &m : quantMethods()) {
        names.push_back(m.name);
        for (const auto &p : m.params) {
            auto it = std::find_if(shared.begin(), shared.end(),
                                   [&](const ParamSpec &s) { return s.name == p.name; });
            if (it == shared.end()) {
                shared.push_back(p);
                users.push_back({m.name});
                continue;
            }
            TORCH_CHECK(sameSpec(*it, p), "quant method ", m.name, ": parameter ", p.name,
                        " differs from the one of ", users[it - shared.begin()].front());
            users[it - shared.begin()].push_back(m.name);
        }
    }
    auto rank = [](const std::string &n) {
        return std::find(kFormOrder.begin(), kFormOrder.end(), n) - kFormOrder.begin();
    };
    std::vector<size_t> order(shared.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return rank(shared[a].name) < rank(shared[b].name);
    });

    std::vector<ParamSpec> out{
        ParamSpec::choice("method", defaultMethod, names, "Quantization method")};
    for (size_t i : order) {
        std::string who;
        for (const auto &u : users[i])
            who += (who.empty() ? "" : " / ") + u;
        ParamSpec p = shared[i].onlyWhen("method", users[i]);
        p.description = who + ": " + p.description;
        out.push_back(p);
    }
    return out;
}

} // namespace qb

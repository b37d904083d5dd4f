#include "api/graph_rules.h"

#include <algorithm>
#include <functional>
#include <set>

namespace qb {

bool portAccepts(const std::string &portType, const std::string &outputType)
{
    return portType == outputType;
}

std::string connectionError(const Experiment &experiment, const NodeRegistry &registry,
                            const std::string &from, const std::string &to,
                            const std::string &port)
{
    const NodeDecl *src = experiment.find(from);
    const NodeDecl *dst = experiment.find(to);
    if (!src || !dst)
        return "no such node";
    if (from == to)
        return "a node cannot take its own output";
    const NodeSpec *fromSpec = registry.find(src->type);
    const NodeSpec *toSpec = registry.find(dst->type);
    const PortSpec *ps = toSpec ? toSpec->input(port) : nullptr;
    if (!fromSpec || !ps)
        return "node '" + to + "' has no input '" + port + "'";
    if (!portAccepts(ps->type, fromSpec->outputType))
        return "port type mismatch: '" + from + "' gives a " + fromSpec->outputType + ", input '"
            + port + "' of '" + to + "' needs a " + ps->type;
    const auto *srcs = dst->inputsOf(port);
    if (srcs && std::find(srcs->begin(), srcs->end(), from) != srcs->end())
        return "'" + from + "' is already connected to input '" + port + "' of '" + to + "'";
    if (!ps->multiple && srcs && !srcs->empty())
        return "input '" + port + "' of '" + to
            + "' takes a single connection and is already connected to '" + srcs->front() + "'";
    // A cycle appears when `to` is already upstream of `from`.
    std::set<std::string> seen;
    std::function<bool(const std::string &)> reaches = [&](const std::string &id) {
        if (id == to)
            return true;
        if (!seen.insert(id).second)
            return false;
        if (const NodeDecl *n = experiment.find(id))
            for (const auto &[p, ups] : n->inputs)
                for (const auto &u : ups)
                    if (reaches(u))
                        return true;
        return false;
    };
    if (reaches(from))
        return "this connection would make a cycle ('" + from + "' already depends on '" + to
            + "')";
    return {};
}

} // namespace qb

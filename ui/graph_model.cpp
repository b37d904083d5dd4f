#include "graph_model.h"

#include "api/graph_rules.h"

#include <QUndoCommand>

#include <algorithm>
#include <functional>
#include <regex>

using nlohmann::json;

namespace qbui {

namespace {

// Whole-experiment snapshots keep every command trivially exact; experiments are small (tens of
// nodes), so copying them costs nothing noticeable.
class SnapshotCommand : public QUndoCommand
{
public:
    SnapshotCommand(GraphModel *model, qb::Experiment before, qb::Experiment after,
                    const QString &text)
        : QUndoCommand(text), m_model(model), m_before(std::move(before)),
          m_after(std::move(after))
    {}
    void undo() override { m_model->applySnapshot(m_before); }
    void redo() override { m_model->applySnapshot(m_after); }

private:
    GraphModel *m_model;
    qb::Experiment m_before;
    qb::Experiment m_after;
};

QString q(const std::string &s) { return QString::fromStdString(s); }

void removeInput(qb::NodeDecl &node, const std::string &port, const std::string &from)
{
    for (auto it = node.inputs.begin(); it != node.inputs.end(); ++it) {
        if (it->first != port)
            continue;
        auto &srcs = it->second;
        srcs.erase(std::remove(srcs.begin(), srcs.end(), from), srcs.end());
        if (srcs.empty())
            node.inputs.erase(it);
        return;
    }
}

} // namespace

GraphModel::GraphModel(const qb::NodeRegistry &registry, QObject *parent)
    : QObject(parent), m_registry(registry)
{
    refreshProblems();
}

void GraphModel::reset(const qb::Experiment &experiment)
{
    m_undo.clear();
    qb::Experiment exp = experiment;
    size_t missing = 0;
    for (const auto &n : exp.nodes)
        missing += exp.layout.count(n.id) ? 0 : 1;
    if (missing > 0) {
        // Mostly unplaced (a hand-written file with a few positions): lay out everything, since
        // the few would collide with the layered block; else place only what is missing.
        const bool all = 2 * missing > exp.nodes.size();
        const auto placed = layeredPositions(exp);
        for (const auto &n : exp.nodes)
            if (all || !exp.layout.count(n.id))
                exp.layout[n.id] = {placed.at(n.id).x(), placed.at(n.id).y()};
    }
    applySnapshot(exp);
    m_undo.setClean();
}

void GraphModel::applySnapshot(const qb::Experiment &experiment)
{
    m_experiment = experiment;
    refreshProblems();
    Q_EMIT changed();
}

void GraphModel::commit(const qb::Experiment &after, const QString &text)
{
    m_undo.push(new SnapshotCommand(this, m_experiment, after, text));
}

std::vector<Edge> GraphModel::edges() const
{
    std::vector<Edge> out;
    for (const auto &n : m_experiment.nodes)
        for (const auto &[port, srcs] : n.inputs)
            for (const auto &s : srcs)
                out.push_back({s, n.id, port});
    return out;
}

QPointF GraphModel::position(const std::string &id) const
{
    auto it = m_experiment.layout.find(id);
    return it == m_experiment.layout.end() ? QPointF() : QPointF(it->second[0], it->second[1]);
}

void GraphModel::refreshProblems()
{
    m_problems.clear();
    static const std::regex indexRe(R"(^nodes\[(\d+)\])");
    for (const auto &d : qb::validateExperiment(m_experiment, m_registry)) {
        std::smatch m;
        std::string node;
        if (std::regex_search(d.path, m, indexRe)) {
            const size_t i = std::stoul(m[1]);
            if (i < m_experiment.nodes.size())
                node = m_experiment.nodes[i].id;
        }
        m_problems[node] << q(d.message);
    }
}

std::string GraphModel::freshId(const std::string &type, const qb::Experiment &exp) const
{
    std::string base = type.substr(type.rfind('.') + 1);
    std::replace_if(base.begin(), base.end(), [](char c) { return !std::isalnum(
                                                               static_cast<unsigned char>(c)); },
                    '_');
    if (base.empty() || std::isdigit(static_cast<unsigned char>(base[0])))
        base = "n_" + base;
    if (!exp.find(base))
        return base;
    for (int i = 2;; ++i) {
        const std::string id = base + "_" + std::to_string(i);
        if (!exp.find(id))
            return id;
    }
}

QString GraphModel::addNode(const std::string &type, QPointF pos, std::string *newId)
{
    if (!m_registry.find(type))
        return tr("unknown node type '%1'").arg(q(type));
    qb::Experiment exp = m_experiment;
    qb::NodeDecl decl;
    decl.id = freshId(type, exp);
    decl.type = type;
    exp.nodes.push_back(decl);
    exp.layout[decl.id] = {pos.x(), pos.y()};
    if (newId)
        *newId = decl.id;
    commit(exp, tr("Add %1").arg(q(decl.id)));
    return {};
}

QString GraphModel::canConnect(const Edge &e) const
{
    return QString::fromStdString(
        qb::connectionError(m_experiment, m_registry, e.from, e.to, e.port));
}

QString GraphModel::connectPorts(const Edge &e)
{
    const QString why = canConnect(e);
    if (!why.isEmpty())
        return why;
    qb::Experiment exp = m_experiment;
    qb::NodeDecl *to = exp.find(e.to);
    auto it = std::find_if(to->inputs.begin(), to->inputs.end(),
                           [&](const auto &p) { return p.first == e.port; });
    if (it == to->inputs.end())
        to->inputs.push_back({e.port, {e.from}});
    else
        it->second.push_back(e.from);
    commit(exp, tr("Connect %1 → %2.%3").arg(q(e.from), q(e.to), q(e.port)));
    return {};
}

void GraphModel::disconnectPorts(const Edge &e)
{
    removeItems({}, {e});
}

void GraphModel::removeItems(const std::set<std::string> &nodeIds, const std::vector<Edge> &edges)
{
    if (nodeIds.empty() && edges.empty())
        return;
    qb::Experiment exp = m_experiment;
    for (const auto &e : edges)
        if (qb::NodeDecl *to = exp.find(e.to))
            removeInput(*to, e.port, e.from);
    exp.nodes.erase(std::remove_if(exp.nodes.begin(), exp.nodes.end(),
                                   [&](const auto &n) { return nodeIds.count(n.id) > 0; }),
                    exp.nodes.end());
    for (auto &n : exp.nodes)
        for (const auto &id : nodeIds) {
            const auto ports = n.inputs;
            for (const auto &[port, srcs] : ports)
                removeInput(n, port, id);
        }
    for (const auto &id : nodeIds)
        exp.layout.erase(id);
    for (auto &g : exp.groups)
        g.nodes.erase(std::remove_if(g.nodes.begin(), g.nodes.end(),
                                     [&](const auto &id) { return nodeIds.count(id) > 0; }),
                      g.nodes.end());
    exp.groups.erase(std::remove_if(exp.groups.begin(), exp.groups.end(),
                                    [](const auto &g) { return g.nodes.empty(); }),
                     exp.groups.end());
    const QString text = nodeIds.empty() ? tr("Disconnect") : tr("Delete %n node(s)", nullptr,
                                                                   int(nodeIds.size()));
    commit(exp, text);
}

void GraphModel::moveNodes(const std::map<std::string, QPointF> &positions)
{
    qb::Experiment exp = m_experiment;
    bool any = false;
    for (const auto &[id, p] : positions) {
        if (!exp.find(id))
            continue;
        const std::array<double, 2> v{p.x(), p.y()};
        any = any || exp.layout[id] != v;
        exp.layout[id] = v;
    }
    if (any)
        commit(exp, tr("Move"));
}

void GraphModel::setParam(const std::string &nodeId, const std::vector<std::string> &path,
                          const json &value)
{
    qb::Experiment exp = m_experiment;
    qb::NodeDecl *n = exp.find(nodeId);
    if (!n || path.empty())
        return;
    json *obj = &n->params;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
        json &child = (*obj)[path[i]];
        if (!child.is_object())
            child = json::object();
        obj = &child;
    }
    if (value.is_null())
        obj->erase(path.back());
    else
        (*obj)[path.back()] = value;
    // An object emptied of written keys means "all defaults": drop it so files stay minimal.
    if (path.size() > 1 && n->params[path.front()].empty())
        n->params.erase(path.front());
    if (n->params == m_experiment.find(nodeId)->params)
        return;
    std::string name;
    for (const auto &p : path)
        name += (name.empty() ? "" : ".") + p;
    commit(exp, tr("Set %1.%2").arg(q(nodeId), q(name)));
}

QString GraphModel::renameNode(const std::string &oldId, const std::string &newId)
{
    if (oldId == newId)
        return {};
    static const std::regex idRe("[A-Za-z_][A-Za-z0-9_.-]*");
    if (!std::regex_match(newId, idRe))
        return tr("node id '%1' must start with a letter or _ and use letters, digits, _ . -")
            .arg(q(newId));
    if (m_experiment.find(newId))
        return tr("a node with id '%1' already exists").arg(q(newId));
    qb::Experiment exp = m_experiment;
    qb::NodeDecl *n = exp.find(oldId);
    if (!n)
        return tr("no such node");
    n->id = newId;
    for (auto &m : exp.nodes)
        for (auto &[port, srcs] : m.inputs)
            std::replace(srcs.begin(), srcs.end(), oldId, newId);
    for (auto &g : exp.groups)
        std::replace(g.nodes.begin(), g.nodes.end(), oldId, newId);
    if (auto it = exp.layout.find(oldId); it != exp.layout.end()) {
        exp.layout[newId] = it->second;
        exp.layout.erase(oldId);
    }
    commit(exp, tr("Rename %1 to %2").arg(q(oldId), q(newId)));
    return {};
}

void GraphModel::setExperimentInfo(const std::string &name, uint64_t seed)
{
    if (name == m_experiment.name && seed == m_experiment.seed)
        return;
    qb::Experiment exp = m_experiment;
    exp.name = name;
    exp.seed = seed;
    commit(exp, tr("Edit experiment"));
}

void GraphModel::setArithmetic(const qb::ArithmeticDecl &arithmetic)
{
    if (arithmetic == m_experiment.arithmetic)
        return;
    qb::Experiment exp = m_experiment;
    exp.arithmetic = arithmetic;
    commit(exp, tr("Edit arithmetic"));
}

int GraphModel::groupOf(const std::string &id) const
{
    const auto &groups = m_experiment.groups;
    for (size_t g = 0; g < groups.size(); ++g)
        if (std::find(groups[g].nodes.begin(), groups[g].nodes.end(), id) != groups[g].nodes.end())
            return int(g);
    return -1;
}

int GraphModel::groupNodes(const std::set<std::string> &ids, const std::string &title)
{
    qb::Experiment exp = m_experiment;
    qb::GroupDecl group;
    group.title = title;
    for (const auto &n : exp.nodes) // file order, so the group's list reads like the file
        if (ids.count(n.id))
            group.nodes.push_back(n.id);
    if (group.nodes.empty())
        return -1;
    for (auto &g : exp.groups)
        g.nodes.erase(std::remove_if(g.nodes.begin(), g.nodes.end(),
                                     [&](const auto &id) { return ids.count(id) > 0; }),
                      g.nodes.end());
    exp.groups.erase(std::remove_if(exp.groups.begin(), exp.groups.end(),
                                    [](const auto &g) { return g.nodes.empty(); }),
                     exp.groups.end());
    exp.groups.push_back(group);
    commit(exp, tr("Group %n node(s)", nullptr, int(group.nodes.size())));
    return int(exp.groups.size()) - 1;
}

void GraphModel::ungroup(const std::set<int> &groups)
{
    qb::Experiment exp = m_experiment;
    for (auto it = groups.rbegin(); it != groups.rend(); ++it)
        if (*it >= 0 && *it < int(exp.groups.size()))
            exp.groups.erase(exp.groups.begin() + *it);
    if (exp.groups.size() != m_experiment.groups.size())
        commit(exp, tr("Ungroup"));
}

void GraphModel::setGroupCollapsed(int group, bool collapsed)
{
    if (group < 0 || group >= int(m_experiment.groups.size())
        || m_experiment.groups[group].collapsed == collapsed)
        return;
    qb::Experiment exp = m_experiment;
    exp.groups[group].collapsed = collapsed;
    commit(exp, (collapsed ? tr("Collapse %1") : tr("Expand %1")).arg(q(exp.groups[group].title)));
}

void GraphModel::setGroupTitle(int group, const std::string &title)
{
    if (group < 0 || group >= int(m_experiment.groups.size())
        || m_experiment.groups[group].title == title)
        return;
    qb::Experiment exp = m_experiment;
    exp.groups[group].title = title;
    commit(exp, tr("Rename group to %1").arg(q(title)));
}

void GraphModel::autoLayout()
{
    qb::Experiment exp = m_experiment;
    for (const auto &[id, p] : layeredPositions(exp))
        exp.layout[id] = {p.x(), p.y()};
    if (exp.layout != m_experiment.layout)
        commit(exp, tr("Automatic layout"));
}

std::string GraphModel::copyNodes(const std::set<std::string> &ids) const
{
    json nodes = json::array();
    for (const auto &n : m_experiment.nodes) {
        if (!ids.count(n.id))
            continue;
        json inputs = json::object();
        for (const auto &[port, srcs] : n.inputs)
            for (const auto &s : srcs)
                if (ids.count(s))
                    inputs[port].push_back(s);
        const QPointF p = position(n.id);
        nodes.push_back({{"id", n.id}, {"type", n.type}, {"params", n.params},
                         {"inputs", inputs}, {"pos", {p.x(), p.y()}}});
    }
    return json{{"quantbench_nodes", nodes}}.dump();
}

std::vector<std::string> GraphModel::pasteNodes(const std::string &clip, QPointF offset,
                                                QString *error)
{
    std::vector<std::string> added;
    try {
        const json doc = json::parse(clip);
        const json &nodes = doc.at("quantbench_nodes");
        qb::Experiment exp = m_experiment;
        std::map<std::string, std::string> rename;
        for (const auto &n : nodes) {
            const std::string type = n.at("type").get<std::string>();
            if (!m_registry.find(type))
                throw std::runtime_error("unknown node type '" + type + "'");
            qb::NodeDecl decl;
            decl.id = freshId(n.at("id").get<std::string>(), exp);
            decl.type = type;
            decl.params = n.value("params", json::object());
            rename[n.at("id").get<std::string>()] = decl.id;
            const auto pos = n.value("pos", std::vector<double>{0, 0});
            exp.layout[decl.id] = {pos.at(0) + offset.x(), pos.at(1) + offset.y()};
            exp.nodes.push_back(decl);
            added.push_back(decl.id);
        }
        for (const auto &n : nodes) {
            qb::NodeDecl *decl = exp.find(rename.at(n.at("id").get<std::string>()));
            const json inputs = n.value("inputs", json::object());
            for (const auto &[port, srcs] : inputs.items()) {
                std::vector<std::string> ids;
                for (const auto &s : srcs)
                    ids.push_back(rename.at(s.get<std::string>()));
                decl->inputs.push_back({port, ids});
            }
        }
        if (!added.empty())
            commit(exp, tr("Paste %n node(s)", nullptr, int(added.size())));
    } catch (const std::exception &e) {
        added.clear();
        if (error)
            *error = tr("The clipboard holds no QuantBench nodes (%1)").arg(e.what());
    }
    return added;
}

} // namespace qbui

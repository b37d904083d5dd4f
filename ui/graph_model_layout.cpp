// GraphModel's automatic layout (layeredPositions): columns by dependency depth, groups as
// blocks. Apart from the model's edits so that each file stays one readable piece.
#include "graph_model.h"

#include <QSizeF>

#include <algorithm>
#include <cmath>

namespace qbui {

std::map<std::string, QPointF> GraphModel::layeredPositions(const qb::Experiment &exp) const
{
    // Columns by dependency depth (models and datasets, then quantize/finetune, then analysis and
    // evaluation); within a column, blocks sit near the mean row of what feeds them, so edges
    // cross less; a column taller than kMaxRows rows wraps into side-by-side sub-columns, so that
    // 20 nodes make a readable block rather than a tall column. A block is one node, or a group
    // with its members in columns of their own inside it.
    constexpr int kMaxRows = 6;
    constexpr double kColumnWidth = 250, kColumnGap = 70, kRowPitch = 130;
    std::vector<std::string> order;
    try {
        order = qb::executionOrder(exp);
    } catch (const std::exception &) {
        for (const auto &n : exp.nodes) // a cycle: keep file order, one column
            order.push_back(n.id);
    }
    std::map<std::string, int> depth;
    for (const auto &id : order) {
        int d = 0;
        if (const qb::NodeDecl *n = exp.find(id))
            for (const auto &[port, srcs] : n->inputs)
                for (const auto &s : srcs)
                    if (depth.count(s))
                        d = std::max(d, depth[s] + 1);
        depth[id] = d;
    }
    auto fileIndex = [&](const std::string &id) {
        for (size_t i = 0; i < exp.nodes.size(); ++i)
            if (exp.nodes[i].id == id)
                return int(i);
        return int(exp.nodes.size());
    };
    auto givesModel = [&](const std::string &id) {
        const qb::NodeDecl *n = exp.find(id);
        const qb::NodeSpec *spec = n ? m_registry.find(n->type) : nullptr;
        return spec && spec->outputType == "model";
    };

    struct Block
    {
        std::vector<std::string> members;     // in file order
        std::map<std::string, QPointF> at;    // member offsets from the block's top-left
        QSizeF size;                          // room taken in its column, gaps included
        int column = 0;
        double key = 0;
    };
    std::vector<Block> blocks;
    std::map<std::string, size_t> blockOf;
    for (const auto &g : exp.groups) {
        Block b;
        for (const auto &id : g.nodes)
            if (depth.count(id) && !blockOf.count(id))
                b.members.push_back(id);
        if (b.members.empty())
            continue;
        std::sort(b.members.begin(), b.members.end(),
                  [&](const auto &x, const auto &y) { return fileIndex(x) < fileIndex(y); });
        // The block stands in the column of most of its members (the median depth), so that an
        // analysis group with one shallow member still sits right of what it reads.
        std::vector<int> depths;
        for (const auto &id : b.members)
            depths.push_back(depth[id]);
        std::sort(depths.begin(), depths.end());
        b.column = depths[depths.size() / 2];
        // Inside: one column per depth, wrapped like the outer ones.
        std::map<int, std::vector<std::string>> inner;
        for (const auto &id : b.members)
            inner[depth[id]].push_back(id);
        double x = GroupFrame::kPad;
        int tallest = 1;
        for (const auto &[d, ids] : inner) {
            const int sub = (int(ids.size()) + kMaxRows - 1) / kMaxRows;
            const int rows = (int(ids.size()) + sub - 1) / sub;
            tallest = std::max(tallest, rows);
            for (size_t i = 0; i < ids.size(); ++i)
                b.at[ids[i]] = QPointF(x + int(i) / rows * kColumnWidth,
                                       GroupFrame::kHeader + int(i) % rows * kRowPitch);
            x += sub * kColumnWidth;
        }
        b.size = g.collapsed ? QSizeF(kColumnWidth, kRowPitch)
                             : QSizeF(x + 2 * GroupFrame::kPad,
                                      GroupFrame::kHeader + tallest * kRowPitch + GroupFrame::kPad);
        for (const auto &id : b.members)
            blockOf[id] = blocks.size();
        blocks.push_back(std::move(b));
    }
    for (const auto &id : order)
        if (!blockOf.count(id)) {
            Block b;
            b.members = {id};
            b.at[id] = QPointF(0, 0);
            b.size = QSizeF(kColumnWidth, kRowPitch);
            b.column = depth[id];
            blockOf[id] = blocks.size();
            blocks.push_back(std::move(b));
        }
    int columnCount = 0;
    for (const auto &b : blocks)
        columnCount = std::max(columnCount, b.column + 1);
    std::vector<std::vector<size_t>> columns(columnCount);
    for (size_t i = 0; i < blocks.size(); ++i)
        columns[blocks[i].column].push_back(i);

    std::map<std::string, double> rank; // place within its column, for the next column's order
    for (int c = 0; c < columnCount; ++c) {
        auto &col = columns[c];
        for (size_t bi : col) {
            Block &b = blocks[bi];
            double sum = 0;
            int count = 0;
            for (const auto &id : b.members)
                if (const qb::NodeDecl *n = exp.find(id))
                    for (const auto &[port, srcs] : n->inputs)
                        for (const auto &s : srcs)
                            if (rank.count(s) && blockOf[s] != bi) {
                                sum += rank[s];
                                ++count;
                            }
            const std::string &first = b.members.front();
            // The first column: models above datasets, each in file order.
            b.key = c == 0 ? (givesModel(first) ? 0 : 1000) + fileIndex(first)
                           : (count ? sum / count : 0) * 1000 + fileIndex(first) * 1e-3;
        }
        std::stable_sort(col.begin(), col.end(),
                         [&](size_t a, size_t b) { return blocks[a].key < blocks[b].key; });
        for (size_t i = 0; i < col.size(); ++i)
            for (const auto &id : blocks[col[i]].members)
                rank[id] = double(i) + blocks[col[i]].at[id].y() / kRowPitch * 1e-3;
    }

    // Wrap each column into sub-columns of about equal height, no taller than kMaxRows rows
    // unless one block is; columns are centred on the tallest.
    struct Sub
    {
        std::vector<size_t> blocks;
        double width = 0, height = 0;
    };
    std::vector<std::vector<Sub>> subs(columnCount);
    double tallest = 0;
    for (int c = 0; c < columnCount; ++c) {
        double total = 0, biggest = 0;
        for (size_t bi : columns[c]) {
            total += blocks[bi].size.height();
            biggest = std::max(biggest, blocks[bi].size.height());
        }
        const int n = std::max(1, int(std::ceil(total / (kMaxRows * kRowPitch) - 1e-9)));
        const double limit = std::max(biggest, std::ceil(total / n / kRowPitch - 1e-9) * kRowPitch);
        subs[c].emplace_back();
        for (size_t bi : columns[c]) {
            const QSizeF sz = blocks[bi].size;
            if (!subs[c].back().blocks.empty() && subs[c].back().height + sz.height() > limit + 1e-6)
                subs[c].emplace_back();
            Sub &sub = subs[c].back();
            sub.blocks.push_back(bi);
            sub.height += sz.height();
            sub.width = std::max(sub.width, sz.width());
        }
        for (const Sub &sub : subs[c])
            tallest = std::max(tallest, sub.height);
    }
    std::map<std::string, QPointF> out;
    double x = 0;
    for (int c = 0; c < columnCount; ++c) {
        double high = 0;
        for (const Sub &sub : subs[c])
            high = std::max(high, sub.height);
        for (const Sub &sub : subs[c]) {
            double y = (tallest - high) / 2;
            for (size_t bi : sub.blocks) {
                for (const auto &[id, off] : blocks[bi].at)
                    out[id] = QPointF(x, y) + off;
                y += blocks[bi].size.height();
            }
            x += sub.width;
        }
        x += kColumnGap;
    }
    return out;
}

} // namespace qbui

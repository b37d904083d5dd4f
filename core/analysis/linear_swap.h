// LinearSwap: swaps LinearOps of a model by name and puts the originals back when it goes out of
// scope (also when an exception unwinds), so an analysis leaves the caller's model as it found it.
// Used on one thread with the model it was made for; it does not own the model.
#pragma once
#include "model/transformer.h"

#include <map>
#include <memory>
#include <string>

namespace qb {

class LinearSwap
{
public:
    explicit LinearSwap(Transformer &model) : m_model(model) {}
    ~LinearSwap() { restoreAll(); }
    LinearSwap(const LinearSwap &) = delete;
    LinearSwap &operator=(const LinearSwap &) = delete;

    void set(const std::string &name, std::shared_ptr<LinearOp> op)
    {
        if (!m_saved.count(name))
            m_saved[name] = m_model.linearPtr(name);
        m_model.setLinear(name, std::move(op));
    }
    void restore(const std::string &name)
    {
        auto it = m_saved.find(name);
        if (it != m_saved.end()) {
            m_model.setLinear(name, it->second);
            m_saved.erase(it);
        }
    }
    void restoreAll()
    {
        for (const auto &[name, op] : m_saved)
            m_model.setLinear(name, op);
        m_saved.clear();
    }

private:
    Transformer &m_model;
    std::map<std::string, std::shared_ptr<LinearOp>> m_saved;
};

} // namespace qb

// WorkHooks: the one shape in which long work (quantizing, analysing, training, generating,
// evaluating) reports progress and log lines and learns that it should stop. The library never
// decides threads for its caller (as ggml's callbacks): every hook is called on the thread that
// runs the work, and any of them may be empty. Plain data; copy freely.
#pragma once
#include <functional>
#include <string>

namespace qb {

struct WorkHooks
{
    // done of total units (steps, layers, questions), with a short message for a progress bar.
    std::function<void(double done, double total, const std::string &message)> progress;
    std::function<void(const std::string &message)> log;
    // Throws qb::Cancelled when the owner asked the work to stop; polled between units.
    std::function<void()> checkCancelled;

    void report(double done, double total, const std::string &message = {}) const
    {
        if (progress)
            progress(done, total, message);
    }
    void say(const std::string &message) const
    {
        if (log)
            log(message);
    }
    void poll() const
    {
        if (checkCancelled)
            checkCancelled();
    }
    // The same hooks with progress mapped into [from, from + span) of an outer total, for work
    // that is one part of a larger job.
    WorkHooks slice(double from, double span, double outerTotal) const
    {
        WorkHooks h = *this;
        if (progress)
            h.progress = [p = progress, from, span, outerTotal](double done, double total,
                                                                 const std::string &m) {
                p(from + (total > 0 ? span * done / total : 0.0), outerTotal, m);
            };
        return h;
    }
};

} // namespace qb

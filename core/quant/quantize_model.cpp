#include "quant/quantize_model.h"

#include "quant/method_registry.h"
#include "util/error.h"

#include <map>
#include <sstream>

using nlohmann::json;

namespace qb {

namespace {

// Thrown by the last recorder of a unit to end the forward early; never escapes this file.
struct StopForward
{
};

// Wraps one LinearOp during calibration: records statistics of its inputs, then forwards.
class RecordingLinear : public LinearOp
{
public:
    RecordingLinear(std::shared_ptr<LinearOp> inner, bool hessian, bool rows, int64_t stride,
                    int *remaining)
        : m_inner(std::move(inner)), m_wantHessian(hessian), m_wantRows(rows), m_stride(stride),
          m_remaining(remaining)
    {
    }

    at::Tensor forward(const at::Tensor &x) override
    {
        auto x2 = x.detach().reshape({-1, x.size(-1)}).to(at::kFloat);
        auto amax = x2.abs().amax(0);
        m_absmax = m_absmax.defined() ? at::maximum(m_absmax, amax) : amax;
        if (m_wantHessian) {
            auto xd = x2.to(at::kDouble);
            auto xtx = at::matmul(xd.t(), xd);
            m_xtx = m_xtx.defined() ? m_xtx + xtx : xtx;
        }
        if (m_wantRows) {
            // Rows whose global index is a multiple of the stride: an even subset of all tokens.
            const int64_t first = (m_stride - m_seen % m_stride) % m_stride;
            if (first < x2.size(0))
                m_rows.push_back(x2.slice(0, first, x2.size(0), m_stride).clone());
        }
        m_seen += x2.size(0);
        if (--*m_remaining == 0)
            throw StopForward{};
        return m_inner->forward(x);
    }

    int64_t inFeatures() const override { return m_inner->inFeatures(); }
    int64_t outFeatures() const override { return m_inner->outFeatures(); }
    std::string kind() const override { return m_inner->kind(); }
    int64_t weightBytes() const override { return m_inner->weightBytes(); }
    at::Tensor denseWeight() const override { return m_inner->denseWeight(); }
    at::Tensor bias() const override { return m_inner->bias(); }

    LayerCalibration result() const
    {
        LayerCalibration c;
        c.tokens = m_seen;
        c.absmax = m_absmax;
        if (m_xtx.defined())
            c.hessian = (m_xtx * (2.0 / std::max<int64_t>(1, m_seen))).to(at::kFloat);
        if (!m_rows.empty())
            c.rows = at::cat(m_rows, 0);
        return c;
    }
    const std::shared_ptr<LinearOp> &inner() const { return m_inner; }

private:
    std::shared_ptr<LinearOp> m_inner;
    bool m_wantHessian, m_wantRows;
    int64_t m_stride;
    int *m_remaining;
    int64_t m_seen = 0;
    at::Tensor m_absmax, m_xtx;
    std::vector<at::Tensor> m_rows;
};

// "model.layers.3." for "model.layers.3.mlp.up_proj", else the name itself.
std::string layerPrefix(const std::string &name)
{
    const std::string head = "model.layers.";
    if (name.rfind(head, 0) != 0)
        return name;
    const auto dot = name.find('.', head.size());
    return dot == std::string::npos ? name : name.substr(0, dot + 1);
}

// Layers of one decoder-layer unit that read the same input learn each other's weights
// (LayerCalibration::inputGroupWeights), in model order.
void addInputGroups(const Transformer &model, const std::vector<std::string> &members,
                    std::map<std::string, LayerCalibration> &calib)
{
    static const std::vector<std::vector<std::string>> groups
        = {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
           {"mlp.gate_proj", "mlp.up_proj"}};
    for (const auto &group : groups) {
        std::vector<std::string> present;
        for (const auto &name : members)
            for (const auto &suffix : group)
                if (name.size() > suffix.size()
                    && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                    present.push_back(name);
        std::vector<at::Tensor> weights;
        for (const auto &name : present)
            weights.push_back(model.linear(name).denseWeight().detach().to(at::kFloat));
        for (const auto &name : present)
            calib[name].inputGroupWeights = weights;
    }
    const std::string o = "self_attn.o_proj", v = "self_attn.v_proj";
    for (const auto &name : members)
        if (name.size() > o.size() && name.compare(name.size() - o.size(), o.size(), o) == 0) {
            const std::string vName = name.substr(0, name.size() - o.size()) + v;
            calib[name].inputScaleFoldable
                = model.linear(vName).outFeatures() == model.linear(name).inFeatures();
        }
}

std::string unitKey(const std::string &name, const QuantMethod &m)
{
    if (m.calibration == CalibrationNeed::None || m.unit == CalibrationUnit::Layer)
        return "single:" + name;
    const std::string prefix = layerPrefix(name);
    if (m.unit == CalibrationUnit::DecoderLayer)
        return "layer:" + prefix;
    static const std::map<std::string, int> stages
        = {{"self_attn.q_proj", 0}, {"self_attn.k_proj", 0}, {"self_attn.v_proj", 0},
           {"self_attn.o_proj", 1}, {"mlp.gate_proj", 2},    {"mlp.up_proj", 2},
           {"mlp.down_proj", 3}};
    auto it = stages.find(name.substr(prefix.size()));
    return "gptq:" + prefix + (it == stages.end() ? name : std::to_string(it->second));
}

// Equal-length sequences batched together (up to 8 per forward), in first-seen order.
std::vector<at::Tensor> calibrationBatches(const std::vector<std::vector<int64_t>> &seqs,
                                           int64_t vocab)
{
    std::map<size_t, std::vector<const std::vector<int64_t> *>> byLength;
    for (size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i].empty())
            throw Error("calibration sequence " + std::to_string(i) + " is empty");
        for (int64_t id : seqs[i])
            if (id < 0 || id >= vocab)
                throw Error("calibration sequence " + std::to_string(i) + ": token id "
                            + std::to_string(id) + " is outside the vocabulary (0.."
                            + std::to_string(vocab - 1) + ")");
        byLength[seqs[i].size()].push_back(&seqs[i]);
    }
    std::vector<at::Tensor> out;
    for (const auto &[len, group] : byLength)
        for (size_t b = 0; b < group.size(); b += 8) {
            const size_t n = std::min<size_t>(8, group.size() - b);
            auto t = at::empty({static_cast<int64_t>(n), static_cast<int64_t>(len)}, at::kLong);
            for (size_t i = 0; i < n; ++i)
                std::copy(group[b + i]->begin(), group[b + i]->end(),
                          t.data_ptr<int64_t>() + i * len);
            out.push_back(t);
        }
    return out;
}

} // namespace

bool globMatch(const std::string &pattern, const std::string &name)
{
    // Iterative matcher with one backtrack point for the last '*'.
    size_t p = 0, n = 0, star = std::string::npos, mark = 0;
    while (n < name.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
            ++p;
            ++n;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = n;
        } else if (star != std::string::npos) {
            p = star + 1;
            n = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

std::vector<std::string> selectLayers(const Transformer &model, const QuantSpec &spec)
{
    auto any = [](const std::vector<std::string> &patterns, const std::string &name) {
        for (const auto &p : patterns)
            if (globMatch(p, name))
                return true;
        return false;
    };
    bool headAsked = false;
    for (const auto &p : spec.include)
        headAsked |= p.find("lm_head") != std::string::npos;
    for (const auto &o : spec.overrides)
        headAsked |= o.pattern.find("lm_head") != std::string::npos;
    std::vector<std::string> out;
    for (const auto &name : model.linearNames()) {
        if (name == "lm_head" && (!headAsked || model.config().tieWordEmbeddings))
            continue;
        bool chosen = any(spec.include, name) && !any(spec.exclude, name);
        for (const auto &o : spec.overrides)
            chosen |= globMatch(o.pattern, name);
        if (chosen)
            out.push_back(name);
    }
    return out;
}

MethodSpec parseMethodSettings(const std::string &items, const json &base,
                               const std::string &where)
{
    json j = json::object();
    std::istringstream in(items);
    std::string item;
    while (in >> item) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(where + ": expected key=value, got '" + item + "'");
        const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
        if (value == "true" || value == "false") {
            j[key] = value == "true";
        } else {
            try {
                size_t used = 0;
                const double d = std::stod(value, &used);
                if (used != value.size())
                    throw std::invalid_argument(value);
                if (d == static_cast<int64_t>(d) && value.find('.') == std::string::npos)
                    j[key] = static_cast<int64_t>(d);
                else
                    j[key] = d;
            } catch (const std::logic_error &) {
                j[key] = value;
            }
        }
    }
    static const std::vector<ParamSpec> known = quantMethodParams("");
    json flat = base;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (std::none_of(known.begin(), known.end(),
                         [&](const ParamSpec &p) { return p.name == it.key(); }))
            throw Error(where + ": unknown key '" + it.key() + "'");
        flat[it.key()] = it.value();
    }
    return MethodSpec::fromJson(flat, where);
}

LayerOverride parseLayerOverride(const std::string &text, const json &node,
                                 const std::string &where)
{
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0)
        throw Error(where + ": expected 'PATTERN: key=value ...', got '" + text + "'");
    LayerOverride o;
    o.pattern = text.substr(0, colon);
    while (!o.pattern.empty() && o.pattern.back() == ' ')
        o.pattern.pop_back();
    o.method = parseMethodSettings(text.substr(colon + 1), node, where);
    return o;
}

QuantizeReport quantizeModel(Transformer &model, const QuantSpec &spec,
                             const std::vector<std::vector<int64_t>> &calibration,
                             const WorkHooks &hooks)
{
    at::NoGradGuard noGrad;
    spec.method.validate("quantize");
    const std::vector<std::string> names = selectLayers(model, spec);
    std::map<std::string, MethodSpec> methods;
    bool mixed = false;
    for (const auto &name : names) {
        methods[name] = spec.method;
        for (const auto &o : spec.overrides)
            if (globMatch(o.pattern, name)) {
                o.method.validate("override '" + o.pattern + "'");
                methods[name] = o.method;
                mixed |= o.method.label() != spec.method.label();
                break;
            }
    }
    // Units in model order (a unit's position is that of its first layer).
    std::vector<std::pair<std::string, std::vector<std::string>>> units;
    std::map<std::string, size_t> unitIndex;
    bool needCalibration = false;
    for (const auto &name : names) {
        const std::string key = unitKey(name, quantMethod(methods[name].method, name));
        needCalibration |= methods[name].needsCalibration();
        if (!unitIndex.count(key)) {
            unitIndex[key] = units.size();
            units.push_back({key, {}});
        }
        units[unitIndex[key]].second.push_back(name);
    }
    if (needCalibration && calibration.empty())
        throw Error("quantize: method needs calibration sequences, none given");
    const auto batches = needCalibration ? calibrationBatches(calibration, model.config().vocabSize)
                                         : std::vector<at::Tensor>{};
    int64_t totalTokens = 0;
    for (const auto &b : batches)
        totalTokens += b.numel();
    const int64_t stride = std::max<int64_t>(1,
                                             (totalTokens + spec.maxCalibrationRows - 1)
                                                 / std::max<int64_t>(1, spec.maxCalibrationRows));

    QuantizeReport report;
    report.label = spec.method.label() + (mixed ? "+mixed" : "");
    size_t done = 0;
    for (const auto &[key, members] : units) {
        hooks.poll();
        std::map<std::string, LayerCalibration> calib;
        if (methods[members.front()].needsCalibration()) {
            int remaining = 0;
            std::vector<std::shared_ptr<RecordingLinear>> recorders;
            for (const auto &name : members) {
                const CalibrationNeed need = quantMethod(methods[name].method, name).calibration;
                auto rec = std::make_shared<RecordingLinear>(
                    model.linearPtr(name), need == CalibrationNeed::Hessian,
                    need == CalibrationNeed::Rows, stride, &remaining);
                recorders.push_back(rec);
                model.setLinear(name, rec);
            }
            try {
                for (const auto &ids : batches) {
                    remaining = static_cast<int>(recorders.size());
                    try {
                        model.forward(ids);
                    } catch (const StopForward &) {
                    }
                    hooks.poll();
                }
            } catch (...) {
                for (size_t i = 0; i < members.size(); ++i)
                    model.setLinear(members[i], recorders[i]->inner());
                throw;
            }
            for (size_t i = 0; i < members.size(); ++i) {
                model.setLinear(members[i], recorders[i]->inner());
                calib[members[i]] = recorders[i]->result();
            }
            if (key.rfind("layer:", 0) == 0)
                addInputGroups(model, members, calib);
        }
        for (const auto &name : members) {
            hooks.report(double(done), double(names.size()), "quantizing " + name);
            const auto original = model.linearPtr(name);
            const auto it = calib.find(name);
            auto q = quantizeLinear(*original, methods[name],
                                    it == calib.end() ? nullptr : &it->second, name);
            const at::Tensor w = original->denseWeight();
            const double rel = (q->denseWeight() - w).norm().item<double>()
                / std::max(1e-30, w.norm().item<double>());
            model.setLinear(name, q);
            QuantizedLayer info;
            info.name = name;
            info.kind = q->kind();
            info.parameters = q->inFeatures() * q->outFeatures();
            info.weightBytes = q->weightBytes() - (q->bias().defined() ? q->bias().numel() * 4 : 0);
            info.weightRelError = rel;
            report.parameters += info.parameters;
            report.weightBytes += info.weightBytes;
            report.layers.push_back(info);
            ++done;
        }
    }
    hooks.report(double(done), double(names.size()), "quantized");
    return report;
}

} // namespace qb

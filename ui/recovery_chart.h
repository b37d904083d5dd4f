// RecoveryChart: the recovery study at a glance — accuracy per stage (full precision, quantized,
// then each recovered model: +QLoRA, +QA-LoRA, +QAT) per task with 95% intervals, and above each
// recovered bar the fraction of the drop it won back: (acc - acc_base) / (acc_full - acc_base),
// where base is the quantized model it was trained from (evaluated with the same KV cache) and
// full the first full-precision model evaluated on the same dataset, with a float32 KV cache when
// there is one; shown only when the drop lies outside both 95% intervals. Fed by evaluation rows
// (qb::EvalRow with stage/base); shows data only when some row is a recovered stage. GUI thread
// only.
#pragma once
#include "chart_widget.h"

#include <nlohmann/json.hpp>

namespace qbui {

class RecoveryChart : public ChartWidget
{
    Q_OBJECT

public:
    struct Bar
    {
        QString series; // the model's label
        QString stage;  // full, quantized, qlora, qalora, qat
        QString task;
        double accuracy = 0;
        double ciLow = 0;
        double ciHigh = 0;
        double recovered = std::numeric_limits<double>::quiet_NaN(); // fraction of the drop
    };

    explicit RecoveryChart(QWidget *parent = nullptr);

    void setRows(const nlohmann::json &rows);
    const std::vector<Bar> &bars() const { return m_bars; }
    bool hasData() const override;
    void clear() override;

protected:
    void rebuild() override;

private:
    std::vector<Bar> m_bars;
};

} // namespace qbui

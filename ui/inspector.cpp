#include "inspector.h"

#include "quant/kernel_settings.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QRegularExpressionValidator>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTimer>
#include <QToolButton>

#include <climits>
#include <limits>

using nlohmann::json;

namespace qbui {

namespace {

QString q(const std::string &s) { return QString::fromStdString(s); }

QString joinPath(const std::vector<std::string> &path)
{
    QStringList parts;
    for (const auto &p : path)
        parts << q(p);
    return parts.join('.');
}

QString specToolTip(const qb::ParamSpec &spec)
{
    QString tip = QStringLiteral("<b>%1</b> (%2)").arg(q(spec.name), q(qb::toString(spec.kind)));
    if (!spec.description.empty())
        tip += QStringLiteral("<br>") + q(spec.description).toHtmlEscaped();
    if (spec.min || spec.max)
        tip += QStringLiteral("<br>Range: %1 … %2")
                   .arg(spec.min ? QString::number(*spec.min) : QStringLiteral("-∞"),
                        spec.max ? QString::number(*spec.max) : QStringLiteral("∞"));
    if (!spec.defaultValue.is_null() && spec.kind != qb::ParamKind::Object)
        tip += QStringLiteral("<br>Default: %1").arg(q(spec.defaultValue.dump()).toHtmlEscaped());
    else if (spec.defaultValue.is_null() && !spec.optional)
        tip += QStringLiteral("<br><i>required</i>");
    return tip;
}

} // namespace

Inspector::Inspector(GraphModel *model, QWidget *parent) : QScrollArea(parent), m_model(model)
{
    setWidgetResizable(true);
    // Deferred: the change may come from one of our own editors' signals.
    connect(m_model, &GraphModel::changed, this, &Inspector::queueRebuild);
    rebuild();
}

void Inspector::queueRebuild()
{
    if (!m_rebuildQueued) {
        m_rebuildQueued = true;
        QTimer::singleShot(0, this, &Inspector::rebuild);
    }
}

void Inspector::editFromEditor(const std::function<void()> &edit)
{
    const bool outer = !m_editing;
    m_editing = true;
    edit();
    if (outer)
        m_editing = false;
}

void Inspector::showNode(const QString &nodeId)
{
    m_nodeId = nodeId;
    if (m_editing)
        queueRebuild();
    else
        rebuild();
}

void Inspector::rebuild()
{
    m_rebuildQueued = false;
    QString focused;
    if (QWidget *f = QApplication::focusWidget(); f && widget() && widget()->isAncestorOf(f))
        focused = f->objectName();
    auto *page = new QWidget;
    auto *form = new QFormLayout(page);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    const qb::NodeDecl *node = m_model->experiment().find(m_nodeId.toStdString());
    const qb::NodeSpec *spec = node ? m_model->registry().find(node->type) : nullptr;
    if (!node) {
        m_nodeId.clear();
        buildExperimentForm(form);
    } else {
        auto *id = new QLineEdit(m_nodeId);
        id->setObjectName(QStringLiteral("node:id"));
        connect(id, &QLineEdit::editingFinished, this, [this, id] {
            const QString wanted = id->text();
            QString why;
            editFromEditor([&] {
                why = m_model->renameNode(m_nodeId.toStdString(), wanted.toStdString());
            });
            if (!why.isEmpty()) {
                Q_EMIT statusMessage(why);
                id->setText(m_nodeId);
                return;
            }
            m_nodeId = wanted;
        });
        form->addRow(tr("Id"), id);
        auto *type = new QLabel(QStringLiteral("<b>%1</b>").arg(q(node->type)));
        form->addRow(tr("Type"), type);
        if (spec) {
            auto *about = new QLabel(q(spec->description));
            about->setWordWrap(true);
            form->addRow(about);
            json resolved = node->params;
            try {
                resolved = qb::resolveParams(*spec, node->params);
            } catch (const std::exception &) {
                // Ill-typed written values: show what is written; validation marks the node.
            }
            addParamRows(form, spec->params, node->params, resolved, {});
        }
        auto problems = m_model->problems().find(node->id);
        if (problems != m_model->problems().end()) {
            auto *label = new QLabel(problems->second.join('\n'));
            label->setWordWrap(true);
            label->setStyleSheet(QStringLiteral("color: #e53935"));
            form->addRow(label);
        }
    }
    setWidget(page);
    if (!focused.isEmpty())
        if (QWidget *w = page->findChild<QWidget *>(focused))
            w->setFocus();
}

void Inspector::buildExperimentForm(QFormLayout *form)
{
    const qb::Experiment &exp = m_model->experiment();
    auto *title = new QLabel(tr("<b>Experiment</b> — select a node to edit its parameters"));
    title->setWordWrap(true);
    form->addRow(title);
    auto *name = new QLineEdit(q(exp.name));
    name->setObjectName(QStringLiteral("experiment:name"));
    auto *seed = new QLineEdit(QString::number(exp.seed));
    seed->setObjectName(QStringLiteral("experiment:seed"));
    seed->setValidator(new QRegularExpressionValidator(QRegularExpression("[0-9]{1,19}"), seed));
    auto apply = [this, name, seed] {
        const std::string text = name->text().toStdString();
        const uint64_t value = seed->text().toULongLong();
        editFromEditor([&] { m_model->setExperimentInfo(text, value); });
    };
    connect(name, &QLineEdit::editingFinished, this, apply);
    connect(seed, &QLineEdit::editingFinished, this, apply);
    form->addRow(tr("Name"), name);
    form->addRow(tr("Seed"), seed);
    addArithmeticRows(form);
    form->addRow(new QLabel(tr("%n node(s)", nullptr, int(exp.nodes.size()))));
}

// The experiment's `arithmetic:` as two choices: the process default (named, with the
// environment variable that sets it), or either value written into the file.
void Inspector::addArithmeticRows(QFormLayout *form)
{
    const qb::ArithmeticDecl current = m_model->experiment().arithmetic;
    // A box of three: default (named), the default value, the other value (index 0, 1, 2).
    auto choiceBox = [](const QString &name, const QString &byDefault, const QString &off,
                        const QString &on, std::optional<bool> value, const QString &tip) {
        auto *box = new QComboBox;
        box->setObjectName(name);
        box->addItem(tr("default (%1)").arg(byDefault));
        box->addItem(off);
        box->addItem(on);
        box->setCurrentIndex(value ? (*value ? 2 : 1) : 0);
        box->setToolTip(tip);
        return box;
    };
    // The defaults as the environment gives them: a run of a file that sets them holds the
    // switches themselves while it lasts.
    auto *activations = choiceBox(
        QStringLiteral("experiment:activations"),
        qb::int8ActivationKernelsByEnvironment() ? tr("int8, QB_ACT_Q8=1") : tr("float"),
        tr("float"), tr("int8 per block of 32"), current.int8Activations,
        tr("<b>arithmetic.activations</b>: what quantized linears multiply their codes with. "
           "int8 rounds the activations to int8 per block of 32 and multiplies by integer dot "
           "products (llama.cpp's q8_0 scheme, AVX-512 VNNI): faster, and other numbers."));
    QString denseTip = tr("<b>arithmetic.dense</b>: how dense float32 linears multiply at "
                          "inference. bf16 rounds both operands to bfloat16 and sums in float32 "
                          "(AVX-512 BF16): faster, and other numbers.");
    if (!qb::bf16ComputeSupported())
        denseTip += tr("<br>This CPU does not run bf16 products: a run here computes in fp32.");
    auto *dense = choiceBox(
        QStringLiteral("experiment:dense"),
        qb::bf16ComputeByEnvironment() ? tr("bf16, QB_COMPUTE_BF16=1") : tr("fp32"), tr("fp32"),
        tr("bf16"), current.bf16Dense, denseTip);
    if (!qb::bf16ComputeSupported())
        if (auto *items = qobject_cast<QStandardItemModel *>(dense->model()))
            items->item(2)->setEnabled(current.bf16Dense.value_or(false));
    auto value = [](int index) {
        return index == 0 ? std::optional<bool>() : std::optional<bool>(index == 2);
    };
    auto apply = [this, activations, dense, value] {
        qb::ArithmeticDecl a;
        a.int8Activations = value(activations->currentIndex());
        a.bf16Dense = value(dense->currentIndex());
        editFromEditor([&] { m_model->setArithmetic(a); });
    };
    connect(activations, QOverload<int>::of(&QComboBox::activated), this, apply);
    connect(dense, QOverload<int>::of(&QComboBox::activated), this, apply);
    form->addRow(tr("Activations"), activations);
    form->addRow(tr("Dense products"), dense);
}

void Inspector::addParamRows(QFormLayout *form, const std::vector<qb::ParamSpec> &specs,
                             const json &written, const json &resolved,
                             const std::vector<std::string> &path)
{
    for (const qb::ParamSpec &spec : specs) {
        // Parameters of other choices (block_size while the method is int) stay hidden.
        if (!spec.appliesTo(resolved))
            continue;
        std::vector<std::string> sub = path;
        sub.push_back(spec.name);
        const json value = resolved.is_object() && resolved.contains(spec.name)
            ? resolved[spec.name] : spec.defaultValue;
        const bool isWritten = written.is_object() && written.contains(spec.name);
        if (spec.kind == qb::ParamKind::Object) {
            auto *box = new QGroupBox(q(spec.name));
            box->setToolTip(specToolTip(spec));
            auto *inner = new QFormLayout(box);
            addParamRows(inner, spec.fields, isWritten ? written[spec.name] : json::object(),
                         value, sub);
            form->addRow(box);
            continue;
        }
        auto *label = new QLabel(q(spec.name));
        label->setToolTip(specToolTip(spec));
        // Bold names mark values written in the file; the others show the defaults.
        if (isWritten) {
            QFont f = label->font();
            f.setBold(true);
            label->setFont(f);
        }
        form->addRow(label, makeEditor(spec, value, sub));
    }
}

QWidget *Inspector::makeEditor(const qb::ParamSpec &spec, const json &value,
                               const std::vector<std::string> &path)
{
    const QString name = QStringLiteral("param:") + joinPath(path);
    QWidget *editor = nullptr;
    switch (spec.kind) {
    case qb::ParamKind::Int: {
        auto *box = new QSpinBox;
        box->setRange(spec.min ? int(std::max<double>(*spec.min, INT_MIN)) : INT_MIN,
                      spec.max ? int(std::min<double>(*spec.max, INT_MAX)) : INT_MAX);
        if (value.is_number())
            box->setValue(int(value.get<double>()));
        connect(box, &QSpinBox::editingFinished, this,
                [this, box, path] { commit(path, json(int64_t(box->value()))); });
        editor = box;
        break;
    }
    case qb::ParamKind::Float: {
        auto *box = new QDoubleSpinBox;
        box->setDecimals(6);
        box->setRange(spec.min ? *spec.min : -1e12, spec.max ? *spec.max : 1e12);
        box->setSingleStep(spec.max && spec.min && *spec.max - *spec.min <= 1 ? 0.05 : 0.1);
        if (value.is_number())
            box->setValue(value.get<double>());
        connect(box, &QDoubleSpinBox::editingFinished, this,
                [this, box, path] { commit(path, json(box->value())); });
        editor = box;
        break;
    }
    case qb::ParamKind::Bool: {
        auto *box = new QCheckBox;
        box->setChecked(value.is_boolean() && value.get<bool>());
        connect(box, &QCheckBox::toggled, this, [this, path](bool on) { commit(path, json(on)); });
        editor = box;
        break;
    }
    case qb::ParamKind::Enum: {
        auto *box = new QComboBox;
        for (const auto &c : spec.choices)
            box->addItem(q(c));
        if (value.is_string())
            box->setCurrentText(q(value.get<std::string>()));
        else
            box->setCurrentIndex(-1);
        connect(box, &QComboBox::activated, this, [this, box, path] {
            commit(path, json(box->currentText().toStdString()));
        });
        editor = box;
        break;
    }
    case qb::ParamKind::StringList: {
        QStringList items;
        if (value.is_array())
            for (const auto &v : value)
                items << (v.is_string() ? q(v.get<std::string>()) : q(v.dump()));
        auto *line = new QLineEdit(items.join(QStringLiteral(", ")));
        line->setPlaceholderText(tr("comma-separated values"));
        connect(line, &QLineEdit::editingFinished, this, [this, line, path] {
            json list = json::array();
            for (const QString &s : line->text().split(',', Qt::SkipEmptyParts))
                if (!s.trimmed().isEmpty())
                    list.push_back(s.trimmed().toStdString());
            commit(path, list);
        });
        editor = line;
        break;
    }
    case qb::ParamKind::NumberList: {
        QStringList items;
        if (value.is_array())
            for (const auto &v : value)
                items << (v.is_string() ? q(v.get<std::string>()) : q(v.dump()));
        auto *line = new QLineEdit(items.join(QStringLiteral(", ")));
        line->setPlaceholderText(tr("comma-separated numbers"));
        connect(line, &QLineEdit::editingFinished, this, [this, line, path, spec] {
            json list = json::array();
            for (const QString &s : line->text().split(',', Qt::SkipEmptyParts)) {
                const QString item = s.trimmed();
                bool ok = false;
                if (spec.integral) {
                    const qlonglong n = item.toLongLong(&ok);
                    if (ok)
                        list.push_back(int64_t(n));
                } else {
                    const double d = item.toDouble(&ok);
                    if (ok)
                        list.push_back(d);
                }
                // Kept as text, so validation names the item that is not a number.
                if (!ok && !item.isEmpty())
                    list.push_back(item.toStdString());
            }
            commit(path, list);
        });
        editor = line;
        break;
    }
    case qb::ParamKind::Path:
    case qb::ParamKind::String:
    case qb::ParamKind::Object: {
        auto *line = new QLineEdit(value.is_string() ? q(value.get<std::string>()) : QString());
        connect(line, &QLineEdit::editingFinished, this, [this, line, path, spec] {
            const bool unset = line->text().isEmpty() && spec.optional;
            commit(path, unset ? json() : json(line->text().toStdString()));
        });
        line->setObjectName(name);
        if (spec.kind != qb::ParamKind::Path) {
            editor = line;
            break;
        }
        auto *row = new QWidget;
        auto *layout = new QHBoxLayout(row);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addWidget(line);
        auto *browse = new QToolButton;
        browse->setText(QStringLiteral("..."));
        browse->setToolTip(tr("Choose a file or folder"));
        browse->setPopupMode(QToolButton::InstantPopup);
        auto *menu = new QMenu(browse);
        auto pick = [this, line, path](bool folder) {
            const QString chosen = folder
                ? QFileDialog::getExistingDirectory(this, tr("Choose folder"), line->text())
                : QFileDialog::getOpenFileName(this, tr("Choose file"), line->text());
            if (!chosen.isEmpty()) {
                line->setText(chosen);
                commit(path, json(chosen.toStdString()));
            }
        };
        menu->addAction(tr("File..."), this, [pick] { pick(false); });
        menu->addAction(tr("Folder..."), this, [pick] { pick(true); });
        browse->setMenu(menu);
        layout->addWidget(browse);
        row->setToolTip(specToolTip(spec));
        line->setToolTip(specToolTip(spec));
        return row;
    }
    }
    editor->setObjectName(name);
    editor->setToolTip(specToolTip(spec));
    return editor;
}

void Inspector::commit(const std::vector<std::string> &path, const json &value)
{
    const qb::NodeDecl *node = m_model->experiment().find(m_nodeId.toStdString());
    if (!node)
        return;
    // Leaving an editor untouched fires editingFinished too: only real changes become commands,
    // so defaults are not written into the file by merely tabbing through.
    if (const qb::NodeSpec *spec = m_model->registry().find(node->type)) {
        try {
            const json *cur = nullptr;
            const json resolved = qb::resolveParams(*spec, node->params);
            cur = &resolved;
            for (const auto &key : path)
                cur = cur && cur->is_object() && cur->contains(key) ? &(*cur)[key] : nullptr;
            if (cur && *cur == value)
                return;
        } catch (const std::exception &) {
        }
    }
    editFromEditor([&] { m_model->setParam(m_nodeId.toStdString(), path, value); });
}

} // namespace qbui

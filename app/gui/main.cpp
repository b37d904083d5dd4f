// quantbench: the Qt workbench. Without options it opens the main window (and PROJECT.yaml when
// given); --render-run and --screenshot are headless helpers for scripts, docs and CI.
#include "api/runtime.h"
#include "ui/headless.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

int main(int argc, char *argv[])
{
    qb::preferPassiveOpenMp(argv);
    // Rendering a run and printing help need no display: default to the offscreen platform so
    // they work on machines without one.
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if ((arg == "--render-run" || arg == "--help" || arg == "-h" || arg == "--version")
            && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    }
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("QuantBench"));
    QApplication::setApplicationName(QStringLiteral("quantbench"));
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "QuantBench workbench: build, run and chart quantization experiments.\n"
        "  quantbench [PROJECT.yaml]\n"
        "  quantbench --render-run RUN_DIR --out DIR\n"
        "  quantbench --screenshot FILE [--open PROJECT.yaml] [--run] [--select NODE] [--chart NAME]"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption renderRun(QStringLiteral("render-run"),
                                       QStringLiteral("Render the figures and report of a run "
                                                      "folder (headless)."),
                                       QStringLiteral("RUN_DIR"));
    const QCommandLineOption out(QStringLiteral("out"),
                                 QStringLiteral("Output folder for --render-run."),
                                 QStringLiteral("DIR"));
    const QCommandLineOption size(QStringLiteral("size"),
                                  QStringLiteral("Figure size for --render-run (default 1200x800)."),
                                  QStringLiteral("WxH"), QStringLiteral("1200x800"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Save a PNG of the main window and exit."),
                                        QStringLiteral("FILE"));
    const QCommandLineOption open(QStringLiteral("open"),
                                  QStringLiteral("Experiment to open (with --screenshot)."),
                                  QStringLiteral("PROJECT.yaml"));
    const QCommandLineOption run(QStringLiteral("run"),
                                 QStringLiteral("Run the project to completion before the "
                                                "screenshot."));
    const QCommandLineOption select(QStringLiteral("select"),
                                    QStringLiteral("Node to select (with --screenshot)."),
                                    QStringLiteral("NODE"));
    const QCommandLineOption chart(QStringLiteral("chart"),
                                   QStringLiteral("Chart tab to show (with --screenshot): metrics, "
                                                  "accuracy, recovery, chain_length, rewards, "
                                                  "temperature, majority, extraction, "
                                                  "layer_error, weight_histogram, sensitivity, "
                                                  "results."),
                                   QStringLiteral("NAME"));
    parser.addOptions({renderRun, out, size, screenshot, open, run, select, chart});
    parser.addPositionalArgument(QStringLiteral("PROJECT.yaml"),
                                 QStringLiteral("Experiment file to open."), QStringLiteral("[PROJECT.yaml]"));
    parser.process(app);

    QTextStream err(stderr);
    qb::initRuntime();

    if (parser.isSet(renderRun)) {
        if (!parser.isSet(out)) {
            err << "--render-run needs --out DIR\n";
            return 2;
        }
        const QStringList wh = parser.value(size).split('x');
        const int w = wh.value(0).toInt();
        const int h = wh.value(1).toInt();
        if (wh.size() != 2 || w <= 0 || h <= 0) {
            err << "--size: expected WxH, e.g. 1200x800\n";
            return 2;
        }
        return qbui::renderRun(parser.value(renderRun), parser.value(out), err, w, h);
    }
    const QString project = parser.isSet(open) ? parser.value(open)
                                               : parser.positionalArguments().value(0);
    if (parser.isSet(screenshot))
        return qbui::screenshotWindow(parser.value(screenshot), project, parser.isSet(run), err,
                                      parser.value(select), parser.value(chart));

    qbui::MainWindow window;
    window.show();
    if (!project.isEmpty())
        QTimer::singleShot(0, &window, [&window, project] { window.openFile(project); });
    return app.exec();
}

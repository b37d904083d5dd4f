#include "eval/question_set.h"

#include "util/error.h"

#include <algorithm>

namespace qb::eval {

const char *taskName(Task task)
{
    return task == Task::Gsm8k ? "gsm8k" : "gpqa";
}

Task taskFromName(const std::string &name)
{
    if (name == "gsm8k")
        return Task::Gsm8k;
    if (name == "gpqa")
        return Task::Gpqa;
    throw Error("unknown task '" + name + "' (known: gsm8k, gpqa)");
}

QuestionSet gsmQuestions(const std::vector<data::GsmRecord> &records, const PromptOptions &options)
{
    QuestionSet set;
    set.task = Task::Gsm8k;
    set.format = options.gsmFormat;
    if (!data::isGsmFormat(set.format))
        throw Error(std::string("prompt format ") + data::promptFormatName(set.format)
                    + " is not a GSM8K format");
    const bool kShot = options.numFewshot > 0 && set.format == data::PromptFormat::Gsm8k;
    if (kShot && options.fewshotPool.empty())
        throw Error("num_fewshot " + std::to_string(options.numFewshot)
                    + " with gsm8k needs questions to draw the shots from: connect a GSM8K "
                      "train split to the evaluate node's 'fewshot' input");
    auto exemplars = data::standardCotExemplars();
    exemplars.resize(std::min<size_t>(exemplars.size(), static_cast<size_t>(options.numFewshot)));
    for (size_t i = 0; i < records.size(); ++i) {
        const data::GsmRecord &r = records[i];
        EvalQuestion q;
        q.id = r.id;
        q.gold = r.gold;
        q.gsm = r;
        std::vector<data::GsmRecord> shots;
        if (kShot) {
            // One spare draw replaces the question itself when the pool holds it.
            for (size_t k : data::fewShotIndices(options.fewshotPool.size(), options.numFewshot + 1,
                                                 options.fewshotSeed + i)) {
                const data::GsmRecord &shot = options.fewshotPool[k];
                if (shot.question != r.question && int(shots.size()) < options.numFewshot)
                    shots.push_back(shot);
            }
        }
        if (set.format == data::PromptFormat::Gsm8kCot) {
            q.prompt = data::gsm8kCotPrompt(r.question, exemplars);
            q.turn = data::gsm8kCotPrompt(r.question, {});
            for (const auto &e : exemplars)
                q.shots.push_back({data::gsm8kCotPrompt(e.question, {}), e.target});
        } else if (set.format == data::PromptFormat::Gsm8kDirect) {
            q.prompt = q.turn = data::gsm8kDirectPrompt(r.question);
        } else {
            q.prompt = data::gsm8kPrompt(r.question, shots);
            q.turn = data::gsm8kPrompt(r.question, {});
            for (const auto &shot : shots)
                q.shots.push_back({data::gsm8kPrompt(shot.question, {}), shot.solution});
        }
        set.questions.push_back(std::move(q));
    }
    return set;
}

QuestionSet gpqaQuestions(const std::vector<data::GpqaRecord> &records, const PromptOptions &options)
{
    QuestionSet set;
    set.task = Task::Gpqa;
    set.format = options.gpqaFormat;
    if (data::isGsmFormat(set.format))
        throw Error(std::string("prompt format ") + data::promptFormatName(set.format)
                    + " is not a GPQA format");
    for (const auto &r : records) {
        EvalQuestion q;
        q.id = r.id;
        q.gold = std::string(1, r.goldLetter());
        q.gpqa = r;
        q.prompt = q.turn = data::gpqaPrompt(r, set.format);
        set.questions.push_back(std::move(q));
    }
    return set;
}

QuestionSet loadQuestions(Task task, const std::filesystem::path &file,
                          const PromptOptions &options, uint64_t shuffleSeed)
{
    return task == Task::Gsm8k ? gsmQuestions(data::loadGsm8k(file), options)
                               : gpqaQuestions(data::loadGpqa(file, shuffleSeed), options);
}

} // namespace qb::eval

#include "data/gsm_generator.h"

#include "data/det_random.h"
#include "util/error.h"

#include <algorithm>
#include <unordered_set>

namespace qb::data {

namespace {

struct Person
{
    const char *name;
    bool she;
};

const std::vector<Person> kPeople = {
    {"Tom", false},  {"Anna", true},   {"Ben", false},   {"Maria", true}, {"Sam", false},
    {"Lily", true},  {"Omar", false},  {"Nina", true},   {"Leo", false},  {"Emma", true},
    {"Raj", false},  {"Sofia", true},  {"Jack", false},  {"Mia", true},   {"Carlos", false},
    {"Zoe", true},   {"Ali", false},   {"Grace", true},  {"Ivan", false}, {"Hana", true},
};

const std::vector<const char *> kObjects = {
    "apples", "marbles", "stickers", "pencils", "cookies", "books",   "shells",  "stamps",
    "coins",  "cards",   "balloons", "beads",   "eggs",    "flowers", "crayons", "toy cars",
};

// Story sentences; {s} subject pronoun, {o} object pronoun, {f} a friend, {b} the amount,
// {k} the factor word, {x} the objects.
const std::vector<const char *> kAdd = {
    "{S} buys {b} more.",
    "{F} gives {o} {b} more.",
    "{S} finds {b} more.",
    "{S} gets {b} more from {f}.",
    "{S} wins {b} more at the fair.",
    "{S} picks up {b} more on the way home.",
};
const std::vector<const char *> kSub = {
    "{S} gives {b} to {f}.",
    "{S} loses {b}.",
    "{S} sells {b}.",
    "{S} uses {b} for a school project.",
    "{S} trades {b} away to {f}.",
};
const std::vector<const char *> kMul = {
    "Then {s} ends up with {k} as many {x} as before.",
    "A week later {s} has {k} as many {x}.",
    "{F} gives {o} enough to have {k} as many {x}.",
};
const std::vector<const char *> kAsk = {
    "How many {x} does {n} have now?",
    "How many {x} does {n} have at the end?",
    "How many {x} does {n} have left?",
};

const char *factorWord(int k)
{
    switch (k) {
    case 2: return "twice";
    case 3: return "three times";
    case 4: return "four times";
    case 5: return "five times";
    default: return nullptr;
    }
}

struct Fill
{
    std::string name, friendName, objects, factor;
    bool she = false;
    int b = 0;
};

std::string capitalized(std::string s)
{
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z')
        s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

std::string expand(const char *pattern, const Fill &f)
{
    std::string out;
    for (const char *p = pattern; *p; ++p) {
        if (*p != '{' || !p[1] || p[2] != '}') {
            out += *p;
            continue;
        }
        switch (p[1]) {
        case 's': out += f.she ? "she" : "he"; break;
        case 'S': out += f.she ? "She" : "He"; break;
        case 'o': out += f.she ? "her" : "him"; break;
        case 'f': out += f.friendName; break;
        case 'F': out += f.friendName; break;
        case 'n': out += f.name; break;
        case 'b': out += std::to_string(f.b); break;
        case 'k': out += f.factor; break;
        case 'x': out += f.objects; break;
        default: out.append(p, 3); break;
        }
        p += 2;
    }
    return out;
}

void checkOptions(const GsmGeneratorOptions &o)
{
    auto fail = [](const std::string &what) { throw Error("GSM generator options: " + what); };
    if (o.minSteps < 1 || o.maxSteps < o.minSteps || o.maxSteps > 8)
        fail("need 1 <= min_steps <= max_steps <= 8");
    if (o.maxValue < 10 || o.maxValue > 999)
        fail("max_value must be in [10, 999]");
    if (o.maxOperand < 1 || o.maxFactor < 2 || o.maxFactor > 5)
        fail("need max_operand >= 1 and max_factor in [2, 5]");
    if (o.testPermille < 1 || o.testPermille > 999)
        fail("test_permille must be in [1, 999]");
}

// One candidate problem from the stream. Operation choice: uniformly among the operations whose
// result stays in [1, maxValue] (subtraction keeps at least 1 so the story still has objects).
GsmProblem makeProblem(DetRng &rng, const GsmGeneratorOptions &o)
{
    const Person &person = rng.pick(kPeople);
    const Person *friendPerson = &rng.pick(kPeople);
    while (friendPerson->name == person.name)
        friendPerson = &rng.pick(kPeople);
    Fill fill;
    fill.name = person.name;
    fill.she = person.she;
    fill.friendName = friendPerson->name;
    fill.objects = rng.pick(kObjects);

    GsmProblem problem;
    problem.startValue = rng.range(2, std::max(2, o.maxValue / 2));
    const int stepCount = rng.range(o.minSteps, o.maxSteps);

    std::string question = fill.name + " has " + std::to_string(problem.startValue) + " "
        + fill.objects + ".";
    std::string solution;
    int value = problem.startValue;
    for (int i = 0; i < stepCount; ++i) {
        std::vector<char> ops;
        if (value < o.maxValue)
            ops.push_back('+');
        if (value >= 2)
            ops.push_back('-');
        if (value * 2 <= o.maxValue)
            ops.push_back('*');
        const char op = rng.pick(ops);
        GsmStep step;
        step.a = value;
        step.op = op;
        const char *pattern = nullptr;
        if (op == '+') {
            fill.b = rng.range(1, std::min(o.maxOperand, o.maxValue - value));
            value += fill.b;
            pattern = rng.pick(kAdd);
        } else if (op == '-') {
            fill.b = rng.range(1, std::min(o.maxOperand, value - 1));
            value -= fill.b;
            pattern = rng.pick(kSub);
        } else {
            fill.b = rng.range(2, std::min(o.maxFactor, o.maxValue / value));
            fill.factor = factorWord(fill.b);
            value *= fill.b;
            pattern = rng.pick(kMul);
        }
        step.b = fill.b;
        step.c = value;
        problem.steps.push_back(step);

        // Each solution line restates its event sentence before the equation. The model then
        // reads the story in order (copying a sentence is what attention does best) and every
        // operand of the equation stands a few tokens before it, instead of having to find the
        // i-th event of the question by counting sentences.
        const std::string event = expand(pattern, fill);
        question += " " + event;
        solution += event.substr(0, event.size() - 1) + ", so " + (fill.she ? "she" : "he")
            + " has " + std::to_string(static_cast<int>(step.a)) + " " + op + " "
            + std::to_string(fill.b) + " = " + std::to_string(value) + " " + fill.objects
            + ".\n";
    }
    question += " " + expand(rng.pick(kAsk), fill);
    solution += "#### " + std::to_string(value);

    problem.record.question = capitalized(question);
    problem.record.solution = solution;
    problem.record.gold = std::to_string(value);
    return problem;
}

} // namespace

const char *splitName(Split split)
{
    return split == Split::Train ? "train" : "test";
}

Split splitOf(const std::string &text, int testPermille)
{
    return stableHash(text) % 1000 < static_cast<std::uint64_t>(testPermille) ? Split::Test
                                                                                  : Split::Train;
}

std::vector<GsmProblem> generateGsmProblems(const GsmGeneratorOptions &options, Split split,
                                            int count)
{
    checkOptions(options);
    // A separate stream per split keeps the test set independent of how many train problems
    // were asked for; the hash rule alone guarantees disjointness.
    DetRng rng(mix64(options.seed ^ (split == Split::Train ? 0x7472ULL : 0x7465ULL)));
    std::vector<GsmProblem> out;
    std::unordered_set<std::string> seen;
    // The question space is far larger than any count we ask for; the cap only guards against
    // options so narrow that the split cannot be filled.
    const long long maxAttempts = 1000LL * std::max(count, 1) + 100000;
    for (long long attempt = 0; static_cast<int>(out.size()) < count; ++attempt) {
        if (attempt >= maxAttempts)
            throw Error("GSM generator: could not find " + std::to_string(count)
                        + " distinct problems for the " + splitName(split)
                        + " split with these options");
        GsmProblem p = makeProblem(rng, options);
        if (splitOf(p.record.question, options.testPermille) != split)
            continue;
        if (!seen.insert(p.record.question).second)
            continue;
        p.record.id =
            std::string("synth-gsm-") + splitName(split) + "-" + std::to_string(out.size());
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<GsmRecord> recordsOf(const std::vector<GsmProblem> &problems)
{
    std::vector<GsmRecord> out;
    out.reserve(problems.size());
    for (const GsmProblem &p : problems)
        out.push_back(p.record);
    return out;
}

} // namespace qb::data

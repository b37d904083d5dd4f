#include "data/gpqa_generator.h"

#include "data/det_random.h"
#include "util/error.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <unordered_set>

namespace qb::data {

std::string formatQuantity(double value)
{
    if (value == 0)
        return "0";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3e", value);
    // buf: [-]d.ddde[+-]XX. Rebuild a plain decimal from the four digits and the exponent.
    std::string s(buf);
    const bool negative = s[0] == '-';
    if (negative)
        s.erase(0, 1);
    const auto ePos = s.find('e');
    const int exponent = std::atoi(s.c_str() + ePos + 1);
    std::string digits = s.substr(0, 1) + s.substr(2, ePos - 2); // "dddd"
    if (exponent < -4 || exponent > 8) {
        std::snprintf(buf, sizeof buf, "%.3e", std::fabs(value));
        return (negative ? "-" : "") + std::string(buf);
    }
    std::string out;
    if (exponent < 0) {
        out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
    } else if (exponent + 1 >= static_cast<int>(digits.size())) {
        out = digits + std::string(static_cast<std::size_t>(exponent + 1 - digits.size()), '0');
    } else {
        out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
    if (out.find('.') != std::string::npos) {
        while (out.back() == '0')
            out.pop_back();
        if (out.back() == '.')
            out.pop_back();
    }
    return (negative ? "-" : "") + out;
}

namespace {

// What one question kind produces before shuffling. The candidate distractors are in order of
// preference; the first three whose formatted text differs from the answer and from each other
// are used, then generic power-of-ten and factor-of-two slips fill any gap.
struct Draft
{
    std::string question;
    double answer = 0;
    std::string unit;
    std::vector<double> distractors;
    std::string explanation;
    std::string subdomain;
};

std::string withUnit(double v, const std::string &unit)
{
    return unit.empty() ? formatQuantity(v) : formatQuantity(v) + " " + unit;
}

// How a conversion's value is drawn. Textbook exercises pick values whose results come out
// exact; so do these, so that a worked answer can write every digit of its result.
enum class ConversionValues
{
    Decimal,    // 2..95, or one decimal 1.1..19.9 (a power-of-ten factor shifts the point)
    Small,      // integers 2..40 (factor 60)
    Few,        // integers 1..12 (factor 3600)
    FivesMps,   // multiples of 5 m/s, 5..60: x 3.6 gives whole km/h
    EighteensKmh, // multiples of 18 km/h, 18..216: / 3.6 gives whole m/s
};

struct Conversion
{
    const char *from;
    const char *to;
    double factor;
    double wrongFactor; // the factor people confuse it with
    ConversionValues values;
};

const std::vector<Conversion> kConversions = {
    {"km", "m", 1000, 100, ConversionValues::Decimal},
    {"m", "cm", 100, 1000, ConversionValues::Decimal},
    {"cm", "mm", 10, 100, ConversionValues::Decimal},
    {"kg", "g", 1000, 100, ConversionValues::Decimal},
    {"g", "mg", 1000, 100, ConversionValues::Decimal},
    {"L", "mL", 1000, 100, ConversionValues::Decimal},
    {"h", "min", 60, 100, ConversionValues::Small},
    {"min", "s", 60, 100, ConversionValues::Small},
    {"h", "s", 3600, 60, ConversionValues::Few},
    {"m/s", "km/h", 3.6, 1000, ConversionValues::FivesMps},
    {"km/h", "m/s", 1 / 3.6, 1000.0 / 60, ConversionValues::EighteensKmh},
    {"kWh", "kJ", 3600, 1000, ConversionValues::Few},
    {"mL", "L", 0.001, 0.01, ConversionValues::Decimal},
    {"mm", "cm", 0.1, 0.01, ConversionValues::Decimal},
};

double conversionValue(DetRng &rng, ConversionValues kind)
{
    switch (kind) {
    case ConversionValues::Decimal:
        return rng.below(2) ? rng.range(2, 95) : rng.range(11, 199) / 10.0;
    case ConversionValues::Small: return rng.range(2, 40);
    case ConversionValues::Few: return rng.range(1, 12);
    case ConversionValues::FivesMps: return 5.0 * rng.range(1, 12);
    case ConversionValues::EighteensKmh: return 18.0 * rng.range(1, 12);
    }
    return 1;
}

Draft unitConversion(DetRng &rng)
{
    const Conversion &c = rng.pick(kConversions);
    const double v = conversionValue(rng, c.values);
    Draft d;
    d.question = "Convert " + formatQuantity(v) + " " + c.from + " to " + c.to + ".";
    // km/h -> m/s divides by 3.6 rather than multiplying by 0.2778: exact, and how it is taught.
    d.answer = c.values == ConversionValues::EighteensKmh ? std::round(v / 3.6) : v * c.factor;
    d.unit = c.to;
    d.distractors = {v / c.factor, v * c.wrongFactor, d.answer * 10};
    d.explanation = c.values == ConversionValues::EighteensKmh
        ? formatQuantity(v) + " " + c.from + " / 3.6 = " + withUnit(d.answer, c.to) + "."
        : formatQuantity(v) + " " + c.from + " x " + formatQuantity(c.factor) + " " + c.to + "/"
            + c.from + " = " + withUnit(d.answer, c.to) + ".";
    d.subdomain = "Units";
    return d;
}

Draft speedOrDistance(DetRng &rng)
{
    static const std::vector<const char *> movers = {"A car", "A train", "A cyclist", "A bus",
                                                     "A boat", "A runner"};
    const char *mover = rng.pick(movers);
    const int speed = rng.range(2, 24) * 5;
    const int hours = rng.range(2, 8);
    const int distance = speed * hours;
    Draft d;
    d.subdomain = "Physics";
    if (rng.below(2)) {
        d.question = std::string(mover) + " travels " + std::to_string(distance) + " km in "
            + std::to_string(hours) + " h at a constant speed. What is its speed?";
        d.answer = speed;
        d.unit = "km/h";
        d.distractors = {double(distance) * hours, double(hours) / distance, speed * 10.0};
        d.explanation = "speed = distance / time = " + std::to_string(distance) + " km / "
            + std::to_string(hours) + " h = " + withUnit(speed, "km/h") + ".";
    } else {
        d.question = std::string(mover) + " moves at a constant " + std::to_string(speed)
            + " km/h for " + std::to_string(hours) + " h. How far does it travel?";
        d.answer = distance;
        d.unit = "km";
        d.distractors = {double(speed) / hours, double(hours) / speed, distance * 10.0};
        d.explanation = "distance = speed x time = " + std::to_string(speed) + " km/h x "
            + std::to_string(hours) + " h = " + withUnit(distance, "km") + ".";
    }
    return d;
}

Draft density(DetRng &rng)
{
    static const std::vector<double> densities = {0.5, 0.8, 0.9, 1.2, 2.5, 2.7, 4.5, 7.8, 8.9,
                                                  11.3};
    const double rho = rng.pick(densities);
    const int volume = rng.range(2, 50);
    const double mass = rho * volume;
    Draft d;
    d.question = "A solid block has a mass of " + formatQuantity(mass) + " g and a volume of "
        + std::to_string(volume) + " cm^3. What is its density?";
    d.answer = rho;
    d.unit = "g/cm^3";
    d.distractors = {mass * volume, volume / mass, rho * 10};
    d.explanation = "density = mass / volume = " + withUnit(mass, "g") + " / "
        + std::to_string(volume) + " cm^3 = " + withUnit(rho, "g/cm^3") + ".";
    d.subdomain = "Physics";
    return d;
}

Draft ohmsLaw(DetRng &rng)
{
    const int current = rng.range(1, 12);
    const int resistance = rng.range(2, 60);
    const int voltage = current * resistance;
    Draft d;
    d.subdomain = "Physics";
    switch (rng.below(3)) {
    case 0:
        d.question = "A current of " + std::to_string(current) + " A flows through a "
            + std::to_string(resistance) + " ohm resistor. What is the voltage across it?";
        d.answer = voltage;
        d.unit = "V";
        d.distractors = {double(current) / resistance, double(resistance) / current,
                         voltage * 10.0};
        d.explanation = "V = I x R = " + std::to_string(current) + " A x "
            + std::to_string(resistance) + " ohm = " + withUnit(voltage, "V") + ".";
        break;
    case 1:
        d.question = "A voltage of " + std::to_string(voltage) + " V is applied across a "
            + std::to_string(resistance) + " ohm resistor. What current flows through it?";
        d.answer = current;
        d.unit = "A";
        d.distractors = {double(voltage) * resistance, double(resistance) / voltage,
                         current / 10.0};
        d.explanation = "I = V / R = " + std::to_string(voltage) + " V / "
            + std::to_string(resistance) + " ohm = " + withUnit(current, "A") + ".";
        break;
    default:
        d.question = "A current of " + std::to_string(current) + " A flows when "
            + std::to_string(voltage) + " V is applied across a resistor. What is its resistance?";
        d.answer = resistance;
        d.unit = "ohm";
        d.distractors = {double(voltage) * current, double(current) / voltage,
                         resistance * 10.0};
        d.explanation = "R = V / I = " + std::to_string(voltage) + " V / "
            + std::to_string(current) + " A = " + withUnit(resistance, "ohm") + ".";
        break;
    }
    return d;
}

Draft forceOrEnergy(DetRng &rng)
{
    const int mass = rng.range(2, 40);
    Draft d;
    d.subdomain = "Physics";
    if (rng.below(2)) {
        const int accel = rng.range(2, 15);
        const int force = mass * accel;
        d.question = "What net force gives a " + std::to_string(mass) + " kg object an "
            "acceleration of " + std::to_string(accel) + " m/s^2?";
        d.answer = force;
        d.unit = "N";
        d.distractors = {double(mass) / accel, double(accel) / mass, force * 10.0};
        d.explanation = "F = m x a = " + std::to_string(mass) + " kg x " + std::to_string(accel)
            + " m/s^2 = " + withUnit(force, "N") + ".";
    } else {
        // An even mass and a speed up to 10 m/s keep the energy below 1000 J and exact.
        const int mass2 = rng.range(1, 10) * 2;
        const int speed = rng.range(2, 10);
        const int energy = mass2 / 2 * speed * speed;
        d.question = "What is the kinetic energy of a " + std::to_string(mass2)
            + " kg object moving at " + std::to_string(speed) + " m/s?";
        d.answer = energy;
        d.unit = "J";
        d.distractors = {double(mass2) * speed * speed, 0.5 * mass2 * speed, energy * 10.0};
        d.explanation = "KE = 1/2 x m x v^2 = 1/2 x " + std::to_string(mass2) + " kg x ("
            + std::to_string(speed) + " m/s)^2 = " + std::to_string(mass2 / 2) + " x "
            + std::to_string(speed * speed) + " = " + withUnit(energy, "J") + ".";
    }
    return d;
}

struct Element
{
    const char *symbol;
    double mass; // standard atomic weight, g/mol
    int number;
};

const std::vector<Element> kElements = {
    {"H", 1.008, 1},    {"C", 12.011, 6},  {"N", 14.007, 7},   {"O", 15.999, 8},
    {"Na", 22.990, 11}, {"Mg", 24.305, 12}, {"S", 32.06, 16},  {"Cl", 35.45, 17},
    {"K", 39.098, 19},  {"Ca", 40.078, 20},
};

struct Compound
{
    const char *formula;
    const char *name;
    std::vector<std::pair<const char *, int>> atoms;
};

const std::vector<Compound> kCompounds = {
    {"H2O", "water", {{"H", 2}, {"O", 1}}},
    {"CO2", "carbon dioxide", {{"C", 1}, {"O", 2}}},
    {"NaCl", "sodium chloride", {{"Na", 1}, {"Cl", 1}}},
    {"CH4", "methane", {{"C", 1}, {"H", 4}}},
    {"NH3", "ammonia", {{"N", 1}, {"H", 3}}},
    {"O2", "oxygen gas", {{"O", 2}}},
    {"N2", "nitrogen gas", {{"N", 2}}},
    {"H2SO4", "sulfuric acid", {{"H", 2}, {"S", 1}, {"O", 4}}},
    {"C6H12O6", "glucose", {{"C", 6}, {"H", 12}, {"O", 6}}},
    {"HCl", "hydrogen chloride", {{"H", 1}, {"Cl", 1}}},
    {"KCl", "potassium chloride", {{"K", 1}, {"Cl", 1}}},
    {"CaCO3", "calcium carbonate", {{"Ca", 1}, {"C", 1}, {"O", 3}}},
    {"MgO", "magnesium oxide", {{"Mg", 1}, {"O", 1}}},
    {"NaOH", "sodium hydroxide", {{"Na", 1}, {"O", 1}, {"H", 1}}},
    {"HNO3", "nitric acid", {{"H", 1}, {"N", 1}, {"O", 3}}},
    {"C2H6", "ethane", {{"C", 2}, {"H", 6}}},
};

const Element &element(const char *symbol)
{
    for (const Element &e : kElements)
        if (std::string(e.symbol) == symbol)
            return e;
    throw Error(std::string("GPQA generator: unknown element ") + symbol);
}

// Molar mass questions are few (one per compound, two phrasings, optional sample mass); the
// sample-mass variant (moles in m grams) multiplies the space.
Draft molarMass(DetRng &rng)
{
    const Compound &c = rng.pick(kCompounds);
    double molar = 0, noSubscripts = 0, atomicNumbers = 0;
    std::string sum;
    for (const auto &[symbol, count] : c.atoms) {
        const Element &e = element(symbol);
        molar += e.mass * count;
        noSubscripts += e.mass;
        atomicNumbers += double(e.number) * count;
        sum += std::string(sum.empty() ? "" : " + ") + std::to_string(count) + " x "
            + formatQuantity(e.mass);
    }
    Draft d;
    d.subdomain = "Chemistry";
    if (rng.below(2)) {
        d.question = "Using standard atomic weights, what is the molar mass of "
            + std::string(c.name) + " (" + c.formula + ")?";
        d.answer = molar;
        d.unit = "g/mol";
        d.distractors = {noSubscripts, atomicNumbers, molar * 10};
        d.explanation = "M(" + std::string(c.formula) + ") = " + sum + " = "
            + withUnit(molar, "g/mol") + ".";
    } else {
        const int moles = rng.range(2, 12);
        const double grams = molar * moles;
        d.question = "How many moles of " + std::string(c.formula) + " are in "
            + formatQuantity(grams) + " g of it?";
        d.answer = moles;
        d.unit = "mol";
        d.distractors = {grams * molar, molar / grams, grams / noSubscripts};
        d.explanation = "M(" + std::string(c.formula) + ") = " + withUnit(molar, "g/mol")
            + "; n = m / M = " + formatQuantity(grams) + " g / " + formatQuantity(molar)
            + " g/mol = " + withUnit(moles, "mol") + ".";
    }
    return d;
}

GpqaRecord finish(const Draft &d)
{
    GpqaRecord r;
    r.question = d.question;
    r.correctAnswer = withUnit(d.answer, d.unit);
    r.explanation = d.explanation;
    r.subdomain = d.subdomain;
    std::vector<double> candidates = d.distractors;
    for (double f : {10.0, 0.1, 2.0, 0.5, 100.0, 0.01, 3.0})
        candidates.push_back(d.answer * f);
    std::unordered_set<std::string> used = {r.correctAnswer};
    int filled = 0;
    for (double v : candidates) {
        if (filled == 3)
            break;
        const std::string text = withUnit(v, d.unit);
        if (used.insert(text).second)
            r.incorrectAnswers[filled++] = text;
    }
    return r;
}

} // namespace

std::vector<std::string> gpqaGeneratorNames()
{
    std::vector<std::string> out;
    for (const Compound &c : kCompounds) {
        out.emplace_back(c.name);
        out.emplace_back(c.formula);
    }
    return out;
}

std::vector<GpqaRecord> generateGpqaRecords(const GpqaGeneratorOptions &options, Split split,
                                            int count)
{
    if (options.testPermille < 1 || options.testPermille > 999)
        throw Error("GPQA generator options: test_permille must be in [1, 999]");
    using Kind = std::function<Draft(DetRng &)>;
    const std::vector<Kind> kinds = {unitConversion, speedOrDistance, density, ohmsLaw,
                                     forceOrEnergy, molarMass};
    DetRng rng(mix64(options.seed ^ (split == Split::Train ? 0x6774ULL : 0x6765ULL)));
    std::vector<GpqaRecord> out;
    std::unordered_set<std::string> seen;
    const long long maxAttempts = 1000LL * std::max(count, 1) + 100000;
    for (long long attempt = 0; static_cast<int>(out.size()) < count; ++attempt) {
        if (attempt >= maxAttempts)
            throw Error("GPQA generator: could not find " + std::to_string(count)
                        + " distinct questions for the " + splitName(split) + " split");
        GpqaRecord r = finish(rng.pick(kinds)(rng));
        if (splitOf(r.question, options.testPermille) != split)
            continue;
        if (!seen.insert(r.question).second)
            continue;
        r.id = std::string("synth-gpqa-") + splitName(split) + "-" + std::to_string(out.size());
        shuffleGpqaChoices(r, options.seed);
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace qb::data

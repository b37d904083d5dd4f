// Canonical decomposition (NFD without mark reordering) over the whole Unicode Character Database
// below U+30000: "é" becomes "e" + U+0301, "ế" becomes "e" + U+0302 + U+0301, Hangul syllables
// become their jamo, and singletons map to their canonical equivalents (U+212B ANGSTROM SIGN to
// "A" + U+030A, CJK compatibility ideographs to the unified ones). BERT's accent stripping
// decomposes with it and then drops the nonspacing marks.
// Thread safety: pure function over a constant table.
#pragma once
#include <string>

namespace qb::tok {

std::u32string decomposeCanonical(const std::u32string &text);

} // namespace qb::tok

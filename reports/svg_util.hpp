// Small helpers the SVG writers share (internal to reports/).
#pragma once

#include <string>
#include <string_view>

namespace syncstorm::svg {

/// The colour of series `index` (a colour-blind friendly palette, cycling).
std::string_view colour(std::size_t index);
/// A figure for a label: few digits, fixed format, "n/a" for NaN and infinities.
std::string number(double v);
/// A tick step of 1, 2 or 5 times a power of ten that cuts `range` into about `ticks` parts.
double nice_step(double range, int ticks);
/// The opening <svg> tag, a white background and the title.
std::string open(int width, int height, std::string_view css_class, std::string_view title);

}  // namespace syncstorm::svg

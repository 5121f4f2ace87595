// Inline SVG charts for the reports: bars with confidence intervals, CDFs, lines over time. Hand-
// written SVG keeps index.html self-contained (no scripts from a network, no chart library) and the
// output byte-for-byte deterministic: every coordinate is printed with a fixed number of decimals.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/svg_util.hpp"

namespace syncstorm {

namespace svg {

std::string_view colour(std::size_t index) {
  // Colour-blind friendly (Okabe-Ito), then a few more.
  static constexpr std::string_view kPalette[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9",
                                                 "#d55e00", "#f0e442", "#000000", "#999999", "#882255"};
  return kPalette[index % std::size(kPalette)];
}

std::string number(double v) {
  if (!std::isfinite(v)) return "n/a";
  const double a = std::fabs(v);
  if (a >= 100'000) return fmt::format("{:.0f}", v);
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  if (a == 0) return "0";
  return fmt::format("{:.3f}", v);
}

double nice_step(double range, int ticks) {
  if (range <= 0) return 1;
  const double raw = range / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

std::string open(int width, int height, std::string_view css_class, std::string_view title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"{}\">\n"
      "<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n"
      "<text x=\"8\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
      css_class, width, height, width, height, markup_escape(title), width, height, markup_escape(title));
}

}  // namespace svg

std::string markup_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string bar_chart_svg(std::string_view title, std::string_view unit, const std::vector<Bar>& bars) {
  constexpr int kLabel = 190, kPlot = 380, kRow = 20, kTop = 28, kRight = 70;
  const int height = kTop + kRow * static_cast<int>(std::max<std::size_t>(1, bars.size())) + 30;
  const int width = kLabel + kPlot + kRight;
  double top = 0;
  for (const Bar& b : bars) top = std::max({top, b.value, b.high});
  if (top <= 0) top = 1;
  auto x = [&](double v) { return kLabel + std::clamp(v, 0.0, top) / top * kPlot; };
  std::string s = svg::open(width, height, "chart bar-chart", title);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = kTop + static_cast<double>(i) * kRow;
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLabel - 6, y + 14, markup_escape(b.label));
    s += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {} {}</title></rect>\n",
                     kLabel, y + 3, std::max(0.5, x(b.value) - kLabel), kRow - 6, b.warn ? "#d55e00" : "#0072b2",
                     markup_escape(b.label), svg::number(b.value), markup_escape(unit));
    if (b.high > b.low) {
      s += fmt::format("<path d=\"M{:.1f} {:.1f}H{:.1f}M{:.1f} {:.1f}v8M{:.1f} {:.1f}v8\" stroke=\"#333\" fill=\"none\"/>\n",
                       x(b.low), y + 10, x(b.high), x(b.low), y + 6, x(b.high), y + 6);
    }
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", std::max(x(b.value), x(b.high)) + 4, y + 14,
                     svg::number(b.value));
  }
  const double axis = kTop + static_cast<double>(std::max<std::size_t>(1, bars.size())) * kRow + 2;
  s += fmt::format("<path d=\"M{} {:.1f}H{}\" stroke=\"#999\"/>\n", kLabel, axis, kLabel + kPlot);
  s += fmt::format("<text x=\"{}\" y=\"{:.1f}\">0</text><text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{} {}</text>\n",
                   kLabel, axis + 14, kLabel + kPlot, axis + 14, svg::number(top), markup_escape(unit));
  if (bars.empty()) s += fmt::format("<text x=\"{}\" y=\"{}\">no data</text>\n", kLabel + 4, kTop + 14);
  s += "</svg>\n";
  return s;
}

namespace {

/// A plot area with axes and ticks, for CDFs and line charts.
struct Frame {
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  static constexpr int kLeft = 60, kTop = 28, kWidth = 460, kHeight = 220, kLegend = 190;

  double x(double v) const { return kLeft + (v - x_min) / (x_max - x_min) * kWidth; }
  double y(double v) const { return kTop + kHeight - (v - y_min) / (y_max - y_min) * kHeight; }

  std::string axes(std::string_view x_label, std::string_view y_label) const {
    std::string s = fmt::format("<path d=\"M{} {}V{}H{}\" stroke=\"#999\" fill=\"none\"/>\n", kLeft, kTop, kTop + kHeight,
                                kLeft + kWidth);
    const double xs = svg::nice_step(x_max - x_min, 6);
    for (double v = std::ceil(x_min / xs) * xs; v <= x_max + xs * 1e-9; v += xs) {
      s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x(v), kTop + kHeight + 14,
                       svg::number(v));
    }
    const double ys = svg::nice_step(y_max - y_min, 5);
    for (double v = std::ceil(y_min / ys) * ys; v <= y_max + ys * 1e-9; v += ys) {
      s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 4, y(v) + 4, svg::number(v));
      s += fmt::format("<path d=\"M{} {:.1f}H{}\" stroke=\"#eee\"/>\n", kLeft + 1, y(v), kLeft + kWidth);
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", kLeft + kWidth / 2, kTop + kHeight + 30,
                     markup_escape(x_label));
    s += fmt::format("<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>\n",
                     kTop + kHeight / 2, kTop + kHeight / 2, markup_escape(y_label));
    return s;
  }
};

std::string plot_series(const Frame& f, const std::vector<Series>& series, bool steps) {
  std::string s;
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::string d;
    double last_y = 0;
    for (std::size_t k = 0; k < series[i].points.size(); ++k) {
      const auto [px, py] = series[i].points[k];
      if (k == 0) {
        d += fmt::format("M{:.1f} {:.1f}", f.x(px), f.y(py));
      } else if (steps) {
        d += fmt::format("H{:.1f}V{:.1f}", f.x(px), f.y(py));
      } else {
        d += fmt::format("L{:.1f} {:.1f}", f.x(px), f.y(py));
      }
      last_y = py;
    }
    (void)last_y;
    if (!d.empty()) {
      s += fmt::format("<path d=\"{}\" stroke=\"{}\" stroke-width=\"1.6\" fill=\"none\"><title>{}</title></path>\n", d,
                       svg::colour(i), markup_escape(series[i].label));
    }
    const int ly = Frame::kTop + 6 + static_cast<int>(i) * 16;
    const int lx = Frame::kLeft + Frame::kWidth + 14;
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"4\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n", lx,
                     ly, svg::colour(i), lx + 16, ly + 5, markup_escape(series[i].label));
  }
  return s;
}

Frame frame_for(const std::vector<Series>& series) {
  Frame f;
  bool any = false;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!any) {
        f.x_min = f.x_max = x;
        f.y_max = y;
        any = true;
      }
      f.x_min = std::min(f.x_min, x);
      f.x_max = std::max(f.x_max, x);
      f.y_max = std::max(f.y_max, y);
    }
  }
  f.x_min = std::min(f.x_min, 0.0);
  if (f.x_max <= f.x_min) f.x_max = f.x_min + 1;
  if (f.y_max <= f.y_min) f.y_max = f.y_min + 1;
  return f;
}

int chart_height(std::size_t series) {
  return std::max(Frame::kTop + Frame::kHeight + 40, Frame::kTop + 16 * static_cast<int>(series) + 16);
}

}  // namespace

std::string cdf_svg(std::string_view title, std::string_view unit, const std::vector<Series>& series) {
  Frame f = frame_for(series);
  f.y_min = 0;
  f.y_max = 1;
  std::string s = svg::open(Frame::kLeft + Frame::kWidth + Frame::kLegend, chart_height(series.size()), "chart cdf-chart", title);
  s += f.axes(unit, "share of samples at or below");
  s += plot_series(f, series, true);
  if (series.empty()) s += fmt::format("<text x=\"{}\" y=\"{}\">no data</text>\n", Frame::kLeft + 8, Frame::kTop + 20);
  s += "</svg>\n";
  return s;
}

std::string line_chart_svg(std::string_view title, std::string_view x_unit, std::string_view y_unit,
                           const std::vector<Series>& series) {
  const Frame f = frame_for(series);
  std::string s = svg::open(Frame::kLeft + Frame::kWidth + Frame::kLegend, chart_height(series.size()), "chart line-chart", title);
  s += f.axes(x_unit, y_unit);
  s += plot_series(f, series, false);
  if (series.empty()) s += fmt::format("<text x=\"{}\" y=\"{}\">no data</text>\n", Frame::kLeft + 8, Frame::kTop + 20);
  s += "</svg>\n";
  return s;
}

}  // namespace syncstorm

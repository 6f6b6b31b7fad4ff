//! SVG charts, written by hand.
//!
//! Why not plotters: its SVG backend measures every label through a font backend, either
//! `ttf` (font-kit, which finds system fonts through fontconfig, absent on a bare server or CI
//! machine) or `ab_glyph` (a font file compiled into the binary), and it writes every point as
//! a separate, fully styled element, which makes a 5,000-point scatter heavy. The report needs
//! a handful of chart shapes; these are scaled axes with readable ticks, lines, histogram
//! steps, bars, points and heat maps, written as compact, self-contained SVG (colours and fonts
//! as attributes, no stylesheet), so the server can send the same markup on its own.
//!
//! Every chart gets a `viewBox` and a natural `width`/`height`; the page scales it down.
//! Text is left to the viewer's fonts; where layout needs a label's width it is estimated
//! from its length (`CHAR_WIDTH`), which is what keeps this free of font files.

use std::fmt::Write;

/// Estimated width of one character at the base font size (12 px), for layout.
const CHAR_WIDTH: f64 = 6.6;
const FONT: &str = r#"font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif" font-size="12""#;
const INK: &str = "#333";
const GRID: &str = "#e6e6e6";
const AXIS: &str = "#888";

/// Colours of the two classes, used by every chart that splits by label.
pub const NORMAL_COLOR: &str = "#3a78b5";
pub const ATTACK_COLOR: &str = "#e08214";
/// Red is kept for DBSCAN noise and anomalies: nothing else uses it.
pub const ALERT_COLOR: &str = "#d62728";
/// Ten distinguishable colours (Tableau 10 without its red) for series such as models.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#bab0ac", "#17becf",
];

/// Escapes text for SVG and HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A pixel coordinate with one decimal, trailing `.0` dropped: sharper than a screen needs and
/// half the bytes of full precision.
fn px(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}

/// A number as a person reads it on an axis or a bar: `0.25`, `12`, `3.5k`, `1.2M`, `1e-4`.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    let trimmed = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a == 0.0 {
        "0".into()
    } else if a >= 1e9 {
        trimmed(format!("{:.1}", v / 1e9)) + "G"
    } else if a >= 1e6 {
        trimmed(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trimmed(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 100.0 {
        format!("{}", v.round() as i64)
    } else if a >= 0.001 {
        trimmed(format!("{v:.3}"))
    } else {
        let exponent = a.log10().floor() as i32;
        let mantissa = v / 10f64.powi(exponent);
        if (mantissa.abs() - 1.0).abs() < 1e-9 {
            format!("{}1e{exponent}", if v < 0.0 { "-" } else { "" })
        } else {
            format!("{mantissa:.1}e{exponent}")
        }
    }
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// log10 of the value; for positive values only (smaller ones sit at the axis start).
    Log,
    /// log10(1 + value): a log scale that keeps zero, for counts such as bytes.
    Log1p,
}

/// One axis: its scale, range of values and title.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub title: String,
    pub scale: Scale,
    pub min: f64,
    pub max: f64,
    /// Tick labels as percentages of 1 (`0.25` → `25 %`).
    pub percent: bool,
}

impl Axis {
    pub fn new(title: &str, scale: Scale, min: f64, max: f64) -> Axis {
        Axis {
            title: title.into(),
            scale,
            min,
            max,
            percent: false,
        }
    }

    pub fn linear(title: &str, min: f64, max: f64) -> Axis {
        Axis::new(title, Scale::Linear, min, max)
    }

    pub fn percent(mut self) -> Axis {
        self.percent = true;
        self
    }

    /// The value in the scale's own units (what is spaced evenly on screen).
    fn transform(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log => v.max(self.min.max(f64::MIN_POSITIVE)).log10(),
            Scale::Log1p => (1.0 + v.max(0.0)).log10(),
        }
    }

    /// Where `v` falls between the axis ends, 0 at `min` and 1 at `max` (clamped).
    pub fn fraction(&self, v: f64) -> f64 {
        let (lo, hi) = (self.transform(self.min), self.transform(self.max));
        if hi <= lo || !v.is_finite() {
            return 0.5;
        }
        ((self.transform(v) - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    /// The tick values: round numbers for linear axes (about `target` of them), powers of ten
    /// for log axes (every other one when there are many).
    pub fn ticks(&self, target: usize) -> Vec<f64> {
        match self.scale {
            Scale::Linear => linear_ticks(self.min, self.max, target),
            Scale::Log | Scale::Log1p => {
                let lowest = if self.scale == Scale::Log {
                    self.min.max(f64::MIN_POSITIVE).log10().ceil() as i32
                } else {
                    0
                };
                let highest = self.max.max(1.0).log10().floor() as i32;
                let count = (highest - lowest + 1).max(0) as usize;
                let stride = count.div_ceil(target.max(2)).max(1);
                let mut ticks: Vec<f64> = if self.scale == Scale::Log1p && self.min <= 0.0 {
                    vec![0.0]
                } else {
                    Vec::new()
                };
                ticks.extend(
                    (lowest..=highest)
                        .filter(|e| ((e - lowest) as usize).is_multiple_of(stride))
                        .map(|e| 10f64.powi(e)),
                );
                ticks
            }
        }
    }

    pub fn label(&self, v: f64) -> String {
        if self.percent {
            let pct = v * 100.0;
            let digits = if pct.abs() >= 1.0 { 1 } else { 2 };
            let text = format!("{pct:.digits$}");
            format!("{} %", text.trim_end_matches('0').trim_end_matches('.'))
        } else {
            format_number(v)
        }
    }
}

/// Round-number ticks from `min` to `max`: steps of 1, 2 or 5 × a power of ten.
pub fn linear_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if max <= min || !min.is_finite() || !max.is_finite() {
        return vec![min];
    }
    let raw = (max - min) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step - 1e-9).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            // Steps like 0.1 accumulate binary noise: round to the step's precision.
            let digits = (-step.log10().floor()).max(0.0) as i32 + 1;
            let factor = 10f64.powi(digits);
            (v * factor).round() / factor
        })
        .collect()
}

/// How a set of points is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled dot.
    Dot,
    /// A hollow ring.
    Ring,
    /// An ×.
    Cross,
}

/// One thing drawn in a [`Plot`]. Layers with a name appear in the legend.
#[derive(Debug, Clone)]
pub enum Layer {
    Line {
        name: String,
        color: String,
        points: Vec<(f64, f64)>,
        dashed: bool,
    },
    /// A histogram: `heights[i]` over `edges[i]..edges[i + 1]`, drawn as a filled step outline.
    Steps {
        name: String,
        color: String,
        edges: Vec<f64>,
        heights: Vec<f64>,
    },
    /// Vertical bars from the bottom of the plot: (left, right, height).
    Bars {
        name: String,
        color: String,
        bars: Vec<(f64, f64, f64)>,
    },
    Points {
        name: String,
        color: String,
        marker: Marker,
        points: Vec<(f64, f64)>,
    },
    /// A labelled reference line across the plot at `value` of the x (`vertical`) or y axis.
    Rule {
        vertical: bool,
        value: f64,
        label: String,
        color: String,
    },
}

impl Layer {
    fn legend(&self) -> Option<(&str, &str, LegendKey)> {
        let (name, color, key) = match self {
            Layer::Line {
                name,
                color,
                dashed,
                ..
            } => (name, color, LegendKey::Line(*dashed)),
            Layer::Steps { name, color, .. } | Layer::Bars { name, color, .. } => {
                (name, color, LegendKey::Box)
            }
            Layer::Points {
                name,
                color,
                marker,
                ..
            } => (name, color, LegendKey::Marker(*marker)),
            Layer::Rule { .. } => return None,
        };
        (!name.is_empty()).then_some((name.as_str(), color.as_str(), key))
    }
}

#[derive(Debug, Clone, Copy)]
enum LegendKey {
    Line(bool),
    Box,
    Marker(Marker),
}

/// A chart on two numeric axes.
#[derive(Debug, Clone)]
pub struct Plot {
    pub width: f64,
    pub height: f64,
    pub x: Axis,
    pub y: Axis,
    pub layers: Vec<Layer>,
    /// What the chart shows, for screen readers (`aria-label`).
    pub description: String,
}

/// The plot area inside the margins.
struct Frame {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Plot {
    pub fn new(x: Axis, y: Axis, description: &str) -> Plot {
        Plot {
            width: 640.0,
            height: 360.0,
            x,
            y,
            layers: Vec::new(),
            description: description.into(),
        }
    }

    pub fn size(mut self, width: f64, height: f64) -> Plot {
        self.width = width;
        self.height = height;
        self
    }

    pub fn layer(mut self, layer: Layer) -> Plot {
        self.layers.push(layer);
        self
    }

    pub fn to_svg(&self) -> String {
        let entries: Vec<_> = self.layers.iter().filter_map(Layer::legend).collect();
        let legend_rows = legend_rows(&entries, self.width - 70.0);
        let y_labels = self.y.ticks(6);
        let widest = y_labels
            .iter()
            .map(|&v| self.y.label(v).chars().count())
            .max()
            .unwrap_or(1) as f64;
        let frame = Frame {
            left: 30.0 + widest * CHAR_WIDTH,
            top: 12.0 + legend_rows.len() as f64 * 18.0,
            right: self.width - 16.0,
            bottom: self.height - 46.0,
        };
        let mut svg = open_svg(self.width, self.height, &self.description);
        self.draw_axes(&mut svg, &frame, &y_labels);
        for layer in &self.layers {
            self.draw_layer(&mut svg, &frame, layer);
        }
        draw_legend(&mut svg, &legend_rows, frame.left, 4.0);
        svg.push_str("</svg>");
        svg
    }

    fn sx(&self, frame: &Frame, v: f64) -> f64 {
        frame.left + self.x.fraction(v) * (frame.right - frame.left)
    }

    fn sy(&self, frame: &Frame, v: f64) -> f64 {
        frame.bottom - self.y.fraction(v) * (frame.bottom - frame.top)
    }

    fn draw_axes(&self, svg: &mut String, f: &Frame, y_ticks: &[f64]) {
        let mut grid = String::new();
        let mut labels = String::new();
        for &v in y_ticks {
            let y = px(self.sy(f, v));
            let _ = write!(grid, "M{} {y}H{}", px(f.left), px(f.right));
            let _ = write!(
                labels,
                r#"<text x="{}" y="{y}" dy="0.32em" text-anchor="end">{}</text>"#,
                px(f.left - 6.0),
                escape(&self.y.label(v))
            );
        }
        let x_target = ((f.right - f.left) / 70.0).floor().max(2.0) as usize;
        for v in self.x.ticks(x_target) {
            let x = px(self.sx(f, v));
            let _ = write!(grid, "M{x} {}V{}", px(f.top), px(f.bottom));
            let _ = write!(
                labels,
                r#"<text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                px(f.bottom + 16.0),
                escape(&self.x.label(v))
            );
        }
        let _ = write!(
            svg,
            r#"<path d="{grid}" stroke="{GRID}" fill="none"/><path d="M{l} {t}V{b}H{r}" stroke="{AXIS}" fill="none"/><g fill="{INK}">{labels}<text x="{cx}" y="{xt}" text-anchor="middle" font-weight="600">{xtitle}</text><text transform="translate(12 {cy}) rotate(-90)" text-anchor="middle" font-weight="600">{ytitle}</text></g>"#,
            l = px(f.left),
            t = px(f.top),
            b = px(f.bottom),
            r = px(f.right),
            cx = px((f.left + f.right) / 2.0),
            xt = px(f.bottom + 36.0),
            cy = px((f.top + f.bottom) / 2.0),
            xtitle = escape(&self.x.title),
            ytitle = escape(&self.y.title),
        );
    }

    fn draw_layer(&self, svg: &mut String, f: &Frame, layer: &Layer) {
        match layer {
            Layer::Line {
                color,
                points,
                dashed,
                ..
            } => {
                let d = polyline(points.iter().map(|&(x, y)| (self.sx(f, x), self.sy(f, y))));
                let dash = if *dashed {
                    r#" stroke-dasharray="6 4""#
                } else {
                    ""
                };
                let _ = write!(
                    svg,
                    r#"<path class="marks" d="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"{dash}/>"#
                );
            }
            Layer::Steps {
                color,
                edges,
                heights,
                ..
            } => {
                let base = px(f.bottom);
                let mut d = format!("M{} {base}", px(self.sx(f, edges[0])));
                for (i, &h) in heights.iter().enumerate() {
                    let y = px(self.sy(f, h));
                    let _ = write!(
                        d,
                        "V{y}H{}",
                        px(self.sx(f, edges.get(i + 1).copied().unwrap_or(edges[i])))
                    );
                }
                let _ = write!(d, "V{base}Z");
                let _ = write!(
                    svg,
                    r#"<path class="marks" d="{d}" fill="{color}" fill-opacity="0.28" stroke="{color}" stroke-width="1.5" stroke-linejoin="round"/>"#
                );
            }
            Layer::Bars { color, bars, .. } => {
                let mut d = String::new();
                for &(x0, x1, h) in bars {
                    let (a, b) = (self.sx(f, x0), self.sx(f, x1));
                    let top = self.sy(f, h);
                    let _ = write!(
                        d,
                        "M{} {}H{}V{}H{}Z",
                        px(a + 0.5),
                        px(f.bottom),
                        px((b - 0.5).max(a + 1.0)),
                        px(top),
                        px(a + 0.5)
                    );
                }
                let _ = write!(svg, r#"<path class="marks" d="{d}" fill="{color}"/>"#);
            }
            Layer::Points {
                color,
                marker,
                points,
                ..
            } => {
                let screen = points.iter().map(|&(x, y)| (self.sx(f, x), self.sy(f, y)));
                svg.push_str(&markers(screen, *marker, color));
            }
            Layer::Rule {
                vertical,
                value,
                label,
                color,
            } => {
                let (d, tx, ty, anchor) = if *vertical {
                    let x = self.sx(f, *value);
                    let anchor = if x > (f.left + f.right) / 2.0 {
                        "end"
                    } else {
                        "start"
                    };
                    let shift = if anchor == "end" { -4.0 } else { 4.0 };
                    (
                        format!("M{} {}V{}", px(x), px(f.top), px(f.bottom)),
                        x + shift,
                        f.top + 12.0,
                        anchor,
                    )
                } else {
                    // Labelled at the left, where rising curves (cumulative shares, sorted
                    // distances) leave room.
                    let y = self.sy(f, *value);
                    (
                        format!("M{} {}H{}", px(f.left), px(y), px(f.right)),
                        f.left + 6.0,
                        y - 5.0,
                        "start",
                    )
                };
                let _ = write!(
                    svg,
                    r##"<path d="{d}" stroke="{color}" stroke-width="1.5" stroke-dasharray="4 3" fill="none"/><text x="{}" y="{}" text-anchor="{anchor}" fill="{color}" font-weight="600" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text>"##,
                    px(tx),
                    px(ty),
                    escape(label)
                );
            }
        }
    }
}

/// An SVG path through screen points, leaving out points less than half a pixel from the last
/// one kept: a 40,000-point ROC curve becomes a few hundred segments that look the same.
fn polyline(points: impl Iterator<Item = (f64, f64)>) -> String {
    let mut d = String::new();
    let mut last: Option<(f64, f64)> = None;
    let mut pending: Option<(f64, f64)> = None;
    for (x, y) in points {
        match last {
            None => {
                let _ = write!(d, "M{} {}", px(x), px(y));
                last = Some((x, y));
            }
            Some((lx, ly)) if (x - lx).abs() < 0.5 && (y - ly).abs() < 0.5 => {
                pending = Some((x, y));
            }
            Some(_) => {
                let _ = write!(d, "L{} {}", px(x), px(y));
                last = Some((x, y));
                pending = None;
            }
        }
    }
    if let Some((x, y)) = pending {
        let _ = write!(d, "L{} {}", px(x), px(y));
    }
    d
}

/// Points drawn as one path (dots and crosses) or one group (rings): a few bytes per point.
/// Elements that draw data carry the class `marks`, so a test can find them.
fn markers(points: impl Iterator<Item = (f64, f64)>, marker: Marker, color: &str) -> String {
    let mut body = String::new();
    match marker {
        Marker::Dot => {
            for (x, y) in points {
                let _ = write!(body, "M{} {}h0", px(x), px(y));
            }
            format!(
                r#"<path class="marks" d="{body}" stroke="{color}" stroke-width="4.5" stroke-linecap="round" stroke-opacity="0.7" fill="none"/>"#
            )
        }
        Marker::Cross => {
            for (x, y) in points {
                let _ = write!(body, "M{} {}l5 5m0-5l-5 5", px(x - 2.5), px(y - 2.5));
            }
            format!(
                r#"<path class="marks" d="{body}" stroke="{color}" stroke-width="1.4" fill="none"/>"#
            )
        }
        Marker::Ring => {
            for (x, y) in points {
                let _ = write!(body, r#"<circle cx="{}" cy="{}" r="3"/>"#, px(x), px(y));
            }
            format!(
                r#"<g class="marks" fill="none" stroke="{color}" stroke-width="1.2">{body}</g>"#
            )
        }
    }
}

fn open_svg(width: f64, height: f64, description: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{d}" {FONT}>"#,
        w = px(width),
        h = px(height),
        d = escape(description)
    )
}

type LegendRow<'a> = Vec<(f64, &'a str, &'a str, LegendKey)>;

/// Lays legend entries out in rows no wider than `width`: (x offset, name, colour, key).
fn legend_rows<'a>(entries: &[(&'a str, &'a str, LegendKey)], width: f64) -> Vec<LegendRow<'a>> {
    let mut rows: Vec<LegendRow<'a>> = Vec::new();
    let mut x = 0.0;
    for &(name, color, key) in entries {
        let w = 26.0 + name.chars().count() as f64 * CHAR_WIDTH + 14.0;
        if rows.is_empty() || (x + w > width && x > 0.0) {
            rows.push(Vec::new());
            x = 0.0;
        }
        rows.last_mut().expect("a row").push((x, name, color, key));
        x += w;
    }
    rows
}

fn draw_legend(svg: &mut String, rows: &[LegendRow<'_>], left: f64, top: f64) {
    for (r, row) in rows.iter().enumerate() {
        let y = top + 9.0 + r as f64 * 18.0;
        for &(dx, name, color, key) in row {
            let x = left + dx;
            match key {
                LegendKey::Line(dashed) => {
                    let dash = if dashed {
                        r#" stroke-dasharray="5 3""#
                    } else {
                        ""
                    };
                    let _ = write!(
                        svg,
                        r#"<path d="M{} {}h20" stroke="{color}" stroke-width="2.5"{dash}/>"#,
                        px(x),
                        px(y)
                    );
                }
                LegendKey::Box => {
                    let _ = write!(
                        svg,
                        r#"<rect x="{}" y="{}" width="16" height="10" fill="{color}" fill-opacity="0.6" stroke="{color}"/>"#,
                        px(x + 2.0),
                        px(y - 5.0)
                    );
                }
                LegendKey::Marker(marker) => {
                    // A legend key is not data: it leaves out the `marks` class.
                    let key = markers(std::iter::once((x + 10.0, y)), marker, color);
                    svg.push_str(&key.replacen(r#" class="marks""#, "", 1));
                }
            }
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" dy="0.32em" fill="{INK}">{}</text>"#,
                px(x + 26.0),
                px(y),
                escape(name)
            );
        }
    }
}

/// One series of a [`BarChart`].
#[derive(Debug, Clone)]
pub struct BarSeries {
    pub name: String,
    pub color: String,
    pub values: Vec<f64>,
    /// A colour per bar instead of `color`, when not empty.
    pub colors: Vec<String>,
}

/// Horizontal bars, one group per category (models, features), the value written at the end
/// of each bar.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub width: f64,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
    /// The value axis (horizontal).
    pub axis: Axis,
    pub description: String,
    /// Bar-end labels: the value formatted, or as given here per series and category.
    pub value_labels: Option<Vec<Vec<String>>>,
}

impl BarChart {
    pub fn new(categories: Vec<String>, axis: Axis, description: &str) -> BarChart {
        BarChart {
            width: 640.0,
            categories,
            series: Vec::new(),
            axis,
            description: description.into(),
            value_labels: None,
        }
    }

    pub fn series(mut self, name: &str, color: &str, values: Vec<f64>) -> BarChart {
        self.series.push(BarSeries {
            name: name.into(),
            color: color.into(),
            values,
            colors: Vec::new(),
        });
        self
    }

    pub fn to_svg(&self) -> String {
        let bar = 14.0;
        let group = bar * self.series.len() as f64 + 8.0;
        let entries: Vec<(&str, &str, LegendKey)> = if self.series.len() > 1 {
            self.series
                .iter()
                .map(|s| (s.name.as_str(), s.color.as_str(), LegendKey::Box))
                .collect()
        } else {
            Vec::new()
        };
        let rows = legend_rows(&entries, self.width - 40.0);
        let widest = self
            .categories
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(1) as f64;
        let left = 14.0 + widest * CHAR_WIDTH;
        let top = 10.0 + rows.len() as f64 * 18.0;
        let right = self.width - 56.0;
        let bottom = top + group * self.categories.len() as f64;
        let height = bottom + 46.0;
        let x = |v: f64| left + self.axis.fraction(v) * (right - left);
        let mut svg = open_svg(self.width, height, &self.description);
        let mut grid = String::new();
        let mut labels = String::new();
        let target = ((right - left) / 70.0).floor().max(2.0) as usize;
        for v in self.axis.ticks(target) {
            let _ = write!(grid, "M{} {}V{}", px(x(v)), px(top), px(bottom));
            let _ = write!(
                labels,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                px(x(v)),
                px(bottom + 16.0),
                escape(&self.axis.label(v))
            );
        }
        for (c, name) in self.categories.iter().enumerate() {
            let _ = write!(
                labels,
                r#"<text x="{}" y="{}" dy="0.32em" text-anchor="end">{}</text>"#,
                px(left - 6.0),
                px(top + c as f64 * group + 4.0 + bar * self.series.len() as f64 / 2.0),
                escape(name)
            );
        }
        let _ = write!(
            svg,
            r#"<path d="{grid}" stroke="{GRID}" fill="none"/><g fill="{INK}">{labels}<text x="{}" y="{}" text-anchor="middle" font-weight="600">{}</text></g>"#,
            px((left + right) / 2.0),
            px(bottom + 36.0),
            escape(&self.axis.title)
        );
        for (s, series) in self.series.iter().enumerate() {
            let mut d = String::new();
            let mut values = String::new();
            for (c, &v) in series.values.iter().enumerate() {
                if let Some(color) = series.colors.get(c)
                    && !d.is_empty()
                    && series.colors.get(c - 1) != Some(color)
                {
                    let _ = write!(
                        svg,
                        r#"<path class="marks" d="{d}" fill="{}"/>"#,
                        series.colors[c - 1]
                    );
                    d.clear();
                }
                let y = top + c as f64 * group + 4.0 + s as f64 * bar;
                let x0 = x(self.axis.min.max(0.0).min(self.axis.max));
                let x1 = x(v);
                let _ = write!(
                    d,
                    "M{} {}H{}V{}H{}Z",
                    px(x0),
                    px(y),
                    px(x1.max(x0 + 1.0)),
                    px(y + bar - 2.0),
                    px(x0)
                );
                let label = self
                    .value_labels
                    .as_ref()
                    .and_then(|l| l.get(s))
                    .and_then(|l| l.get(c))
                    .cloned()
                    .unwrap_or_else(|| self.axis.label(v));
                let _ = write!(
                    values,
                    r#"<text x="{}" y="{}" dy="0.32em">{}</text>"#,
                    px(x1.max(x0 + 1.0) + 4.0),
                    px(y + bar / 2.0 - 1.0),
                    escape(&label)
                );
            }
            let last = series.colors.last().unwrap_or(&series.color);
            let _ = write!(
                svg,
                r#"<path class="marks" d="{d}" fill="{last}"/><g fill="{INK}" font-size="11">{values}</g>"#,
            );
        }
        let _ = write!(
            svg,
            r#"<path d="M{} {}V{}" stroke="{AXIS}"/>"#,
            px(x(self.axis.min.max(0.0).min(self.axis.max))),
            px(top),
            px(bottom)
        );
        draw_legend(&mut svg, &rows, left, 2.0);
        svg.push_str("</svg>");
        svg
    }
}

/// How a [`Heatmap`] colours its cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColorScale {
    /// Blue below zero, white at zero, red above, saturating at ±`limit` (correlations).
    Diverging { limit: f64 },
    /// White at 0 to dark blue at `max` (counts, shares).
    Sequential { max: f64 },
}

impl ColorScale {
    /// The colour of `v`, as `#rrggbb`.
    pub fn color(&self, v: f64) -> String {
        const WHITE: [f64; 3] = [255.0, 255.0, 255.0];
        const BLUE: [f64; 3] = [33.0, 102.0, 172.0];
        const RED: [f64; 3] = [178.0, 24.0, 43.0];
        const DARK: [f64; 3] = [8.0, 48.0, 107.0];
        let (from, to, t) = match *self {
            ColorScale::Diverging { limit } => {
                let t = (v / limit).clamp(-1.0, 1.0);
                if t < 0.0 {
                    (WHITE, BLUE, -t)
                } else {
                    (WHITE, RED, t)
                }
            }
            ColorScale::Sequential { max } => (
                WHITE,
                DARK,
                if max > 0.0 {
                    (v / max).clamp(0.0, 1.0)
                } else {
                    0.0
                },
            ),
        };
        let mix = |i: usize| (from[i] + (to[i] - from[i]) * t).round() as u8;
        format!("#{:02x}{:02x}{:02x}", mix(0), mix(1), mix(2))
    }

    /// Whether text on a cell of this value should be white to stay readable.
    fn dark(&self, v: f64) -> bool {
        match *self {
            ColorScale::Diverging { limit } => (v / limit).abs() > 0.6,
            ColorScale::Sequential { max } => max > 0.0 && v / max > 0.5,
        }
    }
}

/// A matrix of coloured cells with row and column names: correlations, confusion matrices.
#[derive(Debug, Clone)]
pub struct Heatmap {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `values[row][column]`; `None` cells (undefined, e.g. a constant feature) are hatched grey.
    pub values: Vec<Vec<Option<f64>>>,
    pub colors: ColorScale,
    pub cell: f64,
    /// Text in each cell: the value formatted, or these labels (a `\n` starts a new line).
    pub cell_text: Option<Vec<Vec<String>>>,
    pub row_title: String,
    pub column_title: String,
    /// Draw a colour bar for the scale, titled so.
    pub color_bar: Option<String>,
    pub description: String,
}

impl Heatmap {
    pub fn to_svg(&self) -> String {
        let widest = |names: &[String]| {
            names.iter().map(|n| n.chars().count()).max().unwrap_or(1) as f64 * CHAR_WIDTH
        };
        let rotate = self.columns.len() > 4;
        let left = 12.0 + widest(&self.rows) + if self.row_title.is_empty() { 0.0 } else { 22.0 };
        let top = 10.0;
        let grid_w = self.cell * self.columns.len() as f64;
        let grid_h = self.cell * self.rows.len() as f64;
        let column_labels = if rotate {
            widest(&self.columns) * 0.92 + 12.0
        } else {
            20.0
        };
        let bottom = top + grid_h;
        // Room for the colour bar's ticks and its bold title (wider than the base font).
        let bar_w = self.color_bar.as_ref().map_or(0.0, |title| {
            (title.chars().count() as f64 * CHAR_WIDTH * 1.15 + 12.0).max(90.0)
        });
        let width = left + grid_w + 16.0 + bar_w;
        let title_h = if self.column_title.is_empty() {
            0.0
        } else {
            22.0
        };
        let height = (bottom + column_labels + title_h + 8.0).max(if self.color_bar.is_some() {
            top + 200.0
        } else {
            0.0
        });
        let mut svg = open_svg(width, height, &self.description);
        let mut cells = String::new();
        let mut texts = String::new();
        let font = (self.cell * 0.15).clamp(7.0, 14.0);
        for (r, row) in self.values.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                let (x, y) = (left + c as f64 * self.cell, top + r as f64 * self.cell);
                let tip = format!(
                    "{} × {}: {}",
                    self.rows[r],
                    self.columns[c],
                    value.map_or("undefined".into(), format_number)
                );
                let fill = value.map_or("#cccccc".into(), |v| self.colors.color(v));
                let _ = write!(
                    cells,
                    r#"<rect x="{}" y="{}" width="{s}" height="{s}" fill="{fill}"><title>{}</title></rect>"#,
                    px(x),
                    px(y),
                    escape(&tip),
                    s = px(self.cell),
                );
                let text = match &self.cell_text {
                    Some(t) => Some(t[r][c].clone()),
                    None if self.cell >= 28.0 => value.map(format_number),
                    None => None,
                };
                if let Some(text) = text {
                    let color = if value.is_some_and(|v| self.colors.dark(v)) {
                        "#fff"
                    } else {
                        INK
                    };
                    let centre = px(x + self.cell / 2.0);
                    let _ = write!(
                        texts,
                        r#"<text class="cell" x="{centre}" y="{}" text-anchor="middle" fill="{color}" font-size="{}">"#,
                        px(y + self.cell / 2.0),
                        px(font),
                    );
                    // Lines centred on the cell's middle, 1.2 em apart.
                    let lines = text.lines().count().max(1) as f64;
                    for (i, line) in text.lines().enumerate() {
                        let dy = if i == 0 {
                            0.35 - 0.6 * (lines - 1.0)
                        } else {
                            1.2
                        };
                        let _ = write!(
                            texts,
                            r#"<tspan x="{centre}" dy="{dy}em">{}</tspan>"#,
                            escape(line)
                        );
                    }
                    texts.push_str("</text>");
                }
            }
        }
        let _ = write!(
            svg,
            r##"<g class="marks" stroke="#fff" stroke-width="0.5">{cells}</g>{texts}"##
        );
        let label_size = if self.cell < 16.0 { 10.0 } else { 12.0 };
        let mut labels = String::new();
        for (r, name) in self.rows.iter().enumerate() {
            let _ = write!(
                labels,
                r#"<text x="{}" y="{}" dy="0.32em" text-anchor="end">{}</text>"#,
                px(left - 5.0),
                px(top + (r as f64 + 0.5) * self.cell),
                escape(name)
            );
        }
        for (c, name) in self.columns.iter().enumerate() {
            let x = left + (c as f64 + 0.5) * self.cell;
            if rotate {
                let _ = write!(
                    labels,
                    r#"<text transform="translate({} {}) rotate(-65)" dy="0.32em" text-anchor="end">{}</text>"#,
                    px(x),
                    px(bottom + 6.0),
                    escape(name)
                );
            } else {
                let _ = write!(
                    labels,
                    r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                    px(x),
                    px(bottom + 15.0),
                    escape(name)
                );
            }
        }
        let _ = write!(
            svg,
            r#"<g fill="{INK}" font-size="{label_size}">{labels}</g>"#
        );
        if !self.column_title.is_empty() {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle" font-weight="600" fill="{INK}">{}</text>"#,
                px(left + grid_w / 2.0),
                px(bottom + column_labels + 14.0),
                escape(&self.column_title)
            );
        }
        if !self.row_title.is_empty() {
            let _ = write!(
                svg,
                r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle" font-weight="600" fill="{INK}">{}</text>"#,
                px(top + grid_h / 2.0),
                escape(&self.row_title)
            );
        }
        if let Some(title) = &self.color_bar {
            self.draw_color_bar(&mut svg, left + grid_w + 24.0, top, title);
        }
        svg.push_str("</svg>");
        svg
    }

    fn draw_color_bar(&self, svg: &mut String, x: f64, top: f64, title: &str) {
        let (lo, hi) = match self.colors {
            ColorScale::Diverging { limit } => (-limit, limit),
            ColorScale::Sequential { max } => (0.0, max),
        };
        let steps = 20;
        let h = 160.0;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-weight="600" fill="{INK}">{}</text>"#,
            px(x),
            px(top + 8.0),
            escape(title)
        );
        for i in 0..steps {
            let v = hi - (hi - lo) * (i as f64 + 0.5) / steps as f64;
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{}" width="14" height="{}" fill="{}"/>"#,
                px(x),
                px(top + 20.0 + i as f64 * h / steps as f64),
                px(h / steps as f64 + 0.5),
                self.colors.color(v)
            );
        }
        for (v, y) in [(hi, 0.0), ((lo + hi) / 2.0, h / 2.0), (lo, h)] {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" dy="0.32em" fill="{INK}">{}</text>"#,
                px(x + 20.0),
                px(top + 20.0 + y),
                escape(&format_number(v))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_text_and_attributes() {
        assert_eq!(
            escape(r#"<b>"R&D"</b> 'x'"#),
            "&lt;b&gt;&quot;R&amp;D&quot;&lt;/b&gt; &#39;x&#39;"
        );
        let plot = Plot::new(
            Axis::linear("a<b", 0.0, 1.0),
            Axis::linear("y", 0.0, 1.0),
            "\"quoted\" & <tagged>",
        )
        .layer(Layer::Line {
            name: "</svg><script>".into(),
            color: "#000".into(),
            points: vec![(0.0, 0.0), (1.0, 1.0)],
            dashed: false,
        });
        let svg = plot.to_svg();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;/svg&gt;&lt;script&gt;"));
        assert!(svg.contains(r#"aria-label="&quot;quoted&quot; &amp; &lt;tagged&gt;""#));
        assert!(svg.contains(">a&lt;b<"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_range() {
        assert_eq!(
            linear_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(linear_ticks(0.0, 37_792.0, 5), {
            (0..=3).map(|i| i as f64 * 10_000.0).collect::<Vec<_>>()
        });
        assert_eq!(linear_ticks(0.93, 1.0, 5), vec![0.94, 0.96, 0.98, 1.0]);
        let ticks = linear_ticks(0.93, 1.0, 7);
        assert_eq!(ticks.first(), Some(&0.93));
        assert_eq!(ticks.last(), Some(&1.0));
        assert!(
            ticks
                .windows(2)
                .all(|w| ((w[1] - w[0]) - 0.01).abs() < 1e-12)
        );
        assert_eq!(linear_ticks(-1.0, 1.0, 4), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(linear_ticks(2.0, 2.0, 5), vec![2.0]);
    }

    #[test]
    fn log_scales_space_powers_of_ten_evenly() {
        let axis = Axis::new("fpr", Scale::Log, 1e-4, 1.0);
        assert_eq!(axis.ticks(8), vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
        assert!((axis.fraction(1e-2) - 0.5).abs() < 1e-12);
        assert_eq!(
            axis.fraction(0.0),
            0.0,
            "zero sits at the start of a log axis"
        );
        assert_eq!(axis.fraction(10.0), 1.0, "values past the end are clamped");

        let bytes = Axis::new("bytes", Scale::Log1p, 0.0, 999_999.0);
        assert_eq!(bytes.fraction(0.0), 0.0);
        assert!((bytes.fraction(999.0) - 0.5).abs() < 1e-12);
        assert_eq!(bytes.ticks(10), vec![0.0, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5]);
        let wide = Axis::new("bytes", Scale::Log1p, 0.0, 1.3e9);
        let ticks = wide.ticks(5);
        assert!(ticks.len() <= 7, "{ticks:?}");
        assert_eq!(ticks[0], 0.0);
    }

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(0.9987), "0.999");
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(3_500.0), "3500");
        assert_eq!(format_number(37_792.0), "37.8k");
        assert_eq!(format_number(1_300_000.0), "1.3M");
        assert_eq!(format_number(1e-4), "1e-4");
        assert_eq!(format_number(-0.5), "-0.5");
        let percent = Axis::linear("share", 0.0, 1.0).percent();
        assert_eq!(percent.label(0.25), "25 %");
        assert_eq!(percent.label(0.025), "2.5 %");
        assert_eq!(percent.label(0.68194), "68.2 %");
        assert_eq!(percent.label(0.0042), "0.42 %");
    }

    #[test]
    fn dense_lines_are_thinned_but_keep_their_ends() {
        let points = (0..10_000).map(|i| (i as f64 / 100.0, 0.0));
        let d = polyline(points);
        let segments = d.matches('L').count();
        assert!(segments <= 200, "{segments}");
        assert!(d.starts_with("M0 0"));
        assert!(d.ends_with("L100 0") || d.ends_with("L99.9 0"), "{d}");
    }

    #[test]
    fn plots_draw_every_layer_and_a_legend() {
        let svg = Plot::new(
            Axis::linear("x", 0.0, 10.0),
            Axis::linear("y", 0.0, 1.0),
            "test",
        )
        .layer(Layer::Steps {
            name: "normal".into(),
            color: NORMAL_COLOR.into(),
            edges: vec![0.0, 5.0, 10.0],
            heights: vec![0.2, 0.8],
        })
        .layer(Layer::Points {
            name: "noise".into(),
            color: ALERT_COLOR.into(),
            marker: Marker::Cross,
            points: vec![(1.0, 0.5), (2.0, 0.5)],
        })
        .layer(Layer::Rule {
            vertical: true,
            value: 5.0,
            label: "eps".into(),
            color: "#000".into(),
        })
        .to_svg();
        assert!(svg.contains(">normal</text>") && svg.contains(">noise</text>"));
        assert!(svg.contains(">eps</text>"));
        assert_eq!(
            svg.matches("l5 5m0-5l-5 5").count(),
            3,
            "two points and the key"
        );
    }

    #[test]
    fn colour_scales_run_from_white() {
        let d = ColorScale::Diverging { limit: 1.0 };
        assert_eq!(d.color(0.0), "#ffffff");
        assert_eq!(d.color(1.0), "#b2182b");
        assert_eq!(d.color(-3.0), "#2166ac");
        let s = ColorScale::Sequential { max: 10.0 };
        assert_eq!(s.color(0.0), "#ffffff");
        assert_eq!(s.color(10.0), "#08306b");
    }

    #[test]
    fn heatmaps_grey_out_undefined_cells_and_bars_label_values() {
        let svg = Heatmap {
            rows: vec!["a".into(), "b".into()],
            columns: vec!["a".into(), "b".into()],
            values: vec![vec![Some(1.0), None], vec![None, Some(1.0)]],
            colors: ColorScale::Diverging { limit: 1.0 },
            cell: 30.0,
            cell_text: None,
            row_title: String::new(),
            column_title: String::new(),
            color_bar: Some("r".into()),
            description: "corr".into(),
        }
        .to_svg();
        assert_eq!(svg.matches(r##"fill="#cccccc""##).count(), 2);
        assert!(svg.contains("a × b: undefined"));

        let bars = BarChart::new(
            vec!["rf".into(), "lr".into()],
            Axis::linear("errors", 0.0, 100.0),
            "errors",
        )
        .series("missed", ATTACK_COLOR, vec![12.0, 80.0])
        .to_svg();
        assert!(bars.contains(">12</text>") && bars.contains(">80</text>"));
    }
}

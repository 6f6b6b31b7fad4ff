//! The report's figures: one function per chart, each turning a part of the
//! [`Report`](crate::Report) into SVG markup with a caption that says what to look at. The
//! server can call the same functions to send the same charts.

use crate::chart::{
    ALERT_COLOR, ATTACK_COLOR, Axis, BarChart, ColorScale, Heatmap, Layer, Marker, NORMAL_COLOR,
    PALETTE, Plot, Scale, format_number,
};
use crate::models::ModelResult;
use crate::unsupervised::{AnomalySection, ClusterSection};
use crate::{FeatureHistogram, ModelSection};
use nadir_explore::{ClassBalance, Correlations, FeatureTest};
use nadir_ml::cluster::ClusterReport;
use nadir_ml::dbscan::PointKind;

/// One figure: one or more charts (small multiples carry a title each) and a caption.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The anchor of the figure in the page.
    pub id: String,
    pub title: String,
    pub charts: Vec<(Option<String>, String)>,
    /// The narrowest a chart may be drawn in a grid of several, in CSS pixels.
    pub min_chart_width: u32,
    /// Plain text: what the figure shows and what to see in it.
    pub caption: String,
}

impl Figure {
    fn one(id: &str, title: &str, svg: String, caption: String) -> Figure {
        Figure {
            id: id.into(),
            title: title.into(),
            charts: vec![(None, svg)],
            min_chart_width: 300,
            caption,
        }
    }
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (99.5..100.0).contains(&p) {
        format!("{p:.2} %")
    } else if p >= 10.0 || p == 0.0 {
        format!("{p:.0} %")
    } else if p >= 0.1 {
        format!("{p:.1} %")
    } else {
        format!("{p:.2} %")
    }
}

/// Thousands separated by commas: `37,792`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The model's colour, the same in every chart.
fn model_color(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// Rows per class and attack family.
pub fn class_balance(balance: &ClassBalance) -> Figure {
    let mut categories = vec![balance.normal_label.clone()];
    let mut values = vec![balance.normal as f64];
    let mut labels = vec![format!(
        "{} ({})",
        grouped(balance.normal),
        percent(balance.normal_share)
    )];
    for f in &balance.families {
        categories.push(format!("{} (attack)", f.family));
        values.push(f.rows as f64);
        labels.push(format!("{} ({})", grouped(f.rows), percent(f.share)));
    }
    let mut colors = vec![NORMAL_COLOR.to_string()];
    colors.extend(balance.families.iter().map(|_| ATTACK_COLOR.to_string()));
    let max = values.iter().copied().fold(1.0, f64::max);
    let mut chart = BarChart::new(
        categories,
        Axis::linear("rows", 0.0, max * 1.18),
        "Rows per class and attack family",
    )
    .series("rows", NORMAL_COLOR, values);
    chart.series[0].colors = colors;
    chart.value_labels = Some(vec![labels]);
    let smallest = balance
        .families
        .iter()
        .filter(|f| f.rows > 0)
        .min_by_key(|f| f.rows);
    Figure::one(
        "class-balance",
        "Class balance",
        chart.to_svg(),
        format!(
            "Rows of normal traffic and of each attack family. {} of the {} rows are normal and {} attacks, so the two classes are close to balanced{}.",
            percent(balance.normal_share),
            grouped(balance.rows),
            percent(balance.attack_share),
            smallest.map_or(String::new(), |f| format!(
                "; the rarest family, {}, has only {} rows, so per-family results for it rest on few examples",
                f.family,
                grouped(f.rows)
            ))
        ),
    )
}

/// One feature's distribution in each class.
pub fn class_histogram(h: &FeatureHistogram, test: Option<&FeatureTest>) -> Figure {
    let lo = h.edges[0];
    let hi = *h.edges.last().expect("edges");
    let max_share = h
        .normal
        .iter()
        .chain(&h.attack)
        .copied()
        .fold(0.0, f64::max);
    let x_title = match h.scale {
        Scale::Log1p => format!("{} (log scale)", h.feature),
        _ => h.feature.clone(),
    };
    let plot = Plot::new(
        Axis::new(&x_title, h.scale, lo, hi),
        Axis::linear(
            "share of the class's rows",
            0.0,
            (max_share * 1.08).max(0.01),
        )
        .percent(),
        &format!("Histogram of {} by class", h.feature),
    )
    .size(560.0, 300.0)
    .layer(Layer::Steps {
        name: "normal".into(),
        color: NORMAL_COLOR.into(),
        edges: h.edges.clone(),
        heights: h.normal.clone(),
    })
    .layer(Layer::Steps {
        name: "attack".into(),
        color: ATTACK_COLOR.into(),
        edges: h.edges.clone(),
        heights: h.attack.clone(),
    });
    let scale = match h.scale {
        Scale::Log1p => " (log(1 + x) axis)",
        _ => "",
    };
    let what = test.map_or(String::new(), |t| {
        format!(
            " Values are {}; it ranks #{} at separating the classes ({} {}, a {} effect).",
            t.direction,
            t.rank,
            t.mann_whitney
                .as_ref()
                .map_or("separation", |m| m.effect_measure.label()),
            format_number(t.separation),
            format!("{:?}", t.magnitude).to_lowercase()
        )
    });
    Figure::one(
        &format!("hist-{}", h.feature),
        &h.feature,
        plot.to_svg(),
        format!(
            "{} by class{scale}: the share of normal (blue) and attack (orange) rows in each bin.{what}",
            h.feature
        ),
    )
}

/// A correlation matrix as a heat map.
pub fn correlation_heatmap(c: &Correlations, spearman: bool) -> Figure {
    let (name, matrix, id) = if spearman {
        ("Spearman's ρ", &c.spearman, "spearman")
    } else {
        ("Pearson's r", &c.pearson, "pearson")
    };
    let values = matrix
        .iter()
        .map(|row| {
            row.iter()
                .map(|&v| v.is_finite().then_some(v))
                .collect::<Vec<_>>()
        })
        .collect();
    let svg = Heatmap {
        rows: c.names.clone(),
        columns: c.names.clone(),
        values,
        colors: ColorScale::Diverging { limit: 1.0 },
        cell: 13.0,
        cell_text: None,
        row_title: String::new(),
        column_title: String::new(),
        color_bar: Some(name.into()),
        description: format!("{name} between the numeric features"),
    }
    .to_svg();
    let strongest = c.top_pairs.first().map_or(String::new(), |p| {
        format!(
            " The strongest pair is {} and {} (Pearson {}, Spearman {}).",
            p.a,
            p.b,
            format_number(p.pearson),
            format_number(p.spearman)
        )
    });
    let excluded = if c.excluded.is_empty() {
        String::new()
    } else {
        format!(
            " Left out as constant (correlation undefined): {}.",
            c.excluded.join(", ")
        )
    };
    Figure::one(
        &format!("correlation-{id}"),
        &format!("Correlations ({name})"),
        svg,
        format!(
            "{name} between every pair of numeric features over all rows: red moves together, blue in opposite directions, white not at all. Dark red blocks off the diagonal are groups of features that carry the same information (the error rates, the host counts).{strongest}{excluded} Hover a cell for its value."
        ),
    )
}

/// Held-out errors per model: false alarms and missed attacks.
pub fn model_errors(section: &ModelSection) -> Figure {
    let categories: Vec<String> = section.results.iter().map(|m| m.kind.to_string()).collect();
    let fp: Vec<f64> = section
        .results
        .iter()
        .map(|m| m.holdout.confusion.fp as f64)
        .collect();
    let fnn: Vec<f64> = section
        .results
        .iter()
        .map(|m| m.holdout.confusion.fn_ as f64)
        .collect();
    let max = fp.iter().chain(&fnn).copied().fold(1.0, f64::max);
    let svg = BarChart::new(
        categories,
        Axis::linear("held-out rows", 0.0, max * 1.1),
        "False alarms and missed attacks per model on the held-out rows",
    )
    .series("false alarms (normal rows flagged)", NORMAL_COLOR, fp)
    .series("missed attacks", ATTACK_COLOR, fnn)
    .to_svg();
    let fewest = section
        .results
        .iter()
        .min_by_key(|m| m.holdout.confusion.fp + m.holdout.confusion.fn_);
    Figure::one(
        "model-errors",
        "Errors per model",
        svg,
        format!(
            "The mistakes each model makes on the {} held-out rows at its own threshold: normal connections it flags (false alarms, what costs an analyst's time) and attacks it lets through (what costs security).{}",
            grouped(section.test_rows),
            fewest.map_or(String::new(), |m| format!(
                " {} makes the fewest: {} false alarms and {} missed attacks.",
                m.kind,
                grouped(m.holdout.confusion.fp as usize),
                grouped(m.holdout.confusion.fn_ as usize)
            ))
        ),
    )
}

/// Every model's confusion matrix on the held-out rows.
pub fn confusion_matrices(section: &ModelSection) -> Figure {
    let charts = section
        .results
        .iter()
        .map(|m| {
            let c = m.holdout.confusion;
            let rows = [(c.tn, c.fp), (c.fn_, c.tp)];
            let shares: Vec<Vec<f64>> = rows
                .iter()
                .map(|&(a, b)| {
                    let total = (a + b).max(1) as f64;
                    vec![a as f64 / total, b as f64 / total]
                })
                .collect();
            let text = rows
                .iter()
                .zip(&shares)
                .map(|(&(a, b), s)| {
                    vec![
                        format!("{}\n{}", grouped(a as usize), percent(s[0])),
                        format!("{}\n{}", grouped(b as usize), percent(s[1])),
                    ]
                })
                .collect();
            let svg = Heatmap {
                rows: vec!["normal".into(), "attack".into()],
                columns: vec!["normal".into(), "attack".into()],
                values: shares
                    .iter()
                    .map(|r| r.iter().map(|&v| Some(v)).collect())
                    .collect(),
                colors: ColorScale::Sequential { max: 1.0 },
                cell: 92.0,
                cell_text: Some(text),
                row_title: "actual".into(),
                column_title: "predicted".into(),
                color_bar: None,
                description: format!("Confusion matrix of {}", m.kind),
            }
            .to_svg();
            (Some(m.kind.to_string()), svg)
        })
        .collect();
    Figure {
        id: "confusion".into(),
        title: "Confusion matrices".into(),
        charts,
        min_chart_width: 300,
        caption: format!(
            "Each model's held-out rows by actual class (rows) and prediction (columns), at the model's decision threshold; shares are of the actual class. The diagonal is right; the top-right cell counts false alarms and the bottom-left missed attacks. All {} held-out rows are counted; none was used to fit a model or choose its threshold.",
            grouped(section.test_rows)
        ),
    }
}

/// ROC curves of every model on a log false-positive-rate axis.
pub fn roc_curves(section: &ModelSection) -> Figure {
    let negatives = section
        .results
        .first()
        .map_or(1, |m| {
            (m.holdout.confusion.tn + m.holdout.confusion.fp) as usize
        })
        .max(1);
    let floor = 10f64.powf((1.0 / negatives as f64).log10().floor());
    let mut plot = Plot::new(
        Axis::new("false-positive rate (log scale)", Scale::Log, floor, 1.0),
        Axis::linear("true-positive rate (recall)", 0.0, 1.0),
        "ROC curves of every model",
    )
    .size(720.0, 440.0);
    let chance: Vec<(f64, f64)> = (0..=60)
        .map(|i| {
            let x = floor * (1.0 / floor).powf(i as f64 / 60.0);
            (x, x)
        })
        .collect();
    plot = plot.layer(Layer::Line {
        name: "chance".into(),
        color: "#999".into(),
        points: chance,
        dashed: true,
    });
    for (i, m) in section.results.iter().enumerate() {
        plot = plot.layer(Layer::Line {
            points: log_x_segments(&m.roc, floor),
            name: format!(
                "{} (AUC {})",
                m.kind,
                m.holdout.roc_auc.map_or("–".into(), |a| format!("{a:.4}"))
            ),
            color: model_color(i).into(),
            dashed: m.kind.is_detector(),
        });
    }
    Figure::one(
        "roc",
        "ROC curves",
        plot.to_svg(),
        format!(
            "The share of attacks caught (y) against the share of normal rows falsely flagged (x) as each model's threshold sweeps over its held-out scores. The x axis is logarithmic: on a linear one every supervised curve hugs the top-left corner. A curve that reaches the top further left catches all attacks at fewer false alarms; the left edge (x = {}) is where no normal row of the {} is flagged.",
            format_number(floor),
            grouped(negatives)
        ),
    )
}

/// A curve's straight segments as they look on a log x axis: each long segment gets points
/// spaced evenly in log x, with y interpolated linearly in x, so that a model with few
/// distinct scores (a single tree) is not drawn as a misleading straight line. Points left of
/// `floor` are drawn at it.
fn log_x_segments(points: &[(f64, f64)], floor: f64) -> Vec<(f64, f64)> {
    const STEPS: usize = 40;
    let mut out = Vec::with_capacity(points.len());
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        out.push((x0, y0));
        let start = x0.max(floor);
        if x1 > start * 1.05 {
            for k in 1..STEPS {
                let x = start * (x1 / start).powf(k as f64 / STEPS as f64);
                out.push((x, y0 + (y1 - y0) * (x - x0) / (x1 - x0)));
            }
        }
    }
    out.extend(points.last());
    out
}

/// Precision–recall curves of every model.
pub fn pr_curves(section: &ModelSection) -> Figure {
    let lowest = section
        .results
        .iter()
        .flat_map(|m| m.pr.iter().map(|p| p.1))
        .fold(1.0, f64::min);
    let y_min = ((lowest * 10.0).floor() / 10.0).clamp(0.0, 0.9);
    let mut plot = Plot::new(
        Axis::linear("recall (share of attacks caught)", 0.0, 1.0),
        Axis::linear("precision (share of flags that are attacks)", y_min, 1.0),
        "Precision-recall curves of every model",
    )
    .size(720.0, 440.0);
    for (i, m) in section.results.iter().enumerate() {
        plot = plot.layer(Layer::Line {
            name: format!(
                "{} (AP {})",
                m.kind,
                m.average_precision
                    .map_or("–".into(), |a| format!("{a:.4}"))
            ),
            color: model_color(i).into(),
            points: m.pr.clone(),
            dashed: m.kind.is_detector(),
        });
    }
    let axis_note = if y_min > 0.0 {
        format!(" The y axis starts at {}, not 0.", format_number(y_min))
    } else {
        String::new()
    };
    Figure::one(
        "pr",
        "Precision–recall curves",
        plot.to_svg(),
        format!(
            "Precision against recall on the held-out rows as the threshold sweeps; AP is the average precision (the area under the curve). The closer a curve stays to the top right, the more attacks a model catches before its flags start to be wrong.{axis_note}"
        ),
    )
}

/// Feature importances of the tree models: their 15 most important features each.
pub fn feature_importances(section: &ModelSection) -> Option<Figure> {
    const TOP: usize = 15;
    let charts: Vec<(Option<String>, String)> = section
        .results
        .iter()
        .enumerate()
        .filter_map(|(i, m)| Some((i, m, m.importances.as_ref()?)))
        .map(|(i, m, importances)| {
            let top: Vec<&(String, f64)> = importances.iter().take(TOP).collect();
            let max = top.first().map_or(1.0, |t| t.1).max(1e-9);
            let mut chart = BarChart::new(
                top.iter().map(|t| t.0.clone()).collect(),
                Axis::linear("share of the importance", 0.0, max * 1.2).percent(),
                &format!("Feature importances of {}", m.kind),
            )
            .series(
                "importance",
                model_color(i),
                top.iter().map(|t| t.1).collect(),
            );
            chart.width = 460.0;
            let svg = chart.to_svg();
            (Some(m.kind.to_string()), svg)
        })
        .collect();
    if charts.is_empty() {
        return None;
    }
    Some(Figure {
        id: "importances".into(),
        title: "Feature importances".into(),
        charts,
        min_chart_width: 420,
        caption: format!(
            "The {TOP} features each tree model relies on most: the share of its total impurity decrease (gain, for gradient boosting) won by splits on the feature. Features that top every model are the ones the classes differ on most; importance says what a model uses, not that the feature causes an attack."
        ),
    })
}

/// Explained variance per principal component and in total.
pub fn pca_variance(report: &ClusterReport) -> Figure {
    let pca = &report.pca;
    let shown = (pca.components + 10)
        .min(pca.explained_variance_ratio.len())
        .max(1);
    let bars = pca.explained_variance_ratio[..shown]
        .iter()
        .enumerate()
        .map(|(i, &r)| (i as f64 + 0.6, i as f64 + 1.4, r))
        .collect();
    let cumulative = pca.cumulative_ratio[..shown]
        .iter()
        .enumerate()
        .map(|(i, &c)| (i as f64 + 1.0, c))
        .collect();
    let svg = Plot::new(
        Axis::linear("principal component", 0.4, shown as f64 + 0.6),
        Axis::linear("share of the variance", 0.0, 1.0).percent(),
        "Explained variance of the principal components",
    )
    .layer(Layer::Bars {
        name: "each component".into(),
        color: NORMAL_COLOR.into(),
        bars,
    })
    .layer(Layer::Line {
        name: "cumulative".into(),
        color: ATTACK_COLOR.into(),
        points: cumulative,
        dashed: false,
    })
    .layer(Layer::Rule {
        vertical: false,
        value: pca.variance_target,
        label: format!("target {}", percent(pca.variance_target)),
        color: "#555".into(),
    })
    .layer(Layer::Rule {
        vertical: true,
        value: pca.components as f64 + 0.5,
        label: format!("{} kept", pca.components),
        color: "#555".into(),
    })
    .to_svg();
    let first_two = pca.cumulative_ratio.get(1).copied().unwrap_or(1.0);
    Figure::one(
        "pca-variance",
        "PCA: explained variance",
        svg,
        format!(
            "How much of the scaled, one-hot encoded features' variance each principal component explains (bars) and all components up to it (line). {} components keep {} of it, the target; DBSCAN clusters in those {} dimensions. The first two, which the scatter plots below draw, hold {}, so points that overlap there may be far apart in the others.",
            pca.components,
            percent(
                pca.cumulative_ratio
                    .get(pca.components.saturating_sub(1))
                    .copied()
                    .unwrap_or(1.0)
            ),
            pca.components,
            percent(first_two)
        ),
    )
}

/// The k-distance curve with the chosen eps.
pub fn k_distance(report: &ClusterReport) -> Figure {
    let curve = &report.k_distance;
    let eps = report.chosen.eps;
    let max_distance = curve.points.iter().map(|p| p.distance).fold(0.0, f64::max);
    let top = (eps * 4.0).min(max_distance).max(eps * 1.2);
    let n = curve.points.last().map_or(1, |p| p.rank + 1);
    let mut plot = Plot::new(
        Axis::linear("points, sorted by their k-distance", 0.0, n as f64),
        Axis::linear(
            &format!("distance to the {}th neighbour", curve.k),
            0.0,
            top,
        ),
        "k-distance graph",
    )
    .layer(Layer::Line {
        name: format!("k-distance (k = {})", curve.k),
        color: NORMAL_COLOR.into(),
        points: curve
            .points
            .iter()
            .map(|p| (p.rank as f64, p.distance))
            .collect(),
        dashed: false,
    })
    .layer(Layer::Rule {
        vertical: false,
        value: eps,
        label: format!("chosen eps = {}", format_number(eps)),
        color: ALERT_COLOR.into(),
    });
    if let Some(knee) = curve.knee_eps
        && (knee - eps).abs() > 1e-9
    {
        plot = plot.layer(Layer::Rule {
            vertical: false,
            value: knee,
            label: format!("knee = {}", format_number(knee)),
            color: "#555".into(),
        });
    }
    let below = curve.points.partition_point(|p| p.distance <= eps);
    let share_core = if curve.points.is_empty() {
        0.0
    } else {
        curve.points[below.saturating_sub(1).min(curve.points.len() - 1)].rank as f64 / n as f64
    };
    Figure::one(
        "k-distance",
        "k-distance graph",
        plot.to_svg(),
        format!(
            "Every record's distance to its {k}th nearest neighbour in the principal-component space, sorted. Points left of where the curve crosses the red line have {k} neighbours within eps and are core points (about {} of the records); the steep rise on the right is the sparse records DBSCAN leaves as noise or edge. The eps was chosen {}. The y axis stops at {} (the curve rises to {}).",
            percent(share_core),
            match &report.grid {
                Some(_) =>
                    "by the silhouette of a seeded sample, searching multiples of the knee of this curve",
                None => "by hand (--eps)",
            },
            format_number(top),
            format_number(max_distance),
            k = curve.k,
        ),
    )
}

/// Lower and upper bounds of the middle 99 % of `values`, widened by a margin: the axes of a
/// scatter, so that a few far outliers do not squeeze the bulk into a corner.
fn robust_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (-1.0, 1.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.005), at(0.995));
    let pad = ((hi - lo) * 0.06).max(1e-6);
    (lo - pad, hi + pad)
}

/// DBSCAN's clusters on the first two principal components.
pub fn dbscan_scatter(section: &ClusterSection) -> Figure {
    const SHOWN: usize = 8;
    let report = &section.run.report;
    let mut largest: Vec<usize> = (0..report.cluster_sizes.len()).collect();
    largest.sort_by_key(|&c| std::cmp::Reverse(report.cluster_sizes[c]));
    largest.truncate(SHOWN);
    let group_of = |cluster: usize| largest.iter().position(|&c| c == cluster);
    let (x_range, y_range) = (
        robust_range(section.sample.iter().map(|p| p.x)),
        robust_range(section.sample.iter().map(|p| p.y)),
    );
    let mut plot = Plot::new(
        Axis::linear("principal component 1", x_range.0, x_range.1),
        Axis::linear("principal component 2", y_range.0, y_range.1),
        "DBSCAN clusters on the first two principal components",
    )
    .size(720.0, 520.0);
    const OTHER: &str = "#a0a8b0";
    for kind in [PointKind::Core, PointKind::Edge] {
        for group in 0..=largest.len() {
            let points: Vec<(f64, f64)> = section
                .sample
                .iter()
                .filter(|p| p.kind == kind)
                .filter(|p| {
                    p.cluster.map(group_of) == Some(Some(group))
                        || (group == largest.len()
                            && p.cluster.is_some_and(|c| group_of(c).is_none()))
                })
                .map(|p| (p.x, p.y))
                .collect();
            let (color, name) = if group < largest.len() {
                let c = largest[group];
                (
                    PALETTE[group % PALETTE.len()],
                    format!(
                        "cluster {} ({} rows)",
                        c + 1,
                        grouped(report.cluster_sizes[c])
                    ),
                )
            } else {
                (
                    OTHER,
                    format!(
                        "{} smaller clusters",
                        report.cluster_sizes.len().saturating_sub(largest.len())
                    ),
                )
            };
            let legend = kind == PointKind::Core
                && (group < largest.len() || report.cluster_sizes.len() > largest.len());
            plot = plot.layer(Layer::Points {
                name: if legend { name } else { String::new() },
                color: color.into(),
                marker: if kind == PointKind::Core {
                    Marker::Dot
                } else {
                    Marker::Ring
                },
                points,
            });
        }
    }
    plot = plot
        .layer(Layer::Points {
            name: "edge point (any cluster)".into(),
            color: "#444".into(),
            marker: Marker::Ring,
            points: Vec::new(),
        })
        .layer(Layer::Points {
            name: format!("noise ({} rows)", grouped(report.noise)),
            color: ALERT_COLOR.into(),
            marker: Marker::Cross,
            points: section
                .sample
                .iter()
                .filter(|p| p.kind == PointKind::Noise)
                .map(|p| (p.x, p.y))
                .collect(),
        });
    let agreement = report.agreement.as_ref().map_or(String::new(), |a| {
        format!(
            " Against the labels (used only here): the clusters are {} pure, and {} of attack rows against {} of normal rows are noise.",
            percent(a.purity),
            percent(a.attack_noise_share),
            percent(a.normal_noise_share)
        )
    });
    Figure::one(
        "dbscan",
        "DBSCAN clusters",
        plot.to_svg(),
        format!(
            "A seeded sample of {} of the {} records on the first two principal components. DBSCAN (eps {}, min_samples {}) found {} clusters: dots are core points, rings edge points, coloured by cluster (the {} largest in colour, the rest grey); red crosses are noise ({} of all rows). Clusters that overlap here can be apart in the other {} components.{agreement} The axes cover the middle 99 % of the points; the few beyond sit on the border.",
            grouped(section.sample.len()),
            grouped(report.rows),
            format_number(report.chosen.eps),
            report.chosen.min_samples,
            grouped(report.clusters),
            largest.len(),
            percent(report.noise as f64 / report.rows.max(1) as f64),
            report.pca.components.saturating_sub(2),
        ),
    )
}

/// The isolation forest's anomaly scores of the held-out rows, by class.
pub fn anomaly_histogram(a: &AnomalySection) -> Figure {
    let all = a.normal_scores.iter().chain(&a.attack_scores).copied();
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), s| {
        (l.min(s), h.max(s))
    });
    let (lo, hi) = if lo < hi { (lo, hi) } else { (0.0, 1.0) };
    let bins = 40;
    let edges: Vec<f64> = (0..=bins)
        .map(|i| lo + (hi - lo) * i as f64 / bins as f64)
        .collect();
    let shares = |scores: &[f64]| {
        let mut counts = vec![0.0; bins];
        for &s in scores {
            let bin = (((s - lo) / (hi - lo)) * bins as f64) as usize;
            counts[bin.min(bins - 1)] += 1.0;
        }
        let total = scores.len().max(1) as f64;
        counts.iter().map(|c| c / total).collect::<Vec<f64>>()
    };
    let (normal, attack) = (shares(&a.normal_scores), shares(&a.attack_scores));
    let max = normal.iter().chain(&attack).copied().fold(0.0, f64::max);
    let svg = Plot::new(
        Axis::linear("anomaly score", lo, hi),
        Axis::linear("share of the class's rows", 0.0, (max * 1.1).max(0.01)).percent(),
        "Isolation forest anomaly scores by class",
    )
    .layer(Layer::Steps {
        name: "normal".into(),
        color: NORMAL_COLOR.into(),
        edges: edges.clone(),
        heights: normal,
    })
    .layer(Layer::Steps {
        name: "attack".into(),
        color: ATTACK_COLOR.into(),
        edges,
        heights: attack,
    })
    .layer(Layer::Rule {
        vertical: true,
        value: a.threshold,
        label: format!("threshold {}", format_number(a.threshold)),
        color: ALERT_COLOR.into(),
    })
    .to_svg();
    let caught = a
        .attack_scores
        .iter()
        .filter(|&&s| s >= a.threshold)
        .count();
    let false_alarms = a
        .normal_scores
        .iter()
        .filter(|&&s| s >= a.threshold)
        .count();
    Figure::one(
        "iforest-scores",
        "Isolation forest scores",
        svg,
        format!(
            "The anomaly score of every held-out row, by class (labels are used only to colour the bars). The forest never sees a label{}; rows right of the red threshold are flagged. It flags {} of {} attacks and {} of {} normal rows (ROC-AUC {}): attacks that look like normal traffic in the features score as normal.",
            if a.fitted_here {
                ""
            } else {
                " unless it was trained with --normal-only"
            },
            grouped(caught),
            grouped(a.attack_scores.len()),
            grouped(false_alarms),
            grouped(a.normal_scores.len()),
            a.roc_auc.map_or("–".into(), |v| format!("{v:.3}"))
        ),
    )
}

/// The isolation forest's anomalies on the first two principal components.
pub fn anomaly_scatter(a: &AnomalySection) -> Figure {
    let (x_range, y_range) = (
        robust_range(a.sample.iter().map(|p| p.x)),
        robust_range(a.sample.iter().map(|p| p.y)),
    );
    let pick = |attack: bool| {
        a.sample
            .iter()
            .filter(|p| p.attack == attack)
            .map(|p| (p.x, p.y))
            .collect::<Vec<_>>()
    };
    let svg = Plot::new(
        Axis::linear("principal component 1", x_range.0, x_range.1),
        Axis::linear("principal component 2", y_range.0, y_range.1),
        "Isolation forest anomalies on the first two principal components",
    )
    .size(720.0, 520.0)
    .layer(Layer::Points {
        name: "normal".into(),
        color: NORMAL_COLOR.into(),
        marker: Marker::Dot,
        points: pick(false),
    })
    .layer(Layer::Points {
        name: "attack".into(),
        color: ATTACK_COLOR.into(),
        marker: Marker::Dot,
        points: pick(true),
    })
    .layer(Layer::Points {
        name: "flagged as anomaly".into(),
        color: ALERT_COLOR.into(),
        marker: Marker::Cross,
        points: a
            .sample
            .iter()
            .filter(|p| p.anomaly)
            .map(|p| (p.x, p.y))
            .collect(),
    })
    .to_svg();
    Figure::one(
        "iforest-scatter",
        "Isolation forest anomalies",
        svg,
        format!(
            "A seeded sample of {} held-out rows on the first two principal components, coloured by class, with the rows the isolation forest flags crossed in red ({} of all held-out rows are flagged). The forest flags the sparse outskirts; attacks inside the dense regions go unflagged. The axes cover the middle 99 % of the points.",
            grouped(a.sample.len()),
            percent(
                a.flagged as f64 / (a.normal_scores.len() + a.attack_scores.len()).max(1) as f64
            )
        ),
    )
}

/// The figures of the models section, in page order.
pub fn model_figures(section: &ModelSection) -> Vec<Figure> {
    let mut figures = vec![
        model_errors(section),
        confusion_matrices(section),
        roc_curves(section),
        pr_curves(section),
    ];
    figures.extend(feature_importances(section));
    figures
}

/// A model's held-out scores summarised for tables: `0.9987`.
pub fn metric(v: f64) -> String {
    format!("{v:.4}")
}

/// The chosen model's summary sentence.
pub fn best_model_sentence(section: &ModelSection) -> String {
    section.best().map_or(String::new(), |m: &ModelResult| {
        format!(
            "{} has the best cross-validated F1{} on the training rows; on the held-out rows its F1 is {}, with {} false alarms and {} missed attacks among {} rows.",
            m.kind,
            m.cv_f1.map_or(String::new(), |cv| format!(" ({})", metric(cv.mean))),
            metric(m.holdout.f1),
            grouped(m.holdout.confusion.fp as usize),
            grouped(m.holdout.confusion.fn_ as usize),
            grouped(section.test_rows)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_shares_rounded() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(37_792), "37,792");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(percent(0.5346), "53 %");
        assert_eq!(percent(0.0123), "1.2 %");
        assert_eq!(percent(0.00042), "0.04 %");
        assert_eq!(percent(0.9995), "99.95 %");
        assert_eq!(percent(1.0), "100 %");
    }

    #[test]
    fn log_axis_segments_follow_the_linear_interpolation() {
        let points = log_x_segments(&[(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)], 1e-3);
        assert_eq!(points.first(), Some(&(0.0, 0.0)));
        assert_eq!(points.last(), Some(&(1.0, 1.0)));
        assert!(points.len() > 40);
        for &(x, y) in &points {
            let expected = if x <= 0.5 { 2.0 * x } else { 1.0 };
            assert!((y - expected).abs() < 1e-9, "({x}, {y})");
        }
    }

    #[test]
    fn robust_ranges_ignore_far_outliers() {
        let mut values: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        values.push(1e6);
        let (lo, hi) = robust_range(values.into_iter());
        assert!(lo < 0.0 && hi < 1.1, "{lo} {hi}");
    }
}

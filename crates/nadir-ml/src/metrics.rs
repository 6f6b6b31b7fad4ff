//! Binary classification metrics, in f64, with tied scores handled as scikit-learn does.
//!
//! Hand-written: no crate offers the set together (confusion, precision/recall/F1, ROC and PR
//! curves with ties, a classification report) in f64. Each function is checked against values
//! worked out by hand in the tests.

use serde::{Deserialize, Serialize};

/// Counts of a binary confusion matrix; "positive" is attack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub tn: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tp: u64,
}

impl Confusion {
    pub fn from_predictions(truth: &[bool], predicted: &[bool]) -> Confusion {
        let mut c = Confusion::default();
        for (&t, &p) in truth.iter().zip(predicted) {
            match (t, p) {
                (false, false) => c.tn += 1,
                (false, true) => c.fp += 1,
                (true, false) => c.fn_ += 1,
                (true, true) => c.tp += 1,
            }
        }
        c
    }

    pub fn total(&self) -> u64 {
        self.tn + self.fp + self.fn_ + self.tp
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total())
    }

    /// Precision of the attack class (0 when nothing is flagged, as scikit-learn's default).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Recall of the attack class: the detection rate.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        f1(self.precision(), self.recall())
    }

    /// Precision, recall and F1 of the normal class, for the classification report.
    pub fn normal_class(&self) -> (f64, f64, f64) {
        let p = ratio(self.tn, self.tn + self.fn_);
        let r = ratio(self.tn, self.tn + self.fp);
        (p, r, f1(p, r))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// The metrics of scores at one threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Threshold-free; `None` when the data holds one class only.
    pub roc_auc: Option<f64>,
    pub confusion: Confusion,
}

impl Scores {
    pub fn at_threshold(truth: &[bool], scores: &[f64], threshold: f64) -> Scores {
        let confusion = Confusion::from_predictions(truth, &classify(scores, threshold));
        Scores {
            accuracy: confusion.accuracy(),
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            roc_auc: roc_auc(truth, scores),
            confusion,
        }
    }
}

/// A classification report in scikit-learn's layout (classes normal and attack).
pub fn classification_report(c: &Confusion) -> String {
    let (np, nr, nf) = c.normal_class();
    let normal = c.tn + c.fp;
    let attack = c.tp + c.fn_;
    let total = c.total().max(1) as f64;
    let weighted = |a: f64, b: f64| (a * normal as f64 + b * attack as f64) / total;
    let mut out = format!(
        "{:>14} {:>9} {:>9} {:>9} {:>9}\n\n",
        "", "precision", "recall", "f1-score", "support"
    );
    let mut row = |name: &str, p: f64, r: f64, f: f64, n: u64| {
        out.push_str(&format!("{name:>14} {p:>9.4} {r:>9.4} {f:>9.4} {n:>9}\n"));
    };
    row("normal", np, nr, nf, normal);
    row("attack", c.precision(), c.recall(), c.f1(), attack);
    out.push('\n');
    out.push_str(&format!(
        "{:>14} {:>9} {:>9} {:>9.4} {:>9}\n",
        "accuracy",
        "",
        "",
        c.accuracy(),
        c.total()
    ));
    let mut row = |name: &str, p: f64, r: f64, f: f64, n: u64| {
        out.push_str(&format!("{name:>14} {p:>9.4} {r:>9.4} {f:>9.4} {n:>9}\n"));
    };
    row(
        "macro avg",
        (np + c.precision()) / 2.0,
        (nr + c.recall()) / 2.0,
        (nf + c.f1()) / 2.0,
        c.total(),
    );
    row(
        "weighted avg",
        weighted(np, c.precision()),
        weighted(nr, c.recall()),
        weighted(nf, c.f1()),
        c.total(),
    );
    out
}

/// One class's precision, recall and F1 among several (the attack families).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows of the class in the truth.
    pub support: u64,
}

/// Per-class metrics of a multi-class prediction, as scikit-learn's `classification_report`
/// and `confusion_matrix` give them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    pub classes: Vec<ClassScores>,
    /// The mean F1 of the classes present in the truth or the predictions (scikit-learn's
    /// `f1_score(average="macro")`): a class neither holds would count as 0 for nothing.
    pub macro_f1: f64,
    pub accuracy: f64,
    /// `confusion[t][p]`: rows of true class `t` predicted as class `p`.
    pub confusion: Vec<Vec<u64>>,
}

impl ClassReport {
    /// The report of `predicted` against `truth`, both class indices below `names.len()`.
    pub fn new(names: &[String], truth: &[u32], predicted: &[u32]) -> ClassReport {
        let k = names.len();
        let mut confusion = vec![vec![0u64; k]; k];
        for (&t, &p) in truth.iter().zip(predicted) {
            confusion[t as usize][p as usize] += 1;
        }
        let mut present = 0;
        let mut f1_sum = 0.0;
        let classes = names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let right = confusion[c][c];
                let support: u64 = confusion[c].iter().sum();
                let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
                let (precision, recall) = (ratio(right, predicted), ratio(right, support));
                let f1 = f1(precision, recall);
                if support + predicted > 0 {
                    present += 1;
                    f1_sum += f1;
                }
                ClassScores {
                    class: name.clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let right: u64 = (0..k).map(|c| confusion[c][c]).sum();
        ClassReport {
            classes,
            macro_f1: if present == 0 {
                0.0
            } else {
                f1_sum / f64::from(present)
            },
            accuracy: ratio(right, truth.len() as u64),
            confusion,
        }
    }

    /// The report as text: a row per class, the macro F1, then the confusion matrix (rows
    /// the truth, columns the prediction).
    pub fn to_text(&self) -> String {
        let width = self
            .classes
            .iter()
            .map(|c| c.class.len())
            .max()
            .unwrap_or(0)
            .max(9);
        let mut out = format!(
            "{:>width$} {:>9} {:>9} {:>9} {:>9}\n",
            "family", "precision", "recall", "f1-score", "support"
        );
        for c in &self.classes {
            out.push_str(&format!(
                "{:>width$} {:>9.4} {:>9.4} {:>9.4} {:>9}\n",
                c.class, c.precision, c.recall, c.f1, c.support
            ));
        }
        out.push_str(&format!(
            "{:>width$} {:>9} {:>9} {:>9.4}\n{:>width$} {:>9} {:>9} {:>9.4}\n\nconfusion (rows: true family, columns: predicted)\n{:>width$}",
            "macro F1", "", "", self.macro_f1, "accuracy", "", "", self.accuracy, ""
        ));
        for c in &self.classes {
            out.push_str(&format!(" {:>9}", c.class));
        }
        out.push('\n');
        for (c, row) in self.classes.iter().zip(&self.confusion) {
            out.push_str(&format!("{:>width$}", c.class));
            for n in row {
                out.push_str(&format!(" {n:>9}"));
            }
            out.push('\n');
        }
        out
    }
}

/// Applies a threshold: a score at or above it is an attack.
pub fn classify(scores: &[f64], threshold: f64) -> Vec<bool> {
    scores.iter().map(|&s| s >= threshold).collect()
}

/// One point per distinct score, from the highest: the rates when everything scoring at least
/// `threshold` is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub threshold: f64,
    pub tp: u64,
    pub fp: u64,
}

/// Cumulative true/false positives at each distinct score, scores descending.
pub fn threshold_curve(truth: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points: Vec<CurvePoint> = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    for (k, &i) in order.iter().enumerate() {
        if truth[i] {
            tp += 1
        } else {
            fp += 1
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_tie {
            points.push(CurvePoint {
                threshold: scores[i],
                tp,
                fp,
            });
        }
    }
    points
}

/// Area under the ROC curve (trapezoidal, so ties count one half). `None` with one class.
pub fn roc_auc(truth: &[bool], scores: &[f64]) -> Option<f64> {
    let positives = truth.iter().filter(|&&t| t).count() as f64;
    let negatives = truth.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut area = 0.0;
    let (mut prev_tp, mut prev_fp) = (0.0, 0.0);
    for p in threshold_curve(truth, scores) {
        let (tp, fp) = (p.tp as f64, p.fp as f64);
        area += (fp - prev_fp) * (tp + prev_tp) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    Some(area / (positives * negatives))
}

/// Average precision (scikit-learn's step-wise area under the precision-recall curve).
pub fn average_precision(truth: &[bool], scores: &[f64]) -> Option<f64> {
    let positives = truth.iter().filter(|&&t| t).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for p in threshold_curve(truth, scores) {
        let recall = p.tp as f64 / positives;
        let precision = p.tp as f64 / (p.tp + p.fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// The threshold with the best F1 on these scores: the midpoint between the lowest score
/// flagged and the next one below it, so that scores near the boundary on new data fall on
/// the side the data supports. Used on out-of-fold training scores only.
pub fn best_f1_threshold(truth: &[bool], scores: &[f64]) -> f64 {
    let positives = truth.iter().filter(|&&t| t).count() as f64;
    let curve = threshold_curve(truth, scores);
    let mut best = (f64::NEG_INFINITY, 0.5);
    for (k, p) in curve.iter().enumerate() {
        let precision = p.tp as f64 / (p.tp + p.fp) as f64;
        let recall = p.tp as f64 / positives;
        let score = f1(precision, recall);
        if score > best.0 {
            let below = curve.get(k + 1).map_or(p.threshold, |n| n.threshold);
            best = (score, p.threshold - (p.threshold - below) / 2.0);
        }
    }
    best.1
}

// Metrics that don't flatter (issue 15): balanced accuracy, MCC and detection at fixed
// false-positive rates. A test file that is 82 % attacks makes plain accuracy meaningless
// ("everything is an attack" scores 81.8 % on NSL-KDD's hardest test file); these do not
// reward a model for the classes' proportions. Computed from a confusion matrix or from
// scores, never stored in model files (whose `Scores` keep their layout).

impl Confusion {
    /// The mean of the two classes' recalls (scikit-learn's `balanced_accuracy_score`): 0.5
    /// for any constant verdict, whatever the classes' proportions. With one class present,
    /// that class's recall.
    pub fn balanced_accuracy(&self) -> f64 {
        let (attacks, normal) = (self.tp + self.fn_, self.tn + self.fp);
        match (attacks > 0, normal > 0) {
            (true, true) => (self.recall() + ratio(self.tn, normal)) / 2.0,
            (true, false) => self.recall(),
            (false, true) => ratio(self.tn, normal),
            (false, false) => 0.0,
        }
    }

    /// Matthews correlation coefficient, in [-1, 1]: 0 for any constant verdict; 0 too when
    /// a row or column of the matrix is empty (scikit-learn's `matthews_corrcoef`).
    pub fn mcc(&self) -> f64 {
        let [tp, tn, fp, fn_] = [self.tp, self.tn, self.fp, self.fn_].map(|v| v as f64);
        let denominator = (tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_);
        if denominator == 0.0 {
            0.0
        } else {
            (tp * tn - fp * fn_) / denominator.sqrt()
        }
    }
}

/// The false-positive rates at which detection is reported: 0.5 %, 1 % and 2 %.
pub const FIXED_FPRS: [f64; 3] = [0.005, 0.01, 0.02];

/// The share of attack rows caught when the threshold lets through at most `target_fpr` of
/// the normal rows: a point of the ROC curve, comparable between detectors whatever their
/// own thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectionAtFpr {
    pub target_fpr: f64,
    /// Rows scoring strictly above it are flagged.
    pub threshold: f64,
    pub detection_rate: f64,
    /// The share of normal rows flagged: at most `target_fpr`.
    pub false_positive_rate: f64,
}

/// Detection at `target_fpr` from the scores of normal and attack rows. The threshold is the
/// normal rows' score of rank `⌊target_fpr × n⌋ + 1` from the top (their `1 - target_fpr`
/// quantile), and rows scoring strictly above it are flagged: at most `⌊target_fpr × n⌋`
/// normal rows are. Ties are never split: rows tied with the threshold, normal or attack, are
/// all left unflagged, so the false-positive rate never exceeds the target, and a detector
/// that gives many rows one score cannot gain by where the cut falls among them. `None`
/// without normal rows.
pub fn detection_at_fpr(
    normal: &[f64],
    attacks: &[f64],
    target_fpr: f64,
) -> Option<DetectionAtFpr> {
    if normal.is_empty() {
        return None;
    }
    let mut sorted = normal.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let allowed = ((target_fpr * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    let threshold = sorted[allowed];
    let above = |scores: &[f64]| {
        let flagged = scores.iter().filter(|&&s| s > threshold).count();
        ratio(flagged as u64, scores.len() as u64)
    };
    Some(DetectionAtFpr {
        target_fpr,
        threshold,
        detection_rate: above(attacks),
        false_positive_rate: above(normal),
    })
}

/// Balanced accuracy, MCC and detection at [`FIXED_FPRS`], beside the metrics of
/// [`Scores`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unflattering {
    pub balanced_accuracy: f64,
    pub mcc: f64,
    /// One per [`FIXED_FPRS`]; empty without normal rows.
    pub detection_at_fpr: Vec<DetectionAtFpr>,
}

impl Unflattering {
    /// From the labels, the scores and the confusion matrix at the model's threshold.
    pub fn of(truth: &[bool], scores: &[f64], confusion: &Confusion) -> Unflattering {
        let (mut normal, mut attacks) = (Vec::new(), Vec::new());
        for (&t, &s) in truth.iter().zip(scores) {
            if t { attacks.push(s) } else { normal.push(s) }
        }
        Unflattering {
            balanced_accuracy: confusion.balanced_accuracy(),
            mcc: confusion.mcc(),
            detection_at_fpr: FIXED_FPRS
                .iter()
                .filter_map(|&fpr| detection_at_fpr(&normal, &attacks, fpr))
                .collect(),
        }
    }

    /// The detection rate at `target_fpr`, one of [`FIXED_FPRS`].
    pub fn detection(&self, target_fpr: f64) -> Option<f64> {
        self.detection_at_fpr
            .iter()
            .find(|d| d.target_fpr == target_fpr)
            .map(|d| d.detection_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_metrics_match_a_hand_computed_case() {
        // Truth: 3 normal, 2 DoS, 1 Probe; U2R in neither. Predictions: normal rows as
        // normal, normal, DoS; DoS as DoS, normal; Probe as Probe.
        let names: Vec<String> = ["normal", "DoS", "Probe", "U2R"].map(String::from).into();
        let report = ClassReport::new(&names, &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 0, 2]);
        assert_eq!(
            report.confusion,
            [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
        );
        let normal = &report.classes[0];
        // normal: 2 of 3 predicted right (precision 2/3), 2 of 3 found (recall 2/3).
        assert!((normal.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((normal.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(normal.support, 3);
        // DoS: precision 1/2, recall 1/2, F1 1/2; Probe perfect; U2R absent, not averaged.
        assert!((report.classes[1].f1 - 0.5).abs() < 1e-12);
        assert_eq!(report.classes[2].f1, 1.0);
        assert_eq!(report.classes[3].f1, 0.0);
        let macro_f1 = (2.0 / 3.0 + 0.5 + 1.0) / 3.0;
        assert!((report.macro_f1 - macro_f1).abs() < 1e-12);
        assert!((report.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let text = report.to_text();
        assert!(text.contains("macro F1"), "{text}");
        assert!(
            text.contains("\n    Probe    1.0000    1.0000    1.0000         1\n"),
            "{text}"
        );
        assert!(text.contains("\n   normal         2         1         0         0\n"));
    }

    #[test]
    fn confusion_and_rates_by_hand() {
        let truth = [true, true, true, false, false, false, false, true];
        let pred = [true, true, false, false, true, false, false, true];
        let c = Confusion::from_predictions(&truth, &pred);
        assert_eq!(
            c,
            Confusion {
                tn: 3,
                fp: 1,
                fn_: 1,
                tp: 3
            }
        );
        assert_eq!(c.accuracy(), 6.0 / 8.0);
        assert_eq!(c.precision(), 0.75);
        assert_eq!(c.recall(), 0.75);
        assert!((c.f1() - 0.75).abs() < 1e-15);
        assert_eq!(c.normal_class(), (0.75, 0.75, 0.75));
    }

    #[test]
    fn report_lists_both_classes_and_averages() {
        let c = Confusion {
            tn: 3,
            fp: 1,
            fn_: 1,
            tp: 3,
        };
        let report = classification_report(&c);
        assert!(
            report.contains("normal    0.7500    0.7500    0.7500         4"),
            "{report}"
        );
        assert!(
            report.contains("accuracy                        0.7500         8"),
            "{report}"
        );
        assert!(report.contains("weighted avg    0.7500"), "{report}");
    }

    /// Unbalanced classes and unequal per-class scores, so that every average is its own
    /// number. Reference: scikit-learn 1.9.1 `classification_report(y_true, y_pred,
    /// target_names=["normal", "attack"], digits=4)` on the rows of this confusion matrix.
    #[test]
    fn report_matches_scikit_learns_on_unbalanced_classes() {
        let c = Confusion {
            tn: 50,
            fp: 10,
            fn_: 5,
            tp: 35,
        };
        let report = classification_report(&c);
        let words: Vec<Vec<&str>> = report
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        let reference = [
            "precision recall f1-score support",
            "normal 0.9091 0.8333 0.8696 60",
            "attack 0.7778 0.8750 0.8235 40",
            "accuracy 0.8500 100",
            "macro avg 0.8434 0.8542 0.8465 100",
            "weighted avg 0.8566 0.8500 0.8512 100",
        ];
        let reference: Vec<Vec<&str>> = reference
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(words, reference, "{report}");
    }

    #[test]
    fn scores_at_threshold_combine_the_metrics() {
        let s = Scores::at_threshold(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8], 0.3);
        assert_eq!(
            s.confusion,
            Confusion {
                tn: 1,
                fp: 1,
                fn_: 0,
                tp: 2
            }
        );
        assert_eq!(s.recall, 1.0);
        assert!((s.roc_auc.unwrap() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn nothing_flagged_gives_zero_precision_not_nan() {
        let c = Confusion::from_predictions(&[true, false], &[false, false]);
        assert_eq!((c.precision(), c.recall(), c.f1()), (0.0, 0.0, 0.0));
    }

    #[test]
    fn roc_auc_matches_scikit_learn_examples() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        let auc = roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((auc - 0.75).abs() < 1e-12);
        // All scores tied: one half.
        assert_eq!(roc_auc(&[false, true], &[0.3, 0.3]), Some(0.5));
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn average_precision_matches_scikit_learn_example() {
        // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        let ap = average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-12);
    }

    #[test]
    fn best_f1_threshold_separates_separable_scores() {
        let truth = [false, false, true, true];
        let t = best_f1_threshold(&truth, &[0.1, 0.2, 0.7, 0.9]);
        assert!((t - 0.45).abs() < 1e-12);
        assert_eq!(classify(&[0.1, 0.2, 0.7, 0.9], t), truth);
    }

    /// Precision and recall weigh equally: flagging everything (F1 6/7) beats stopping
    /// before the false alarm (F1 4/5), and the lowest score flagged is itself the threshold.
    #[test]
    fn best_f1_threshold_trades_precision_for_recall() {
        let t = best_f1_threshold(&[true, true, false, true], &[0.9, 0.8, 0.7, 0.6]);
        assert_eq!(t, 0.6);
    }

    /// Equal F1 at 0.9 and at 0.2 (both 2/3): the higher threshold wins, fewer false alarms.
    #[test]
    fn best_f1_threshold_breaks_ties_towards_fewer_alarms() {
        let t = best_f1_threshold(&[true, false, false, true], &[0.9, 0.6, 0.5, 0.2]);
        assert!((t - 0.75).abs() < 1e-12, "{t}");
    }

    /// "Everything is an attack" on a file of 82 % attacks: accuracy 0.82, balanced accuracy
    /// 0.5, MCC 0.
    #[test]
    fn balanced_accuracy_and_mcc_do_not_reward_a_constant_verdict() {
        let c = Confusion {
            tn: 0,
            fp: 18,
            fn_: 0,
            tp: 82,
        };
        assert!((c.accuracy() - 0.82).abs() < 1e-12);
        assert_eq!(c.balanced_accuracy(), 0.5);
        assert_eq!(c.mcc(), 0.0);
    }

    /// By hand: tn 50, fp 10, fn 5, tp 35. Balanced accuracy (35/40 + 50/60) / 2 = 0.8541666…;
    /// MCC (35·50 − 10·5) / √(45·40·60·55) = 1700 / √5,940,000 = 0.697518…, as
    /// scikit-learn's `matthews_corrcoef` gives on those rows.
    #[test]
    fn balanced_accuracy_and_mcc_by_hand() {
        let c = Confusion {
            tn: 50,
            fp: 10,
            fn_: 5,
            tp: 35,
        };
        assert!((c.balanced_accuracy() - (35.0 / 40.0 + 50.0 / 60.0) / 2.0).abs() < 1e-15);
        assert!((c.mcc() - 1700.0 / 5_940_000f64.sqrt()).abs() < 1e-15);
        assert!((c.mcc() - 0.697_518_448_882_885_5).abs() < 1e-15);
        let perfect = Confusion {
            tn: 3,
            fp: 0,
            fn_: 0,
            tp: 2,
        };
        assert_eq!((perfect.balanced_accuracy(), perfect.mcc()), (1.0, 1.0));
        let inverted = Confusion {
            tn: 0,
            fp: 3,
            fn_: 2,
            tp: 0,
        };
        assert_eq!((inverted.balanced_accuracy(), inverted.mcc()), (0.0, -1.0));
        // One class only: its recall; MCC undefined, 0.
        let normal_only = Confusion {
            tn: 3,
            fp: 1,
            fn_: 0,
            tp: 0,
        };
        assert_eq!(normal_only.balanced_accuracy(), 0.75);
        assert_eq!(normal_only.mcc(), 0.0);
    }

    /// 200 normal scores 0, 1, …, 199 and attacks at 150.5, 190, 197.5, 198.5, 199.5. At 1 %,
    /// two normal rows may be flagged: the threshold is the third highest normal score, 197,
    /// and rows above it are flagged (198 and 199 among the normal rows; 197.5, 198.5 and
    /// 199.5 among the attacks). At 0.5 %: one normal row (199), threshold 198.
    #[test]
    fn detection_at_a_fixed_false_positive_rate_by_hand() {
        let normal: Vec<f64> = (0..200).map(f64::from).collect();
        let attacks = [150.5, 190.0, 197.5, 198.5, 199.5];
        let at1 = detection_at_fpr(&normal, &attacks, 0.01).unwrap();
        assert_eq!(at1.threshold, 197.0);
        assert_eq!(at1.false_positive_rate, 0.01);
        assert_eq!(at1.detection_rate, 3.0 / 5.0);
        let at05 = detection_at_fpr(&normal, &attacks, 0.005).unwrap();
        assert_eq!(at05.threshold, 198.0);
        assert_eq!(at05.false_positive_rate, 0.005);
        assert_eq!(at05.detection_rate, 2.0 / 5.0);
        let at2 = detection_at_fpr(&normal, &attacks, 0.02).unwrap();
        assert_eq!(at2.threshold, 195.0);
        assert_eq!(at2.detection_rate, 3.0 / 5.0);
        assert_eq!(detection_at_fpr(&[], &attacks, 0.01), None);
    }

    /// Ties at the boundary are never split: ten normal rows tied at the top score leave
    /// nothing flaggable at 1 % of 100 rows (the threshold is that score, nothing lies above
    /// it), and attacks tied with it are not counted as caught.
    #[test]
    fn detection_at_fpr_never_splits_ties() {
        let mut normal = vec![0.9; 10];
        normal.extend((0..90).map(|i| f64::from(i) / 100.0));
        let attacks = [0.9, 0.9, 0.95];
        let d = detection_at_fpr(&normal, &attacks, 0.01).unwrap();
        assert_eq!(d.threshold, 0.9);
        assert_eq!(d.false_positive_rate, 0.0);
        assert_eq!(d.detection_rate, 1.0 / 3.0);
    }

    #[test]
    fn unflattering_metrics_come_at_each_fixed_rate() {
        let truth = [false, false, false, true, true];
        let scores = [0.1, 0.2, 0.3, 0.25, 0.9];
        let s = Scores::at_threshold(&truth, &scores, 0.5);
        let u = Unflattering::of(&truth, &scores, &s.confusion);
        assert_eq!(u.balanced_accuracy, 0.75);
        let rates: Vec<f64> = u.detection_at_fpr.iter().map(|d| d.target_fpr).collect();
        assert_eq!(rates, FIXED_FPRS);
        // Three normal rows: no false positive allowed, threshold 0.3, one attack above.
        assert_eq!(u.detection(0.01), Some(0.5));
        assert_eq!(u.detection(0.3), None);
    }
}

//! The statistics against scipy 1.17.1. The expected numbers were printed by
//! `scipy_reference.py` beside this file from the same inputs. Tolerance: 1e-9 relative
//! (statistics are sums of a few dozen terms; p-values go through statrs' and scipy's own
//! special functions, which agree far closer than that).

use nadir_explore::stats::{
    Alternative, average_ranks, benjamini_hochberg, chi_square_independence, mann_whitney_u,
    pearson, spearman, two_proportions, welch_t,
};
use nadir_explore::{PValue, Summary};

const X: [f64; 12] = [1., 2., 2., 3., 5., 5., 5., 8., 9., 12., 0.5, 7.];
const Y: [f64; 15] = [
    2., 3., 3., 4., 5., 6., 7., 7., 10., 11., 11., 13., 14., 2.5, 6.,
];

fn sparse() -> (Vec<f64>, Vec<f64>) {
    let x = [vec![0.0; 20], vec![1.0; 5], vec![3.0]].concat();
    let y = [vec![0.0; 30], vec![1.0; 2], vec![2.0]].concat();
    (x, y)
}

#[track_caller]
fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() <= tolerance,
        "got {actual:e}, scipy says {expected:e}"
    );
}

#[test]
fn mann_whitney_matches_scipy_with_ties_in_every_direction() {
    let (sx, sy) = sparse();
    let cases = [
        (
            &X[..],
            &Y[..],
            Alternative::TwoSided,
            62.5,
            0.18606239561725157,
        ),
        (
            &X[..],
            &Y[..],
            Alternative::Greater,
            62.5,
            0.9148580856680666,
        ),
        (&X[..], &Y[..], Alternative::Less, 62.5, 0.09303119780862579),
        (
            &sx[..],
            &sy[..],
            Alternative::TwoSided,
            488.0,
            0.15255682235209822,
        ),
        (
            &sx[..],
            &sy[..],
            Alternative::Greater,
            488.0,
            0.07627841117604911,
        ),
        (
            &sx[..],
            &sy[..],
            Alternative::Less,
            488.0,
            0.9271670816996787,
        ),
    ];
    for (x, y, alternative, u, p) in cases {
        let m = mann_whitney_u(x, y, alternative).unwrap();
        close(m.u, u);
        close(m.p_value, p);
        close(m.rank_biserial, 2.0 * u / (x.len() * y.len()) as f64 - 1.0);
    }
    // X tends lower than Y: the signed z and the effect say so.
    let m = mann_whitney_u(&X, &Y, Alternative::TwoSided).unwrap();
    assert!(m.z < 0.0 && m.rank_biserial < 0.0);
}

#[test]
fn welch_matches_scipy_ttest_ind_unequal_variances() {
    let cases = [
        (Alternative::TwoSided, 0.17531489528611674),
        (Alternative::Greater, 0.9123425523569416),
        (Alternative::Less, 0.08765744764305837),
    ];
    for (alternative, p) in cases {
        let w = welch_t(&X, &Y, alternative).unwrap();
        close(w.t, -1.3954684067972178);
        close(w.df, 24.660184533443992);
        close(w.p_value, p);
        close(w.hedges_g, -0.5171978266103465);
    }
}

#[test]
fn chi_square_matches_scipy_chi2_contingency_without_correction() {
    let table = vec![vec![20, 5, 13, 2], vec![7, 17, 3, 9], vec![11, 11, 4, 30]];
    let c = chi_square_independence(&table).unwrap();
    close(c.statistic, 48.95324785541088);
    close(c.p_value, 7.61832769142268e-09);
    assert_eq!(c.dof, 6);
    close(c.cramers_v, 0.43061464112276027);

    let c = chi_square_independence(&[vec![34, 12], vec![51, 88]]).unwrap();
    close(c.statistic, 19.281201126055674);
    close(c.p_value, 1.1281162413001565e-05);
    assert_eq!(c.dof, 1);
    close(c.cramers_v, 0.3228354205930479);
}

#[test]
fn chi_square_drops_empty_rows_and_columns() {
    let with_empty = vec![vec![34, 0, 12], vec![0, 0, 0], vec![51, 0, 88]];
    let c = chi_square_independence(&with_empty).unwrap();
    close(c.statistic, 19.281201126055674);
    assert_eq!((c.rows, c.columns), (2, 2));
    assert!(chi_square_independence(&[vec![3, 4], vec![0, 0]]).is_none());
}

#[test]
fn two_proportion_z_is_the_signed_root_of_the_2x2_chi_square() {
    let greater = two_proportions((34, 46), (51, 139), Alternative::Greater).unwrap();
    close(greater.z, 4.3910364523715435);
    close(greater.p_value, 5.640581206500786e-06);
    let less = two_proportions((34, 46), (51, 139), Alternative::Less).unwrap();
    close(less.p_value, 0.9999943594187936);
    close(greater.phi, 0.3228354205930479);
}

#[test]
fn correlations_and_ranks_match_scipy() {
    close(pearson(&X, &Y[..12]).unwrap(), 0.5916596315883432);
    close(spearman(&X, &Y[..12]).unwrap(), 0.5709255754701116);
    assert_eq!(
        average_ranks(&X),
        [
            2.0, 3.5, 3.5, 5.0, 7.0, 7.0, 7.0, 10.0, 11.0, 12.0, 1.0, 9.0
        ]
    );
    assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
}

#[test]
fn benjamini_hochberg_matches_scipy_false_discovery_control() {
    let p = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5, 0.04, 0.9, 0.0001, 0.049];
    let expected = [
        0.03333333333333333,
        0.06666666666666667,
        0.06666666666666667,
        0.25,
        0.005,
        0.5555555555555556,
        0.06666666666666667,
        0.9,
        0.001,
        0.07,
    ];
    for (a, e) in benjamini_hochberg(&p).into_iter().zip(expected) {
        close(a, e);
    }
}

#[test]
fn quartiles_match_numpy_quantile() {
    let mut y = Y.to_vec();
    y.sort_by(f64::total_cmp);
    let s = Summary::of_sorted(&y).unwrap();
    close(s.q1, 3.5);
    close(s.median, 6.0);
    close(s.q3, 10.5);
}

/// The distributions' far tails, which the tests reach at this data's sample sizes, stay
/// accurate until they underflow; below 1e-300 a p-value is shown as a bound.
#[test]
fn far_tails_keep_their_precision_until_they_underflow() {
    use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};
    close(Normal::standard().sf(30.0), 4.906713927147908e-198);
    close(
        StudentsT::new(0.0, 1.0, 50.0).unwrap().sf(8.0),
        8.316483014160684e-11,
    );
    close(
        ChiSquared::new(10.0).unwrap().sf(400.0),
        9.413291991183437e-80,
    );
    assert!(PValue::new(Normal::standard().sf(40.0)).underflow);
    assert_eq!(PValue::new(0.0).text, "< 1e-300");
    assert_eq!(PValue::new(0.0123).text, "0.012");
}

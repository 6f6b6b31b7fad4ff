//! Stratified splits and folds: every part keeps the class balance of the whole.
//!
//! Hand-written: neither linfa nor smartcore has a stratified K-fold.

use nadir_data::Rng;

/// Shuffled row indices of each class.
fn shuffled_by_class(labels: &[bool], seed: u64) -> [Vec<usize>; 2] {
    let mut rng = Rng::new(seed);
    let mut classes: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for (i, &y) in labels.iter().enumerate() {
        classes[y as usize].push(i);
    }
    for class in &mut classes {
        rng.shuffle(class);
    }
    classes
}

/// A stratified train/test split; `test_share` of each class goes to the test part.
/// Both parts are returned in ascending row order.
pub fn stratified_split(labels: &[bool], test_share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in shuffled_by_class(labels, seed) {
        let n_test = (class.len() as f64 * test_share).round() as usize;
        test.extend_from_slice(&class[..n_test]);
        train.extend_from_slice(&class[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Stratified K-fold: for each fold, (training rows, validation rows). Every row is in
/// exactly one validation part.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut fold_of = vec![0usize; labels.len()];
    // Deal each class round-robin, continuing across classes so fold sizes stay even.
    let mut next = 0;
    for class in shuffled_by_class(labels, seed) {
        for i in class {
            fold_of[i] = next % k;
            next += 1;
        }
    }
    (0..k)
        .map(|f| {
            let (valid, train): (Vec<usize>, Vec<usize>) =
                (0..labels.len()).partition(|&i| fold_of[i] == f);
            (train, valid)
        })
        .collect()
}

/// [`stratified_split`] by class index, for the multi-class models: `test_share` of each
/// class goes to the test part. On classes 0 and 1 it is the same split as
/// [`stratified_split`] of the labels `class == 1`.
pub fn stratified_split_classes(
    classes: &[u32],
    test_share: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let count = classes.iter().max().map_or(0, |&c| c as usize + 1);
    let mut by_class = vec![Vec::new(); count];
    for (i, &c) in classes.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in &mut by_class {
        rng.shuffle(class);
        let n_test = (class.len() as f64 * test_share).round() as usize;
        test.extend_from_slice(&class[..n_test]);
        train.extend_from_slice(&class[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<bool> {
        (0..n).map(|i| i % 3 == 0).collect()
    }

    #[test]
    fn split_keeps_class_shares_and_covers_every_row_once() {
        let y = labels(1000);
        let (train, test) = stratified_split(&y, 0.3, 42);
        assert_eq!(train.len() + test.len(), 1000);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let attacks = test.iter().filter(|&&i| y[i]).count();
        assert_eq!(attacks, (334.0f64 * 0.3).round() as usize);
        assert_eq!(stratified_split(&y, 0.3, 42), (train, test));
    }

    #[test]
    fn folds_partition_the_rows_with_even_class_balance() {
        let y = labels(1003);
        let folds = stratified_folds(&y, 5, 1);
        let mut seen = vec![0; y.len()];
        for (train, valid) in &folds {
            assert_eq!(train.len() + valid.len(), y.len());
            for &i in valid {
                seen[i] += 1;
            }
            let attacks = valid.iter().filter(|&&i| y[i]).count() as i64;
            assert!((attacks - 335 / 5).abs() <= 1);
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn class_split_keeps_every_class_share_and_is_the_binary_split_on_two_classes() {
        let classes: Vec<u32> = (0..1000).map(|i| [0, 0, 1, 2, 2, 2, 0][i % 7]).collect();
        let (train, test) = stratified_split_classes(&classes, 0.3, 7);
        assert_eq!(train.len() + test.len(), 1000);
        for class in 0..3 {
            let all = classes.iter().filter(|&&c| c == class).count();
            let tested = test.iter().filter(|&&i| classes[i] == class).count();
            assert_eq!(tested, (all as f64 * 0.3).round() as usize, "class {class}");
        }
        let y = labels(1000);
        let binary: Vec<u32> = y.iter().map(|&a| u32::from(a)).collect();
        assert_eq!(
            stratified_split_classes(&binary, 0.3, 42),
            stratified_split(&y, 0.3, 42)
        );
    }
}

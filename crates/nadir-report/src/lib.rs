//! The nadir HTML report (being built: issue 5).

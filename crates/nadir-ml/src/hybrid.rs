//! The hybrid detector: a classifier plus a novelty detector trained on normal traffic (being built: issue 7).

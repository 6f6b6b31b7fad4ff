//! Leave-attacks-out validation (being built: issue 7).

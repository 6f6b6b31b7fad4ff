//! Exploration of connection records (being built: issue 5).

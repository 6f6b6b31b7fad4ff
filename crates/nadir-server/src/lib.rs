//! The nadir HTTP scoring service (being built: issue 4).

pub mod web;

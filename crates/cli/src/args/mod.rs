//! Option groups shared by several commands.

pub(crate) mod microshare;
pub(crate) mod scripts;

//! Option groups shared by several commands.

pub(crate) mod delivery;
pub(crate) mod microshare;
pub(crate) mod queue;
pub(crate) mod scripts;

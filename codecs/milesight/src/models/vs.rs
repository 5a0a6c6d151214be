//! VS occupancy and people counting sensors.
//!
//! Models of this family: vs121, vs133, vs330, vs340, vs341.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

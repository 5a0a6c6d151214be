//! GS101 and GS301 gas detectors, TS101 temperature sensor.
//!
//! Models of this family: gs101, gs301, ts101.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

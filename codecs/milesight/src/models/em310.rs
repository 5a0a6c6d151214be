//! EM310 and EM320: tilt, ultrasonic distance, temperature/humidity.
//!
//! Models of this family: em310-tilt, em310-udl, em320-th, em320-tilt.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

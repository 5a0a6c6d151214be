//! EM400: ultrasonic distance, time-of-flight and multifunction sensors.
//!
//! Models of this family: em400-mud, em400-tld, em400-udl.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

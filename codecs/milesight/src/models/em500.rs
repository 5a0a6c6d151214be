//! EM500: CO2, light, pipe pressure, PT100, soil, submersible level and distance sensors.
//!
//! Models of this family: em500-co2, em500-lgt, em500-pp, em500-pt100, em500-smt, em500-smtc, em500-swl, em500-udl.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

//! EM300 series: temperature/humidity, leakage, magnetic contact, pulse and multi-channel sensors.
//!
//! Models of this family: em300-di, em300-mcs, em300-mld, em300-sld, em300-th, em300-zld.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

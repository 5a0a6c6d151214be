//! WTS weather stations.
//!
//! Models of this family: wts305, wts505, wts506.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

//! UC controllers: UC100, UC11xx, UC300, UC50x, UC51x.
//!
//! Models of this family: uc100, uc1114, uc1122, uc1152, uc300, uc50x, uc51x.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

//! WS buttons, switches, sockets, sound level and door/window sensors.
//!
//! Models of this family: ws101, ws136, ws156, ws201, ws202, ws203, ws301, ws302, ws303, ws50x, ws52x, ws558.

use crate::Model;

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[];

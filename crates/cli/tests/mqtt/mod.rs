//! What the MQTT tests share: a real mosquitto, a publisher, a test CA, and the ingester as
//! a process.
#![allow(dead_code)] // each test uses some of it

pub(crate) mod ingester;
pub(crate) mod mosquitto;

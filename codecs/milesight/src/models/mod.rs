//! The models: one table of rules per decoder of the device repository (commit `96abc53c`),
//! grouped by family. Each table lists its decoder's tests in the decoder's order; where two
//! tests are the same, only the first can match and the later ones are left out.

use crate::Model;

mod am;
pub(crate) mod common;
mod em300;
mod em310;
mod em400;
mod em500;
mod gs;
mod uc;
mod vs;
mod ws;
mod wts;

/// The families: each module's models.
static FAMILIES: &[&[&Model]] = &[
    am::MODELS,
    em300::MODELS,
    em310::MODELS,
    em400::MODELS,
    em500::MODELS,
    gs::MODELS,
    uc::MODELS,
    vs::MODELS,
    ws::MODELS,
    wts::MODELS,
];

/// The first model, for callers that need one whatever the name.
pub(crate) static FIRST: &Model = &am::AM103;

/// Every model, family by family.
pub fn models() -> impl Iterator<Item = &'static Model> {
    FAMILIES.iter().flat_map(|f| f.iter().copied())
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate alloc;
    use super::*;
    use alloc::{string::String, vec::Vec};
    use lorafield_core::{FieldBuf, Uplink};

    /// The JSON result of decoding `payload` with `model` (for the family modules' tests).
    pub(crate) fn json(model: &str, payload: &[u8]) -> String {
        let codec = crate::Milesight::for_model(model).unwrap();
        let mut buf = FieldBuf::<64>::new();
        let mut out = Vec::new();
        buf.decode(&codec, Uplink::new(85, payload))
            .write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ids_are_distinct_and_tables_not_empty() {
        let all: alloc::vec::Vec<_> = models().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.id, b.id);
            }
            assert!(!a.table.rules().is_empty(), "{}", a.id);
        }
    }
}

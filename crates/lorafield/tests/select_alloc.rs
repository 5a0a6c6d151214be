//! Choosing a codec for a record allocates nothing.

#![cfg(all(feature = "config", feature = "cayenne-lpp", feature = "milesight"))]

use std::alloc::System;
use std::hint::black_box;

use lorafield::{Meta, Registry, Selection};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn select_allocates_nothing() {
    let toml = r#"
        [[rule]]
        application_id = ["hackiot-*", "*-demo-*", "exact"]
        f_port = [3, 4]
        codec = "cayenne-lpp"

        [[rule]]
        dev_eui = "A84041*"
        brand_id = "milesight-iot"
        model_id = "em300-*"
        codec = "milesight"
        model = "em300-th"
    "#;
    let selection = Selection::from_toml(toml, &Registry::builtin()).unwrap();
    let metas = [
        Meta {
            application_id: Some("x-demo-y"),
            f_port: Some(3),
            ..Meta::default()
        },
        Meta {
            dev_eui: Some("a840410000000001"),
            brand_id: Some("milesight-iot"),
            model_id: Some("em300-th"),
            ..Meta::default()
        },
        Meta::default(),
    ];
    // The global allocator counts every thread's allocations, the test harness's too: an
    // allocation per call shows in every try, a stray one of another thread in one at most.
    let fewest = (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            let mut rules = 0;
            for _ in 0..1000 {
                for meta in &metas {
                    rules += black_box(selection.select(meta)).rule().unwrap_or(0);
                }
            }
            assert_eq!(rules, 3000);
            let stats = region.change();
            stats.allocations + stats.reallocations
        })
        .min();
    assert_eq!(fewest, Some(0));
}

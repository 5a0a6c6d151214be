//! The buffer and LoRaWAN's largest payload: a frame of 242 bytes never fills a
//! `FieldBuf<MAX_EVENTS>`, and a longer frame that does stops with `sink_full` at the same
//! record on both paths to JSON.

use lorafield_codec_elsys::{Elsys, Layout, MAX_EVENTS, TYPES};
use lorafield_core::MAX_PAYLOAD;
use lorafield_core::json::JsonWriter;
use lorafield_core::{ErrorKind, FieldBuf, Uplink};

/// The most events records of these (bytes, events) kinds yield in `cap` bytes, and the kinds
/// that yield it (an unbounded knapsack).
fn densest(kinds: &[(usize, usize)], cap: usize) -> (usize, Vec<usize>) {
    let mut best = vec![(0usize, None::<usize>); cap + 1];
    for b in 1..=cap {
        best[b] = best[b - 1];
        best[b].1 = None;
        for (k, &(bytes, events)) in kinds.iter().enumerate() {
            if bytes <= b && best[b - bytes].0 + events > best[b].0 {
                best[b] = (best[b - bytes].0 + events, Some(k));
            }
        }
    }
    let mut picks = Vec::new();
    let mut b = cap;
    while b > 0 {
        match best[b].1 {
            Some(k) => {
                picks.push(k);
                b -= kinds[k].0;
            }
            None => b -= 1,
        }
    }
    (best[cap].0, picks)
}

/// Each type's record size (type byte included) and the events it stores: one per number, the
/// Grid-EYE an array of 64, a list occurrence one (the list's array adds one more, once).
fn kinds() -> Vec<(usize, usize)> {
    TYPES
        .iter()
        .map(|t| {
            let events = match t.layout {
                Layout::Fields(members) => members.len(),
                Layout::List(_) => 1,
                Layout::Grideye => 65,
            };
            (1 + usize::from(t.size), events)
        })
        .collect()
}

#[test]
fn the_largest_payload_fits_the_buffer() {
    let kinds = kinds();
    let (most, picks) = densest(&kinds, MAX_PAYLOAD);
    // The list's array is one event more at most.
    assert!(
        most + 1 < MAX_EVENTS,
        "{most} events fit in {MAX_PAYLOAD} bytes"
    );
    // The densest frame, decoded: as many events as counted, and no error.
    let mut frame = Vec::new();
    for &k in &picks {
        frame.push(TYPES[k].id);
        frame.extend(std::iter::repeat_n(0, usize::from(TYPES[k].size)));
    }
    assert!(frame.len() <= MAX_PAYLOAD);
    let lists = picks
        .iter()
        .filter(|&&k| matches!(TYPES[k].layout, Layout::List(_)))
        .count();
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&Elsys, Uplink::new(5, &frame));
    assert_eq!(d.error, None);
    assert_eq!(d.data.map(<[_]>::len), Some(most + usize::from(lists >= 2)));
}

#[test]
fn past_the_buffer_both_paths_stop_at_the_same_record() {
    // Four Grid-EYE records (264 bytes, 260 events): the fourth does not fit.
    let mut frame = Vec::new();
    for reference in 20..24 {
        frame.extend([0x13, reference]);
        frame.extend([5; 64]);
    }
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&Elsys, Uplink::new(5, &frame));
    let e = d.error.expect("the buffer is full");
    assert_eq!((e.offset, e.kind), (3 * 66, ErrorKind::SinkFull));
    let mut stored = Vec::new();
    JsonWriter::new().write_result(&d, &mut stored);
    let mut fast = Vec::new();
    JsonWriter::with_max_events(MAX_EVENTS).decode(&Elsys, Uplink::new(5, &frame), &mut fast);
    assert_eq!(
        String::from_utf8(fast).unwrap(),
        String::from_utf8(stored.clone()).unwrap()
    );
    // What came before is kept: the third record's values (its key repeats; the last wins).
    let v: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(v["data"]["grideye"][0], serde_json::json!(22.5));
    assert_eq!(v["errors"][0]["kind"], "sink_full");
}

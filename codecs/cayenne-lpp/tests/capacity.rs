//! The buffer and LoRaWAN's largest payload: a frame of 242 bytes never fills a
//! `FieldBuf<MAX_EVENTS>`, and a longer frame that does stops with `sink_full` at the same
//! record on both paths to JSON.

use lorafield_codec_lpp::{CayenneLpp, Layout, MAX_EVENTS, Profile, TYPES};
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

/// Each type's record size (channel and type bytes included) and the events it stores: one
/// for a number, an opening and one per member for an object.
fn kinds() -> Vec<(usize, usize)> {
    TYPES
        .iter()
        .map(|t| {
            let events = match t.layout {
                Layout::Scalar(_) => 1,
                Layout::Object(members) => 1 + members.len(),
            };
            (2 + usize::from(t.size), events)
        })
        .collect()
}

#[test]
fn the_largest_payload_fits_the_buffer() {
    let kinds = kinds();
    let (most, picks) = densest(&kinds, MAX_PAYLOAD);
    assert!(
        most < MAX_EVENTS,
        "{most} events fit in {MAX_PAYLOAD} bytes"
    );
    // The densest frame, decoded under the profile that knows every type: as many events as
    // counted, and no error.
    let mut frame = Vec::new();
    for (channel, &k) in picks.iter().enumerate() {
        frame.extend([channel as u8, TYPES[k].id]);
        frame.extend(std::iter::repeat_n(0, usize::from(TYPES[k].size)));
    }
    assert!(frame.len() <= MAX_PAYLOAD);
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let d = buf.decode(&CayenneLpp::new(Profile::Extended), Uplink::new(1, &frame));
    assert_eq!(d.error, None);
    assert_eq!(d.data.map(<[_]>::len), Some(most));
}

#[test]
fn past_the_buffer_both_paths_stop_at_the_same_record() {
    // 65 colour records (325 bytes, 260 events): the 65th does not fit.
    let mut frame = Vec::new();
    for channel in 0..65u8 {
        frame.extend([channel, 135, channel, 2, 3]);
    }
    for profile in Profile::ALL {
        let codec = CayenneLpp::new(profile);
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let d = buf.decode(&codec, Uplink::new(1, &frame));
        let mut stored = Vec::new();
        JsonWriter::new().write_result(&d, &mut stored);
        let mut fast = Vec::new();
        JsonWriter::with_max_events(MAX_EVENTS).decode(&codec, Uplink::new(1, &frame), &mut fast);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(stored.clone()).unwrap()
        );
        let v: serde_json::Value = serde_json::from_slice(&stored).unwrap();
        match profile {
            // Colour is not a type of LPP v1: the first record stops decoding.
            Profile::Tts => assert_eq!(v["errors"][0]["kind"], "unknown_type"),
            Profile::Extended => {
                let e = d.error.expect("the buffer is full");
                assert_eq!((e.offset, e.kind), (64 * 5, ErrorKind::SinkFull));
                // The 64 records before it are kept.
                assert_eq!(v["data"].as_object().map(|d| d.len()), Some(64));
                assert_eq!(v["data"]["colour_63"]["r"], 63);
            }
        }
    }
}

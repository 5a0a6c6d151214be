//! The buffer: a frame's length fixes its layout, so no frame of any length, LoRaWAN's 242
//! bytes or NB-IoT's longer datagrams, fills a `FieldBuf<MAX_EVENTS>`, and both paths to JSON
//! print the same for all of them.

use lorafield_codec_sodaq::{MAX_EVENTS, Model, SodaqTracker};
use lorafield_core::json::JsonWriter;
use lorafield_core::{ErrorKind, FieldBuf, Uplink};

#[test]
fn no_frame_fills_the_buffer() {
    let mut most = 0;
    for model in Model::ALL {
        let codec = SodaqTracker::new(model);
        for len in 0..=1024 {
            for fill in [0x00, 0x7f, 0xff] {
                let mut frame = vec![fill; len];
                // The LPP mode's header too, where the frame is long enough for it.
                for pass in 0..2 {
                    if pass == 1 {
                        if len < 2 {
                            break;
                        }
                        frame[..2].copy_from_slice(&[0x01, 0x88]);
                    }
                    let mut buf = FieldBuf::<MAX_EVENTS>::new();
                    let d = buf.decode(&codec, Uplink::new(1, &frame));
                    assert_ne!(d.error.map(|e| e.kind), Some(ErrorKind::SinkFull));
                    most = most.max(d.data.map_or(0, <[_]>::len));
                    let mut stored = Vec::new();
                    JsonWriter::new().write_result(&d, &mut stored);
                    let mut fast = Vec::new();
                    JsonWriter::with_max_events(MAX_EVENTS).decode(
                        &codec,
                        Uplink::new(1, &frame),
                        &mut fast,
                    );
                    assert_eq!(fast, stored, "{model:?}, {len} bytes");
                }
            }
        }
    }
    // An NB-IoT report with three previous fixes is the largest: 10 report fields, the
    // `previous_fixes` array of three objects of three, the UDP header's object of three.
    assert_eq!(most, 10 + 1 + 3 * 4 + 1 + 3);
    assert!(most < MAX_EVENTS);
}

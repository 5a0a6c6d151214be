//! `Registry::build_builtin`: the same codec as `Registry::build`, by value. Every built-in
//! codec (Milesight in every model, Sodaq and LPP in every profile) decodes the same payloads
//! to the same result both ways, into a `FieldBuf` and straight to JSON; payloads up to a
//! LoRaWAN uplink's 242 bytes from a fixed seed, and past it (the warning path).

#![cfg(all(
    feature = "cayenne-lpp",
    feature = "sodaq",
    feature = "elsys",
    feature = "milesight"
))]

use lorafield::{Builtin, Codec, FieldBuf, JsonWriter, MAX_EVENTS, Options, Registry};

/// A small fixed-seed generator (xorshift64*), so that every run decodes the same payloads.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A payload of 0 to `max` bytes; its first byte often a channel and its second a type
    /// the codecs know, so that frames decode some way before they stop.
    fn payload(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() % (max as u64 + 1)) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// The codecs and option sets to compare.
fn codecs() -> Vec<(&'static str, Options)> {
    let mut all = vec![
        ("cayenne-lpp", Options::default().profile("tts")),
        ("cayenne-lpp", Options::default().profile("extended")),
        ("elsys", Options::default()),
    ];
    for model in ["universal-tracker", "legacy", "nb-iot"] {
        all.push(("sodaq-tracker", Options::default().model(model)));
    }
    for model in lorafield_codec_milesight::MODEL_NAMES {
        all.push(("milesight", Options::default().model(*model)));
    }
    all
}

fn both_ways(codec: &dyn Codec, builtin: &Builtin, f_port: u8, payload: &[u8]) {
    let mut a = FieldBuf::<MAX_EVENTS>::new();
    let mut b = FieldBuf::<MAX_EVENTS>::new();
    let (mut ja, mut jb) = (Vec::new(), Vec::new());
    lorafield::decode(codec, f_port, payload, &mut a).write_json(&mut ja);
    lorafield::decode(builtin, f_port, payload, &mut b).write_json(&mut jb);
    assert_eq!(ja, jb, "{} port {f_port} {payload:02x?}", codec.id());
    let mut json = JsonWriter::new();
    let (mut oa, mut ob) = (Vec::new(), Vec::new());
    let ra = lorafield::decode_json(codec, f_port, payload, &mut json, &mut oa);
    let rb = lorafield::decode_json(builtin, f_port, payload, &mut json, &mut ob);
    assert_eq!(oa, ob, "{} port {f_port} {payload:02x?}", codec.id());
    assert_eq!(ra.data, rb.data);
    // `decode_json` goes through `Codec::write_json`; the writer's own entry through
    // `Codec::decode_json`, each codec behind `dyn Codec` and the `Builtin`, writes the same.
    if f_port != 0 && payload.len() <= lorafield::MAX_PAYLOAD {
        let uplink = lorafield::Uplink::new(f_port, payload);
        let (mut oc, mut od) = (Vec::new(), Vec::new());
        assert_eq!(json.decode(codec, uplink, &mut oc).data, ra.data);
        assert_eq!(json.decode(builtin, uplink, &mut od).data, ra.data);
        assert_eq!(oc, oa, "{} port {f_port} {payload:02x?}", codec.id());
        assert_eq!(od, oa, "{} port {f_port} {payload:02x?}", codec.id());
    }
    // And the FieldBuf's JSON is the writer's.
    assert_eq!(ja, oa, "{} port {f_port} {payload:02x?}", codec.id());
}

#[test]
fn a_builtin_decodes_as_the_registry_s_codec() {
    let registry = Registry::builtin();
    let mut bytes = Bytes(0x5eed_1234_abcd_0001);
    let mut compared = 0;
    for (id, options) in codecs() {
        let codec = registry.build(id, &options).unwrap();
        let builtin = registry.build_builtin(id, &options).unwrap();
        assert_eq!(builtin.id(), codec.id());
        assert_eq!(
            builtin.keeps_partial(),
            codec.keeps_partial(),
            "{id} {options:?}"
        );
        let f_port = if id == "milesight" { 85 } else { 1 };
        for _ in 0..300 {
            both_ways(
                &*codec,
                &builtin,
                f_port,
                &bytes.payload(lorafield::MAX_PAYLOAD),
            );
            compared += 1;
        }
        // Port 0 and a payload past a LoRaWAN uplink's size.
        both_ways(&*codec, &builtin, 0, &[1, 2, 3]);
        both_ways(&*codec, &builtin, f_port, &bytes.payload(600));
    }
    assert!(compared > 20_000, "{compared}");
}

#[test]
fn options_are_checked_as_build_checks_them() {
    let registry = Registry::builtin();
    let e = registry
        .build_builtin("milesight", &Options::default().model("no-such-model"))
        .unwrap_err();
    let b = registry
        .build("milesight", &Options::default().model("no-such-model"))
        .err()
        .unwrap();
    assert_eq!(e, b);
    assert!(registry.build_builtin("nope", &Options::default()).is_err());
}

/// A script codec (feature `js`) builds with `Registry::build` and not as a `Builtin`: the
/// error says so and where to go.
#[cfg(feature = "js")]
#[test]
fn a_script_codec_is_not_built_in() {
    let script = std::env::temp_dir().join(format!("lorafield-builtin-{}.js", std::process::id()));
    std::fs::write(
        &script,
        "function decodeUplink(input) { return { data: { n: input.bytes.length } }; }",
    )
    .unwrap();
    let options = Options::default().setting(
        "script",
        lorafield::Setting::Text(script.display().to_string()),
    );
    let registry = Registry::builtin();
    assert!(registry.build("js", &options).is_ok());
    let e = registry
        .build_builtin("js", &options)
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&script).unwrap();
    assert!(
        e.contains("not a built-in codec") && e.contains("Registry::build"),
        "{e}"
    );
}

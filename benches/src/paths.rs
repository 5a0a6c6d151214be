//! The timed loops of the LPP and codecs benches, one function per path, so that criterion
//! (`benches/lpp.rs`, `benches/codecs.rs`) and the instruction counts of `icount`
//! (`benches/icount.sh`) run the same code. Each decodes every frame once and returns a
//! checksum, so that nothing is optimised away.

use std::sync::Arc;

use lorafield::{Builtin, Codec, FieldBuf, JsonWriter, MAX_EVENTS, Options, Registry, Uplink};
use lorafield_codec_elsys::Elsys;
use lorafield_codec_lpp::{CayenneLpp, Profile};
use lorafield_codec_milesight::Milesight;
use lorafield_codec_sodaq::{Model, SodaqTracker};

use crate::{fixture_frames, lpp_frames};

/// How many frames the vendor codecs' benches decode per iteration.
pub const FRAMES: usize = 1000;

/// A frame and the codec (with its options) that decodes it.
pub struct Case<C> {
    /// The codec.
    pub codec: C,
    /// The port.
    pub f_port: u8,
    /// The payload.
    pub payload: Vec<u8>,
}

/// The codecs of the codecs bench, by bench name: each codec's 1,000 frames, with the concrete
/// codec type and with the registry's (`Arc<dyn Codec>` built from the same options).
pub struct Cases {
    /// The frames with the concrete codec.
    pub concrete: Concrete,
    /// The same frames with the registry's codec.
    pub registry: Vec<Case<Arc<dyn Codec>>>,
    /// The same frames with the registry's [`Builtin`] (`Registry::build_builtin`).
    pub builtin: Vec<Case<Builtin>>,
}

/// The concrete codecs' cases.
pub enum Concrete {
    /// Cayenne LPP (`tts`).
    Lpp(Vec<Case<CayenneLpp>>),
    /// Sodaq.
    Sodaq(Vec<Case<SodaqTracker>>),
    /// Elsys.
    Elsys(Vec<Case<Elsys>>),
    /// Milesight.
    Milesight(Vec<Case<Milesight>>),
}

/// The codecs bench's names, in its order.
pub const CODECS: [&str; 4] = [
    "cayenne-lpp",
    "sodaq-tracker",
    "elsys",
    "milesight (all models)",
];

/// The cases of codec bench `name` (one of [`CODECS`]).
pub fn cases(name: &str) -> Cases {
    let registry = Registry::builtin();
    // The registry's codec of each case, and the same as a `Builtin`.
    let builtin = std::cell::RefCell::new(Vec::new());
    let build = |id: &str, options: Options, f_port: u8, payload: Vec<u8>| {
        builtin.borrow_mut().push(Case {
            codec: registry.build_builtin(id, &options).expect("built in"),
            f_port,
            payload: payload.clone(),
        });
        Case {
            codec: registry.build(id, &options).expect("codec"),
            f_port,
            payload,
        }
    };
    let mut cases = built(name, build);
    cases.builtin = builtin.into_inner();
    cases
}

/// The cases of codec bench `name`, the registry's codecs made by `build` (`builtin` left
/// empty).
fn built(name: &str, build: impl Fn(&str, Options, u8, Vec<u8>) -> Case<Arc<dyn Codec>>) -> Cases {
    match name {
        "cayenne-lpp" => {
            let frames = lpp_frames().frames;
            Cases {
                builtin: Vec::new(),
                registry: frames
                    .iter()
                    .map(|p| {
                        build(
                            "cayenne-lpp",
                            Options::default().profile("tts"),
                            1,
                            p.clone(),
                        )
                    })
                    .collect(),
                concrete: Concrete::Lpp(
                    frames
                        .into_iter()
                        .map(|payload| Case {
                            codec: CayenneLpp::new(Profile::Tts),
                            f_port: 1,
                            payload,
                        })
                        .collect(),
                ),
            }
        }
        "sodaq-tracker" => {
            let frames = fixture_frames("sodaq-tracker", FRAMES);
            let model =
                |m: &Option<String>| m.clone().unwrap_or_else(|| Model::default().name().into());
            Cases {
                builtin: Vec::new(),
                registry: frames
                    .iter()
                    .map(|f| {
                        let options = Options::default().model(model(&f.model));
                        build("sodaq-tracker", options, 1, f.payload.clone())
                    })
                    .collect(),
                concrete: Concrete::Sodaq(
                    frames
                        .into_iter()
                        .map(|f| Case {
                            codec: SodaqTracker::new(model(&f.model).parse().expect("model")),
                            f_port: 1,
                            payload: f.payload,
                        })
                        .collect(),
                ),
            }
        }
        "elsys" => {
            let frames = fixture_frames("elsys", FRAMES);
            Cases {
                builtin: Vec::new(),
                registry: frames
                    .iter()
                    .map(|f| build("elsys", Options::default(), 5, f.payload.clone()))
                    .collect(),
                concrete: Concrete::Elsys(
                    frames
                        .into_iter()
                        .map(|f| Case {
                            codec: Elsys,
                            f_port: 5,
                            payload: f.payload,
                        })
                        .collect(),
                ),
            }
        }
        "milesight (all models)" => {
            let frames = fixture_frames("milesight", FRAMES);
            let model = |f: &crate::Fixture| f.model.clone().expect("model");
            Cases {
                builtin: Vec::new(),
                registry: frames
                    .iter()
                    .map(|f| {
                        let options = Options::default().model(model(f));
                        build("milesight", options, 85, f.payload.clone())
                    })
                    .collect(),
                concrete: Concrete::Milesight(
                    frames
                        .into_iter()
                        .map(|f| Case {
                            codec: Milesight::for_model(&model(&f)).expect("model"),
                            f_port: 85,
                            payload: f.payload,
                        })
                        .collect(),
                ),
            }
        }
        other => panic!("no codec bench {other:?} (known: {CODECS:?})"),
    }
}

impl Concrete {
    /// Payload bytes of all frames.
    pub fn bytes(&self) -> u64 {
        fn sum<C>(cases: &[Case<C>]) -> u64 {
            cases.iter().map(|c| c.payload.len() as u64).sum()
        }
        match self {
            Concrete::Lpp(c) => sum(c),
            Concrete::Sodaq(c) => sum(c),
            Concrete::Elsys(c) => sum(c),
            Concrete::Milesight(c) => sum(c),
        }
    }

    /// [`decode_only`] with the concrete codec.
    pub fn decode_only<'a>(&'a self, buf: &mut FieldBuf<'a, 256>) -> usize {
        match self {
            Concrete::Lpp(c) => decode_only(c, buf),
            Concrete::Sodaq(c) => decode_only(c, buf),
            Concrete::Elsys(c) => decode_only(c, buf),
            Concrete::Milesight(c) => decode_only(c, buf),
        }
    }

    /// [`decode_json`] with the concrete codec.
    pub fn decode_json(&self, json: &mut JsonWriter, out: &mut Vec<u8>) -> usize {
        match self {
            Concrete::Lpp(c) => decode_json(c, json, out),
            Concrete::Sodaq(c) => decode_json(c, json, out),
            Concrete::Elsys(c) => decode_json(c, json, out),
            Concrete::Milesight(c) => decode_json(c, json, out),
        }
    }
}

/// Every case into a reused `FieldBuf`, with the codec type `C` (`FieldBuf::decode`, generic:
/// a concrete codec is called directly).
#[inline(never)]
pub fn decode_only<'a, C: Codec>(cases: &'a [Case<C>], buf: &mut FieldBuf<'a, 256>) -> usize {
    let mut n = 0;
    for case in cases {
        let d = buf.decode(&case.codec, Uplink::new(case.f_port, &case.payload));
        n += d.data.map_or(0, <[_]>::len);
    }
    n
}

/// Every case through `JsonWriter::decode`, with the codec type `C`.
#[inline(never)]
pub fn decode_json<C: Codec>(cases: &[Case<C>], json: &mut JsonWriter, out: &mut Vec<u8>) -> usize {
    let mut n = 0;
    for case in cases {
        out.clear();
        let o = json.decode(&case.codec, Uplink::new(case.f_port, &case.payload), out);
        n += o.data.map_or(0, |r| r.len());
    }
    n
}

/// Every case with the registry's codec through `lorafield::decode`: what a library user
/// writes.
#[inline(never)]
pub fn registry_decode<'a>(
    cases: &'a [Case<Arc<dyn Codec>>],
    buf: &mut FieldBuf<'a, 256>,
) -> usize {
    let mut n = 0;
    for case in cases {
        let d = lorafield::decode(&*case.codec, case.f_port, &case.payload, buf);
        n += d.data.map_or(0, <[_]>::len);
    }
    n
}

/// Every case with the registry's codec through `lorafield::decode_json`.
#[inline(never)]
pub fn registry_json(
    cases: &[Case<Arc<dyn Codec>>],
    json: &mut JsonWriter,
    out: &mut Vec<u8>,
) -> usize {
    let mut n = 0;
    for case in cases {
        out.clear();
        let o = lorafield::decode_json(&*case.codec, case.f_port, &case.payload, json, out);
        n += o.data.map_or(0, |r| r.len());
    }
    n
}

/// Every case with the registry's [`Builtin`] through `lorafield::decode`: what a library user
/// writes with `Registry::build_builtin` (no virtual call a frame).
#[inline(never)]
pub fn builtin_decode<'a>(cases: &'a [Case<Builtin>], buf: &mut FieldBuf<'a, 256>) -> usize {
    let mut n = 0;
    for case in cases {
        let d = lorafield::decode(&case.codec, case.f_port, &case.payload, buf);
        n += d.data.map_or(0, <[_]>::len);
    }
    n
}

/// Every case with the registry's [`Builtin`] through `lorafield::decode_json`.
#[inline(never)]
pub fn builtin_json(cases: &[Case<Builtin>], json: &mut JsonWriter, out: &mut Vec<u8>) -> usize {
    let mut n = 0;
    for case in cases {
        out.clear();
        let o = lorafield::decode_json(&case.codec, case.f_port, &case.payload, json, out);
        n += o.data.map_or(0, |r| r.len());
    }
    n
}

/// The LPP bench's paths: the 1,000 TTS frames and the codecs that decode them.
pub struct Lpp {
    /// The frames.
    pub frames: Vec<Vec<u8>>,
    /// The registry's codec (profile `tts`).
    pub codec: Arc<dyn Codec>,
    /// The concrete codec.
    pub direct: CayenneLpp,
    /// The registry's codec as a [`Builtin`] (`Registry::build_builtin`, profile `tts`).
    pub builtin: Builtin,
}

impl Lpp {
    /// The frames of [`lpp_frames`] and both codecs.
    pub fn new(frames: Vec<Vec<u8>>) -> Lpp {
        let registry = Registry::builtin();
        let options = Options::default().profile("tts");
        Lpp {
            frames,
            codec: registry.build("cayenne-lpp", &options).expect("codec"),
            direct: CayenneLpp::new(Profile::Tts),
            builtin: registry
                .build_builtin("cayenne-lpp", &options)
                .expect("built in"),
        }
    }

    /// `lorafield (dyn Codec into FieldBuf)`: the registry's codec through `lorafield::decode`.
    #[inline(never)]
    pub fn registry_decode<'a>(&'a self, buf: &mut FieldBuf<'a, MAX_EVENTS>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            n += lorafield::decode(&*self.codec, 1, frame, buf)
                .data
                .map_or(0, <[_]>::len);
        }
        n
    }

    /// `lorafield (Builtin into FieldBuf)`: the registry's [`Builtin`] through
    /// `lorafield::decode` (a `match` inlined here, no virtual call).
    #[inline(never)]
    pub fn builtin_decode<'a>(&'a self, buf: &mut FieldBuf<'a, MAX_EVENTS>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            n += lorafield::decode(&self.builtin, 1, frame, buf)
                .data
                .map_or(0, <[_]>::len);
        }
        n
    }

    /// `lorafield (CayenneLpp into FieldBuf, static)`.
    #[inline(never)]
    pub fn static_decode<'a>(&'a self, buf: &mut FieldBuf<'a, MAX_EVENTS>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            n += buf
                .decode(&self.direct, Uplink::new(1, frame))
                .data
                .map_or(0, <[_]>::len);
        }
        n
    }

    /// `lorafield (CayenneLpp::decode_into a FieldBuf)`.
    #[inline(never)]
    pub fn decode_into<'a>(&'a self, buf: &mut FieldBuf<'a, MAX_EVENTS>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            buf.clear();
            n += usize::from(self.direct.decode_into(frame, buf).is_ok()) + buf.events().len();
        }
        n
    }

    /// `lorafield (decode_json)`: the registry's codec through `lorafield::decode_json`.
    #[inline(never)]
    pub fn registry_json(&self, json: &mut JsonWriter, out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            out.clear();
            let outcome = lorafield::decode_json(&*self.codec, 1, frame, json, out);
            n += outcome.data.map_or(0, |r| r.len());
        }
        n
    }

    /// `lorafield (Builtin decode_json)`: the registry's [`Builtin`] through
    /// `lorafield::decode_json`.
    #[inline(never)]
    pub fn builtin_json(&self, json: &mut JsonWriter, out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            out.clear();
            let outcome = lorafield::decode_json(&self.builtin, 1, frame, json, out);
            n += outcome.data.map_or(0, |r| r.len());
        }
        n
    }

    /// `lorafield (CayenneLpp + JsonWriter, static)`.
    #[inline(never)]
    pub fn static_json(&self, json: &mut JsonWriter, out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            out.clear();
            let outcome = json.decode(&self.direct, Uplink::new(1, frame), out);
            n += outcome.data.map_or(0, |r| r.len());
        }
        n
    }

    /// `lorafield (FieldBuf + JsonWriter)`: the registry's codec into a `FieldBuf`, then the
    /// JSON writer.
    #[inline(never)]
    pub fn fieldbuf_json<'a>(
        &'a self,
        buf: &mut FieldBuf<'a, MAX_EVENTS>,
        json: &mut JsonWriter,
        out: &mut Vec<u8>,
    ) -> usize {
        let mut n = 0;
        for frame in &self.frames {
            out.clear();
            let d = lorafield::decode(&*self.codec, 1, frame, buf);
            if let Some(events) = d.data {
                json.write_object(events, out);
            }
            n += out.len();
        }
        n
    }
}

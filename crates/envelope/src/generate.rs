//! A generator of realistic Microshare shares, one per line (JSON Lines), each holding a The
//! Things Stack v3 or TTN v2 uplink whose payload is a Cayenne LPP frame: data for benches,
//! tests and trying the tool.
//!
//! ```
//! use lorafield_envelope::generate::{GenOptions, Shape, write_shares};
//!
//! let options = GenOptions { count: 20, shape: Shape::TtsV3, ..GenOptions::default() };
//! let mut out = Vec::new();
//! let summary = write_shares(&options, &mut out).unwrap();
//! assert_eq!((summary.records, summary.tts_v3), (20, 20));
//! assert_eq!(summary.bytes, out.len() as u64);
//! let first = out.split(|&b| b == b'\n').next().unwrap();
//! let share: serde_json::Value = serde_json::from_slice(first).unwrap();
//! assert!(share["data"]["uplink_message"]["frm_payload"].is_string());
//! ```
//!
//! The seed first draws a fleet: five applications of ten devices, each device with its
//! sensors (one to four Cayenne LPP channels), envelope shape, data rate, port and frame counter,
//! each application with its gateways, Microshare owner and record type. Then come the records,
//! a second to half a minute apart from 2025-06-01T00:00:00Z: a device sends its next frame,
//! its readings walked on from the previous ones, heard by one to three gateways. The frame is
//! built with the LPP encoder; its stored decoded payload is what lorafield's decoder prints
//! for it (profile `tts`), except in a `stale` fraction of the records where it is left out or
//! outdated, as after a codec change. Records are written by hand in the key orders
//! Microshare and the network servers use, and nothing reads a clock or a global random
//! source: the same options always give the same bytes.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fastrand::Rng;
use lorafield::JsonWriter;
use lorafield_codec_lpp::{CayenneLpp, Encoder, Layout, Profile};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// How Microshare encodes a share's id and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DateEncoding {
    /// The 2017 (MongoDB extended JSON) form: `"_id": {"$oid": ...}`,
    /// `"createDate": {"$date": ms}`, `"tstamp": {"$numberLong": "ms"}`.
    V2017,
    /// The 2020+ form: `"_id"` a plain string, ISO-8601 dates, `"tstamp"` epoch milliseconds.
    V2020,
    /// Either, drawn for each record.
    #[default]
    Mixed,
}

impl DateEncoding {
    /// Every encoding.
    pub const ALL: [DateEncoding; 3] = [
        DateEncoding::V2017,
        DateEncoding::V2020,
        DateEncoding::Mixed,
    ];

    /// The name given on the command line: `2017`, `2020` or `mixed`.
    pub const fn name(self) -> &'static str {
        match self {
            DateEncoding::V2017 => "2017",
            DateEncoding::V2020 => "2020",
            DateEncoding::Mixed => "mixed",
        }
    }
}

/// Which uplink envelope a share's `data` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shape {
    /// The Things Stack v3 (`uplink_message.frm_payload`, `decoded_payload`).
    TtsV3,
    /// TTN v2 (`payload_raw`, `payload_fields`).
    TtnV2,
    /// Either, fixed for each device: two devices in five have moved to v3.
    #[default]
    Mixed,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 3] = [Shape::TtsV3, Shape::TtnV2, Shape::Mixed];

    /// The name given on the command line: `tts-v3`, `ttn-v2` or `mixed`.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::TtsV3 => "tts-v3",
            Shape::TtnV2 => "ttn-v2",
            Shape::Mixed => "mixed",
        }
    }
}

/// A name that is none of a [`DateEncoding`]'s or [`Shape`]'s names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownName {
    what: &'static str,
    known: &'static str,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} (known: {})", self.what, self.known)
    }
}

impl std::error::Error for UnknownName {}

macro_rules! named {
    ($ty:ident, $what:literal, $known:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                let known = $ty::ALL.into_iter().find(|v| v.name() == s);
                known.ok_or(UnknownName {
                    what: $what,
                    known: $known,
                })
            }
        }
    };
}

named!(DateEncoding, "date encoding", "2017, 2020, mixed");
named!(Shape, "envelope shape", "tts-v3, ttn-v2, mixed");

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// How many shares.
    pub count: usize,
    /// The seed of every random draw.
    pub seed: u64,
    /// The shares' id and date encoding.
    pub encoding: DateEncoding,
    /// The uplinks' envelope.
    pub shape: Shape,
    /// The fraction (0 to 1) of records whose stored decoded payload is missing or outdated,
    /// so that a re-decode changes it.
    pub stale: f64,
}

impl Default for GenOptions {
    /// 1000 shares of seed 1, both encodings, both shapes, a tenth of them stale.
    fn default() -> Self {
        GenOptions {
            count: 1000,
            seed: 1,
            encoding: DateEncoding::Mixed,
            shape: Shape::Mixed,
            stale: 0.1,
        }
    }
}

/// What [`write_shares`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenSummary {
    /// Shares (lines) written.
    pub records: usize,
    /// Bytes written, newlines included.
    pub bytes: u64,
    /// Shares whose stored decoded payload is missing or differs from a re-decode.
    pub stale: usize,
    /// Shares holding a TTS v3 uplink.
    pub tts_v3: usize,
    /// Shares holding a TTN v2 uplink.
    pub ttn_v2: usize,
}

/// Writes `options.count` shares to `out`, one compact JSON object per line.
pub fn write_shares<W: Write>(options: &GenOptions, out: &mut W) -> io::Result<GenSummary> {
    let mut rng = Rng::with_seed(options.seed);
    let mut fleet = Fleet::new(&mut rng, options.shape);
    let mut writer = RecordWriter::default();
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut summary = GenSummary::default();
    let mut air_ns = BASE_MS * 1_000_000;
    for _ in 0..options.count {
        air_ns += rng.i64(1_000_000_000..30_000_000_000);
        let (v3, stale) = writer.record(&mut rng, &mut fleet, options, air_ns);
        writer.line.buf.push(b'\n');
        out.write_all(&writer.line.buf)?;
        summary.records += 1;
        summary.bytes += writer.line.buf.len() as u64;
        summary.stale += usize::from(stale);
        if v3 {
            summary.tts_v3 += 1;
        } else {
            summary.ttn_v2 += 1;
        }
    }
    out.flush()?;
    Ok(summary)
}

/// 2025-06-01T00:00:00Z, the first record's time, in epoch milliseconds.
const BASE_MS: i64 = 1_748_736_000_000;

/// One reading of a sensor: its raw LPP value (the value times the type's divisor) walks in
/// `min..=max`, by at most `step` per uplink.
#[derive(Debug)]
struct Axis {
    min: i64,
    max: i64,
    step: i64,
}

const fn axis(min: i64, max: i64, step: i64) -> Axis {
    Axis { min, max, step }
}

/// A sensor: its LPP type, one axis per member, and whether its readings are offsets from the
/// device's place (GPS, in 1e-4 degrees).
#[derive(Debug)]
struct Sensor {
    ty: u8,
    axes: &'static [Axis],
    located: bool,
}

#[rustfmt::skip]
mod sensors {
    use super::{Sensor, axis};

    //                                          type  raw range and step per uplink
    pub(super) static TEMPERATURE: Sensor = s(103, &[axis(150, 300, 3)]); // 15-30 °C
    pub(super) static FRIDGE: Sensor =      s(103, &[axis(20, 80, 2)]); // 2-8 °C
    pub(super) static HUMIDITY: Sensor =    s(104, &[axis(60, 160, 2)]); // 30-80 %
    pub(super) static BAROMETER: Sensor =   s(115, &[axis(9800, 10350, 5)]); // hPa
    pub(super) static BATTERY: Sensor =     s(2,   &[axis(300, 420, 1)]); // 3.00-4.20 V
    pub(super) static PARTICLES: Sensor =   s(2,   &[axis(0, 15000, 150)]); // PM2.5 µg/m³
    pub(super) static DIGITAL_IN: Sensor =  s(0,   &[axis(0, 1, 1)]);
    pub(super) static DIGITAL_OUT: Sensor = s(1,   &[axis(0, 1, 1)]);
    pub(super) static LUMINOSITY: Sensor =  s(101, &[axis(0, 2000, 150)]); // lux
    pub(super) static PRESENCE: Sensor =    s(102, &[axis(0, 1, 1)]);
    pub(super) static ACCELEROMETER: Sensor = s(113, &[
        axis(-200, 200, 20), axis(-200, 200, 20), axis(900, 1100, 20), // milli-g
    ]);
    pub(super) static GYROMETER: Sensor = s(134, &[
        axis(-1000, 1000, 100), axis(-1000, 1000, 100), axis(-1000, 1000, 100), // 0.01 °/s
    ]);
    pub(super) static GPS: Sensor = Sensor {
        ty: 136,
        axes: &[axis(-300, 300, 20), axis(-300, 300, 20), axis(2000, 9000, 50)],
        located: true,
    };

    const fn s(ty: u8, axes: &'static [super::Axis]) -> Sensor {
        Sensor { ty, axes, located: false }
    }

    #[cfg(test)]
    pub(super) static ALL: [&Sensor; 13] = [
        &TEMPERATURE, &FRIDGE, &HUMIDITY, &BAROMETER, &BATTERY, &PARTICLES, &DIGITAL_IN,
        &DIGITAL_OUT, &LUMINOSITY, &PRESENCE, &ACCELEROMETER, &GYROMETER, &GPS,
    ];
}

use sensors::*;

/// An application: its names, its devices' kind and the sensors they carry.
#[derive(Debug)]
struct AppSpec {
    id: &'static str,
    rec_type: &'static str,
    device: &'static str,
    org: &'static str,
    user: &'static str,
    /// The first five bytes of its devices' DevEUIs.
    eui_prefix: [u8; 5],
    /// Latitude and longitude in 1e-4 degrees.
    place: [i64; 2],
    sensors: &'static [&'static Sensor],
    /// `version_ids`: brand, model, hardware and firmware version.
    version: [&'static str; 4],
    tags: &'static [&'static str],
}

#[rustfmt::skip]
static APPS: [AppSpec; 5] = [
    AppSpec {
        id: "hackiot-reading", rec_type: "uk.reading.ttn.sodaq", device: "sodaq-explorer",
        org: "io.point", user: "iot@rdg.ac.uk",
        eui_prefix: [0x00, 0x04, 0xa3, 0x0b, 0x00], place: [514141, -9413],
        sensors: &[&TEMPERATURE, &BATTERY, &PARTICLES, &GPS, &ACCELEROMETER],
        version: ["sodaq", "explorer", "1.0", "1.0"], tags: &[],
    },
    AppSpec {
        id: "campus-environment", rec_type: "uk.london.ttn.env", device: "env-node",
        org: "io.point", user: "fm@campus.ac.uk",
        eui_prefix: [0xac, 0x1f, 0x09, 0xff, 0xfe], place: [515246, -1340],
        sensors: &[&TEMPERATURE, &HUMIDITY, &BAROMETER, &LUMINOSITY, &PRESENCE],
        version: ["rakwireless", "rak7204", "1.0", "1.3.2"], tags: &["environment", "campus"],
    },
    AppSpec {
        id: "bristol-air-quality", rec_type: "uk.bristol.ttn.air", device: "aq-sensor",
        org: "uk.bristol", user: "air@bcc.example",
        eui_prefix: [0x70, 0xb3, 0xd5, 0x49, 0x90], place: [514545, -25879],
        sensors: &[&TEMPERATURE, &HUMIDITY, &BAROMETER, &PARTICLES, &DIGITAL_OUT],
        version: ["arduino", "mkr-wan-1310", "1.0", "2.1.0"], tags: &["air"],
    },
    AppSpec {
        id: "fleet-trackers", rec_type: "io.fleet.ttn.gps", device: "tracker",
        org: "io.fleet", user: "ops@fleet.example",
        eui_prefix: [0x00, 0x04, 0xa3, 0x0b, 0x00], place: [534808, -22426],
        sensors: &[&GPS, &ACCELEROMETER, &GYROMETER, &BATTERY, &DIGITAL_IN],
        version: ["sodaq", "universal-tracker", "2.0", "2.1"], tags: &[],
    },
    AppSpec {
        id: "cold-chain-monitors", rec_type: "com.coldchain.temp", device: "fridge",
        org: "com.coldchain", user: "qa@cold.example",
        eui_prefix: [0xa8, 0x40, 0x41, 0xff, 0xff], place: [538008, -15491],
        sensors: &[&FRIDGE, &DIGITAL_IN, &BATTERY, &PRESENCE],
        version: ["dragino", "lht65", "1.0", "1.8"], tags: &["cold-chain"],
    },
];

/// Gateway EUI prefixes of common vendors (Kerlink, Dragino, TTIG, RAK, Raspberry Pi).
const GATEWAY_OUIS: [[u8; 3]; 5] = [
    [0x72, 0x76, 0xff],
    [0xa8, 0x40, 0x41],
    [0x58, 0xa0, 0xcb],
    [0xac, 0x1f, 0x09],
    [0xb8, 0x27, 0xeb],
];

/// EU868 uplink channels in 100 kHz.
const FREQUENCIES: [u32; 8] = [8681, 8683, 8685, 8671, 8673, 8675, 8677, 8679];

/// Addresses the network servers' integrations post from.
const REMOTE_ADDRESSES: [&str; 4] = [
    "52.169.76.203",
    "52.169.150.138",
    "52.212.223.226",
    "40.113.68.198",
];

#[derive(Debug)]
struct Gateway {
    id: String,
    eui: [u8; 8],
    /// Latitude and longitude in 1e-7 degrees, altitude in metres.
    location: Option<[i64; 3]>,
    /// Its concentrator's clock (µs) when the epoch began.
    clock: u32,
    /// The ULID of its connection to the gateway server.
    conn: [u8; 26],
}

#[derive(Debug)]
struct App {
    spec: &'static AppSpec,
    v2_id: String,
    join_eui: String,
    owner_appid: String,
    token_id: String,
    token_ip: String,
    remote: &'static str,
    downlink_url: String,
    gateways: Vec<Gateway>,
}

#[derive(Debug)]
struct Channel {
    channel: u8,
    sensor: &'static Sensor,
    divisors: [f64; 3],
    origin: [i64; 3],
    raw: [i64; 3],
}

#[derive(Debug)]
struct Device {
    app: usize,
    v3: bool,
    id: String,
    v2_id: String,
    eui: String,
    dev_addr: String,
    session_key: String,
    f_port: u8,
    f_cnt: u32,
    sf: u8,
    version: bool,
    /// `locations.user` (1e-7 degrees, metres), set on some fixed devices.
    location: Option<[i64; 3]>,
    channels: Vec<Channel>,
}

#[derive(Debug)]
struct Fleet {
    apps: Vec<App>,
    devices: Vec<Device>,
    /// The ObjectId's process part and counter.
    oid_process: [u8; 5],
    oid_counter: u32,
}

impl Fleet {
    fn new(rng: &mut Rng, shape: Shape) -> Fleet {
        let mut apps = Vec::with_capacity(APPS.len());
        let mut devices = Vec::new();
        for (a, spec) in APPS.iter().enumerate() {
            let mut gateways = Vec::new();
            for g in 0..rng.usize(3..=5) {
                let mut eui = [0u8; 8];
                rng.fill(&mut eui);
                eui[..3].copy_from_slice(&GATEWAY_OUIS[rng.usize(..GATEWAY_OUIS.len())]);
                eui[3..5].copy_from_slice(&[0xff, 0xfe]);
                let id = if rng.bool() {
                    format!("{}-gw-{:02}", spec.device, g + 1)
                } else {
                    let mut id = String::from("eui-");
                    eui.iter().for_each(|b| id.push_str(&format!("{b:02x}")));
                    id
                };
                let location = (rng.u8(..10) < 4).then(|| {
                    [
                        spec.place[0] * 1000 + rng.i64(-300_000..=300_000),
                        spec.place[1] * 1000 + rng.i64(-300_000..=300_000),
                        rng.i64(10..=120),
                    ]
                });
                let mut conn = [0u8; 26];
                ulid(&mut conn, BASE_MS - rng.i64(60_000..259_200_000), rng);
                gateways.push(Gateway {
                    id,
                    eui,
                    location,
                    clock: rng.u32(..),
                    conn,
                });
            }
            let v2_id = spec.id.replace('-', "_");
            let mut url = format!(
                "https://integrations.thethingsnetwork.org/ttn-eu/api/v2/down/{v2_id}/microshare?key=ttn-account-v2."
            );
            (0..43).for_each(|_| url.push(url_safe_char(rng)));
            apps.push(App {
                spec,
                v2_id,
                join_eui: format!("70B3D57ED000{:04X}", rng.u16(..)),
                owner_appid: uuid(rng, true),
                token_id: uuid(rng, false),
                token_ip: format!("10.0.{}.{}", rng.u8(..4), rng.u8(2..255)),
                remote: REMOTE_ADDRESSES[rng.usize(..REMOTE_ADDRESSES.len())],
                downlink_url: url,
                gateways,
            });
            for d in 0..10 {
                devices.push(Device::new(rng, a, d, shape));
            }
        }
        let mut oid_process = [0u8; 5];
        rng.fill(&mut oid_process);
        Fleet {
            apps,
            devices,
            oid_process,
            oid_counter: rng.u32(..1 << 24),
        }
    }
}

impl Device {
    fn new(rng: &mut Rng, app: usize, n: usize, shape: Shape) -> Device {
        let spec = &APPS[app];
        let place = [
            spec.place[0] + rng.i64(-300..=300),
            spec.place[1] + rng.i64(-300..=300),
        ];
        let mut kinds: Vec<&'static Sensor> = spec.sensors.to_vec();
        rng.shuffle(&mut kinds);
        kinds.truncate(match rng.u8(..20) {
            0..3 => 1,
            3..11 => 2,
            11..17 => 3,
            _ => 4,
        });
        let first = rng.u8(..4);
        let channels = kinds
            .into_iter()
            .zip(first + 1..)
            .map(|(sensor, channel)| Channel::new(rng, channel, sensor, place))
            .collect();
        let mut eui = [0u8; 8];
        rng.fill(&mut eui);
        eui[..5].copy_from_slice(&spec.eui_prefix);
        let mut key = [0u8; 16];
        rng.fill(&mut key);
        let id = format!("{}-{:02}", spec.device, n + 1);
        Device {
            app,
            v3: match shape {
                Shape::TtsV3 => true,
                Shape::TtnV2 => false,
                Shape::Mixed => n % 5 < 2,
            },
            v2_id: id.replace('-', "_"),
            id,
            eui: eui.iter().map(|b| format!("{b:02X}")).collect(),
            dev_addr: format!("26{:06X}", rng.u32(..1 << 24)),
            session_key: STANDARD.encode(key),
            f_port: [1, 1, 1, 2, 2, 3, 3, 3, 3, 10][rng.usize(..10)],
            f_cnt: if rng.u8(..10) == 0 {
                0
            } else {
                rng.u32(..60_000)
            },
            sf: [7, 7, 7, 7, 8, 8, 9, 10, 11, 12][rng.usize(..10)],
            version: rng.u8(..10) < 3,
            location: (rng.u8(..10) == 0).then(|| [place[0] * 1000, place[1] * 1000, 20]),
            channels,
        }
    }
}

impl Channel {
    fn new(rng: &mut Rng, channel: u8, sensor: &'static Sensor, place: [i64; 2]) -> Channel {
        let mut divisors = [1.0; 3];
        match Profile::Tts.lookup(sensor.ty).map(|t| t.layout) {
            Some(Layout::Scalar(num)) => divisors[0] = f64::from(num.divisor),
            Some(Layout::Object(members)) => {
                for (d, m) in divisors.iter_mut().zip(members) {
                    *d = f64::from(m.num.divisor);
                }
            }
            None => {}
        }
        let mut raw = [0; 3];
        for (r, a) in raw.iter_mut().zip(sensor.axes) {
            *r = rng.i64(a.min..=a.max);
        }
        let origin = if sensor.located {
            [place[0], place[1], 0]
        } else {
            [0; 3]
        };
        Channel {
            channel,
            sensor,
            divisors,
            origin,
            raw,
        }
    }

    /// Walks each reading by a step at most.
    fn walk(&mut self, rng: &mut Rng) {
        for (r, a) in self.raw.iter_mut().zip(self.sensor.axes) {
            *r = (*r + rng.i64(-a.step..=a.step)).clamp(a.min, a.max);
        }
    }
}

/// Encodes the channels' readings into `buf`, leaving out channel `skip` and moving the first
/// reading of channel `nudge` by one raw unit. Returns the frame's length.
fn encode(
    channels: &[Channel],
    skip: Option<usize>,
    nudge: Option<usize>,
    buf: &mut [u8],
) -> usize {
    let mut enc = Encoder::new(buf, Profile::Tts);
    for (i, c) in channels.iter().enumerate() {
        if skip == Some(i) {
            continue;
        }
        let mut values = [0.0; 3];
        for (k, v) in values.iter_mut().enumerate().take(c.sensor.axes.len()) {
            let mut raw = c.origin[k] + c.raw[k];
            if nudge == Some(i) && k == 0 {
                raw += if c.raw[0] > c.sensor.axes[0].min {
                    -1
                } else {
                    1
                };
            }
            *v = raw as f64 / c.divisors[k];
        }
        let pushed = enc.push(c.channel, c.sensor.ty, &values[..c.sensor.axes.len()]);
        debug_assert!(pushed.is_ok(), "the sensor table fits its LPP types");
    }
    enc.encoded().len()
}

/// One gateway's reception of an uplink.
#[derive(Debug, Default, Clone, Copy)]
struct Heard {
    gateway: usize,
    rssi: i64,
    /// Tenths of a dB.
    snr: i64,
    /// When the gateway server had it, after the uplink ended (ns).
    delay_ns: i64,
    frequency_offset: Option<i64>,
}

/// What one record's uplink is made of.
#[derive(Debug)]
struct Draw {
    air_ns: i64,
    frequency: usize,
    heard: [Heard; 3],
    n_heard: usize,
    f_cnt: u32,
    frame: [u8; 48],
    len: usize,
    ns_ns: i64,
    as_ns: i64,
    create_ms: i64,
}

/// Reused buffers: the record, its `data`, the decoder's output.
#[derive(Debug, Default)]
struct RecordWriter {
    line: Json,
    data: Json,
    decoded: Vec<u8>,
    stale: Vec<u8>,
    json: JsonWriter,
}

const CODEC: CayenneLpp = CayenneLpp::new(Profile::Tts);

impl RecordWriter {
    /// Writes one share into `self.line`; returns whether it holds a TTS v3 uplink and whether
    /// its stored payload is stale.
    fn record(
        &mut self,
        rng: &mut Rng,
        fleet: &mut Fleet,
        options: &GenOptions,
        air_ns: i64,
    ) -> (bool, bool) {
        let pick = rng.usize(..fleet.devices.len());
        let device = &mut fleet.devices[pick];
        let app = &fleet.apps[device.app];
        let mut draw = Draw {
            air_ns,
            frequency: rng.usize(..FREQUENCIES.len()),
            heard: [Heard::default(); 3],
            n_heard: 0,
            f_cnt: device.f_cnt,
            frame: [0; 48],
            len: 0,
            ns_ns: 0,
            as_ns: 0,
            create_ms: 0,
        };
        device.f_cnt += if rng.u8(..10) == 0 { rng.u32(2..=4) } else { 1 };
        for c in &mut device.channels {
            c.walk(rng);
        }
        draw.len = encode(&device.channels, None, None, &mut draw.frame);
        // Heard by one to three of the application's gateways, the best first.
        let mut order: Vec<usize> = (0..app.gateways.len()).collect();
        rng.shuffle(&mut order);
        draw.n_heard = match rng.u8(..20) {
            0..16 => 1,
            16..19 => 2,
            _ => 3,
        };
        let mut rssi = rng.i64(-118..=-50);
        for (h, &gateway) in draw.heard.iter_mut().zip(&order).take(draw.n_heard) {
            *h = Heard {
                gateway,
                rssi,
                snr: ((rssi + 112) * 5 + rng.i64(-20..=20)).clamp(-200, 125),
                delay_ns: rng.i64(2_000_000..60_000_000),
                frequency_offset: (rng.u8(..8) == 0).then(|| rng.i64(-30..=30) * 100),
            };
            rssi -= rng.i64(1..=12);
        }
        draw.ns_ns = air_ns + rng.i64(80_000_000..220_000_000);
        draw.as_ns = draw.ns_ns + rng.i64(100_000_000..300_000_000);
        draw.create_ms = draw.as_ns / 1_000_000 + rng.i64(150..600);

        self.decoded.clear();
        let outcome = lorafield::decode_json(
            &CODEC,
            device.f_port,
            &draw.frame[..draw.len],
            &mut self.json,
            &mut self.decoded,
        );
        let fresh = outcome.data.unwrap_or(0..0);
        let stale = options.stale > 0.0 && rng.f64() < options.stale;
        // A stale payload is left out, lacks one channel's key, or has one value changed.
        let pick = rng.usize(..device.channels.len());
        let stored = match stale.then(|| rng.u8(..3)) {
            None => Some(&self.decoded[fresh]),
            Some(0) => None,
            Some(kind) => {
                let (skip, nudge) = match kind {
                    1 if device.channels.len() > 1 => (Some(pick), None),
                    _ => (None, Some(pick)),
                };
                let mut frame = [0u8; 48];
                let len = encode(&device.channels, skip, nudge, &mut frame);
                self.stale.clear();
                let outcome = lorafield::decode_json(
                    &CODEC,
                    device.f_port,
                    &frame[..len],
                    &mut self.json,
                    &mut self.stale,
                );
                Some(&self.stale[outcome.data.unwrap_or(0..0)])
            }
        };
        let encoding = match options.encoding {
            DateEncoding::Mixed if rng.bool() => DateEncoding::V2017,
            DateEncoding::Mixed => DateEncoding::V2020,
            e => e,
        };
        let mut random = [0u8; 60];
        rng.fill(&mut random);
        let j = &mut self.data;
        j.clear();
        if device.v3 {
            write_v3(j, app, device, &draw, stored, &random);
        } else {
            write_v2(j, app, device, &draw, stored);
        }
        let secs = (draw.create_ms / 1000) as u32;
        let mut id = [0u8; 24];
        hex(&mut id[..8], &secs.to_be_bytes(), false);
        hex(&mut id[8..18], &fleet.oid_process, false);
        hex(&mut id[18..], &fleet.oid_counter.to_be_bytes()[1..], false);
        fleet.oid_counter = (fleet.oid_counter + 1) & 0xff_ffff;
        let share = Share {
            encoding,
            app,
            id,
            create_ms: draw.create_ms,
            data: &self.data.buf,
        };
        self.line.clear();
        share.write(&mut self.line);
        (device.v3, stale)
    }
}

/// Writes a TTS v3 `ApplicationUp` with an `uplink_message`.
fn write_v3(
    j: &mut Json,
    app: &App,
    device: &Device,
    draw: &Draw,
    decoded: Option<&[u8]>,
    random: &[u8; 60],
) {
    let first = &app.gateways[draw.heard[0].gateway];
    let gs_ms = (draw.air_ns + draw.heard[0].delay_ns) / 1_000_000;
    let mut id = [0u8; 26];
    j.obj().key("end_device_ids").obj();
    j.key("device_id").str(&device.id);
    j.key("application_ids").obj();
    j.key("application_id").str(app.spec.id).end();
    j.key("dev_eui").str(&device.eui);
    j.key("join_eui").str(&app.join_eui);
    j.key("dev_addr").str(&device.dev_addr).end();
    j.key("correlation_ids").arr();
    // Each a ULID of when the server handled it; the gateway connection's was made earlier.
    let ids: [(&str, Option<i64>); 6] = [
        ("as:up:", Some(draw.as_ns / 1_000_000)),
        ("gs:conn:", None),
        ("gs:uplink:", Some(gs_ms)),
        ("ns:uplink:", Some(draw.ns_ns / 1_000_000 - 2)),
        (
            "rpc:/ttn.lorawan.v3.GsNs/HandleUplink:",
            Some(draw.ns_ns / 1_000_000 - 2),
        ),
        (
            "rpc:/ttn.lorawan.v3.NsAs/HandleUplink:",
            Some(draw.as_ns / 1_000_000 - 1),
        ),
    ];
    for ((prefix, ms), random) in ids.into_iter().zip(random.chunks_exact(10)) {
        match ms {
            Some(ms) => ulid_from(&mut id, ms, random),
            None => id = first.conn,
        }
        j.str_parts(prefix, &id);
    }
    j.end_arr();
    j.key("received_at").iso(draw.as_ns, 9);
    j.key("uplink_message").obj();
    j.key("session_key_id").str(&device.session_key);
    j.key("f_port").u(device.f_port.into());
    if draw.f_cnt != 0 {
        j.key("f_cnt").u(draw.f_cnt.into());
    }
    j.key("frm_payload").b64(&draw.frame[..draw.len]);
    if let Some(decoded) = decoded {
        j.key("decoded_payload").raw(decoded);
    }
    j.key("rx_metadata").arr();
    for h in &draw.heard[..draw.n_heard] {
        let g = &app.gateways[h.gateway];
        let timestamp = g.clock.wrapping_add((draw.air_ns / 1000) as u32);
        j.obj().key("gateway_ids").obj();
        j.key("gateway_id").str(&g.id);
        j.key("eui").hex(&g.eui).end();
        if g.location.is_some() {
            j.key("time").iso(draw.air_ns, 6);
        }
        j.key("timestamp").u(timestamp.into());
        j.key("rssi").i(h.rssi).key("channel_rssi").i(h.rssi);
        j.key("snr").dec(h.snr, 1);
        if let Some([lat, lon, alt]) = g.location {
            j.key("location").obj();
            j.key("latitude").dec(lat, 7).key("longitude").dec(lon, 7);
            j.key("altitude")
                .i(alt)
                .key("source")
                .str("SOURCE_REGISTRY")
                .end();
        }
        if let Some(offset) = h.frequency_offset {
            j.key("frequency_offset").str(&offset.to_string());
        }
        j.key("uplink_token")
            .b64(&uplink_token(g, timestamp, draw.air_ns + h.delay_ns));
        if draw.frequency != 0 {
            j.key("channel_index").u(draw.frequency as u64);
        }
        j.key("received_at").iso(draw.air_ns + h.delay_ns, 9).end();
    }
    j.end_arr();
    j.key("settings")
        .obj()
        .key("data_rate")
        .obj()
        .key("lora")
        .obj();
    j.key("bandwidth").u(125_000);
    j.key("spreading_factor").u(device.sf.into());
    j.key("coding_rate").str("4/5").end().end();
    let hz = u64::from(FREQUENCIES[draw.frequency]) * 100_000;
    j.key("frequency").str(&hz.to_string());
    let timestamp = first.clock.wrapping_add((draw.air_ns / 1000) as u32);
    j.key("timestamp").u(timestamp.into());
    if first.location.is_some() {
        j.key("time").iso(draw.air_ns, 6);
    }
    j.end();
    j.key("received_at").iso(draw.ns_ns, 9);
    let airtime = airtime_us(device.sf, 13 + draw.len);
    let fraction = airtime % 1_000_000;
    let mut text = (airtime / 1_000_000).to_string();
    match fraction {
        0 => {}
        f if f % 1000 == 0 => text.push_str(&format!(".{:03}", f / 1000)),
        f => text.push_str(&format!(".{f:06}")),
    }
    text.push('s');
    j.key("consumed_airtime").str(&text);
    if let Some([lat, lon, alt]) = device.location {
        j.key("locations").obj().key("user").obj();
        j.key("latitude").dec(lat, 7).key("longitude").dec(lon, 7);
        j.key("altitude")
            .i(alt)
            .key("source")
            .str("SOURCE_REGISTRY");
        j.end().end();
    }
    if device.version {
        let [brand, model, hardware, firmware] = app.spec.version;
        j.key("version_ids").obj();
        j.key("brand_id").str(brand).key("model_id").str(model);
        j.key("hardware_version").str(hardware);
        j.key("firmware_version").str(firmware);
        j.key("band_id").str("EU_863_870").end();
    }
    j.key("network_ids").obj();
    j.key("net_id")
        .str("000013")
        .key("ns_id")
        .str("EC656E0000000181");
    j.key("tenant_id").str("ttn").key("cluster_id").str("eu1");
    j.key("cluster_address").str("eu1.cloud.thethings.network");
    j.end().end().end();
}

/// Writes a TTN v2 HTTP integration uplink.
fn write_v2(j: &mut Json, app: &App, device: &Device, draw: &Draw, decoded: Option<&[u8]>) {
    j.obj().key("app_id").str(&app.v2_id);
    j.key("dev_id").str(&device.v2_id);
    j.key("hardware_serial").str(&device.eui);
    j.key("port").u(device.f_port.into());
    if draw.f_cnt != 0 {
        j.key("counter").u(draw.f_cnt.into());
    }
    j.key("payload_raw").b64(&draw.frame[..draw.len]);
    if let Some(decoded) = decoded {
        j.key("payload_fields").raw(decoded);
    }
    j.key("metadata").obj().key("time").iso(draw.ns_ns, 9);
    j.key("frequency")
        .dec(FREQUENCIES[draw.frequency].into(), 1);
    j.key("modulation").str("LORA");
    j.key("data_rate").str(&format!("SF{}BW125", device.sf));
    j.key("coding_rate").str("4/5").key("gateways").arr();
    for h in &draw.heard[..draw.n_heard] {
        let g = &app.gateways[h.gateway];
        j.obj().key("gtw_id").str(&g.id);
        let timestamp = g.clock.wrapping_add((draw.air_ns / 1000) as u32);
        j.key("timestamp").u(timestamp.into());
        j.key("time").iso(draw.air_ns, 6);
        j.key("channel").u(draw.frequency as u64);
        j.key("rssi").i(h.rssi).key("snr").dec(h.snr, 1);
        j.key("rf_chain").u(u64::from(draw.frequency >= 3));
        if let Some([lat, lon, alt]) = g.location {
            j.key("latitude")
                .dec(lat / 100, 5)
                .key("longitude")
                .dec(lon / 100, 5);
            j.key("altitude").i(alt);
        }
        j.end();
    }
    j.end_arr().end();
    j.key("downlink_url").str(&app.downlink_url).end();
}

/// The share's keys.
#[derive(Debug, Clone, Copy)]
enum Key {
    Oid,
    Id,
    RecType,
    Data,
    CreateDate,
    UpdateDate,
    Tstamp,
    CreatorId,
    UpdaterId,
    Name,
    Desc,
    Tags,
    Checksum,
    Origin,
    Owner,
    TokenData,
    RemoteAddress,
}

use Key::*;

/// The keys of a 2017 share in Microshare's order (no `updateDate` or `tags` in the sample:
/// they go after their neighbours of the 2020 order).
#[rustfmt::skip]
const SHARE_2017: [Key; 15] = [
    UpdaterId, Desc, Name, CreateDate, UpdateDate, Oid, Data, CreatorId, Id, Checksum, Tstamp,
    Tags, Origin, RecType, Owner,
];
#[rustfmt::skip]
const SHARE_2020: [Key; 15] = [
    Oid, Id, RecType, Data, CreateDate, UpdateDate, Tstamp, CreatorId, UpdaterId, Name, Desc,
    Tags, Checksum, Origin, Owner,
];
#[rustfmt::skip]
const ORIGIN_2017: [Key; 8] = [
    TokenData, Desc, Name, CreateDate, CreatorId, Id, Checksum, RemoteAddress,
];
#[rustfmt::skip]
const ORIGIN_2020: [Key; 8] = [
    Checksum, CreateDate, CreatorId, Desc, Id, Name, RemoteAddress, TokenData,
];

/// One Microshare share around an uplink.
struct Share<'r> {
    encoding: DateEncoding,
    app: &'r App,
    id: [u8; 24],
    create_ms: i64,
    data: &'r [u8],
}

impl Share<'_> {
    fn write(&self, j: &mut Json) {
        let v2017 = self.encoding == DateEncoding::V2017;
        let (h1, h2) = fnv(self.data);
        let checksum = format!("{h1:016X}{h2:016X}L{}", self.data.len());
        j.obj();
        for key in if v2017 { SHARE_2017 } else { SHARE_2020 } {
            self.field(j, key, &checksum, false);
        }
        j.end();
    }

    fn field(&self, j: &mut Json, key: Key, checksum: &str, origin: bool) {
        let v2017 = self.encoding == DateEncoding::V2017;
        let spec = self.app.spec;
        let ms = self.create_ms;
        match key {
            Oid if v2017 => j.key("_id").obj().key("$oid").str_parts("", &self.id).end(),
            Oid => j.key("_id").str_parts("", &self.id),
            Id => j.key("id").str_parts("", &self.id),
            RecType => j.key("recType").str(spec.rec_type),
            Data => j.key("data").raw(self.data),
            CreateDate | UpdateDate => {
                j.key(if matches!(key, CreateDate) {
                    "createDate"
                } else {
                    "updateDate"
                });
                match (v2017, origin) {
                    (true, false) => j.obj().key("$date").i(ms).end(),
                    (true, true) => j.obj().key("$numberLong").str(&ms.to_string()).end(),
                    (false, _) => j.iso(ms * 1_000_000, 3),
                }
            }
            Tstamp if v2017 => j
                .key("tstamp")
                .obj()
                .key("$numberLong")
                .str(&ms.to_string())
                .end(),
            Tstamp => j.key("tstamp").i(ms),
            CreatorId => j.key("creatorId").str(spec.user),
            UpdaterId => j.key("updaterId").str(spec.user),
            Name if origin => j.key("name").str(spec.rec_type),
            Name => j.key("name").str(""),
            Desc if origin => {
                let kind = if v2017 { "Object" } else { "Record" };
                j.key("desc")
                    .str(&format!("{kind} of Type {}", spec.rec_type))
            }
            Desc => j.key("desc").str(""),
            Tags => {
                j.key("tags").arr();
                spec.tags.iter().for_each(|t| _ = j.str(t));
                j.end_arr()
            }
            Checksum => j.key("checksum").str(checksum),
            Origin => {
                j.key("origin").obj();
                for key in if v2017 { ORIGIN_2017 } else { ORIGIN_2020 } {
                    self.field(j, key, checksum, true);
                }
                j.end()
            }
            Owner => {
                j.key("owner").obj().key("appid").str(&self.app.owner_appid);
                j.key("org").str(spec.org);
                if !v2017 {
                    j.key("owners").arr().end_arr();
                }
                j.key("user").str(spec.user).end()
            }
            TokenData => {
                j.key("tokendata").obj();
                let (ip, id) = (&self.app.token_ip, &self.app.token_id);
                if v2017 {
                    j.key("ip").str(ip).key("id").str(id).end()
                } else {
                    j.key("id").str(id).key("ip").str(ip).end()
                }
            }
            RemoteAddress => j.key("remoteAddress").str(self.app.remote),
        };
    }
}

/// Compact JSON written by hand into a reused buffer. Strings are escaped; the generator's are
/// plain ASCII anyway.
#[derive(Debug, Default)]
struct Json {
    buf: Vec<u8>,
    /// Whether the next key or value needs a comma before it.
    comma: bool,
}

impl Json {
    fn clear(&mut self) {
        self.buf.clear();
        self.comma = false;
    }

    fn sep(&mut self) {
        if self.comma {
            self.buf.push(b',');
        }
    }

    fn key(&mut self, key: &str) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.comma = false;
        self
    }

    fn obj(&mut self) -> &mut Self {
        self.sep();
        self.buf.push(b'{');
        self.comma = false;
        self
    }

    fn arr(&mut self) -> &mut Self {
        self.sep();
        self.buf.push(b'[');
        self.comma = false;
        self
    }

    fn end(&mut self) -> &mut Self {
        self.buf.push(b'}');
        self.comma = true;
        self
    }

    fn end_arr(&mut self) -> &mut Self {
        self.buf.push(b']');
        self.comma = true;
        self
    }

    fn raw(&mut self, text: &[u8]) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(text);
        self.comma = true;
        self
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.str_parts(s, b"")
    }

    /// A string of `prefix` then `tail`.
    fn str_parts(&mut self, prefix: &str, tail: &[u8]) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        for &b in prefix.as_bytes().iter().chain(tail) {
            match b {
                b'"' | b'\\' => self.buf.extend_from_slice(&[b'\\', b]),
                0..0x20 => self.buf.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                _ => self.buf.push(b),
            }
        }
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    fn u(&mut self, v: u64) -> &mut Self {
        self.sep();
        push_u64(&mut self.buf, v);
        self.comma = true;
        self
    }

    fn i(&mut self, v: i64) -> &mut Self {
        self.dec(v, 0)
    }

    /// `v / 10^scale`, trailing zeros of the fraction dropped.
    fn dec(&mut self, v: i64, scale: u32) -> &mut Self {
        self.sep();
        if v < 0 {
            self.buf.push(b'-');
        }
        let (abs, p) = (v.unsigned_abs(), 10u64.pow(scale));
        push_u64(&mut self.buf, abs / p);
        let mut frac = abs % p;
        if frac != 0 {
            let mut digits = scale;
            while frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
            self.buf.push(b'.');
            let start = self.buf.len();
            push_u64(&mut self.buf, frac);
            let pad = digits as usize - (self.buf.len() - start);
            self.buf
                .splice(start..start, std::iter::repeat_n(b'0', pad));
        }
        self.comma = true;
        self
    }

    /// An ISO-8601 UTC time with `digits` (3, 6 or 9) fraction digits.
    fn iso(&mut self, ns: i64, digits: u32) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        iso8601(&mut self.buf, ns, digits);
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    fn b64(&mut self, bytes: &[u8]) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        let start = self.buf.len();
        self.buf.resize(start + bytes.len().div_ceil(3) * 4, 0);
        let written = STANDARD.encode_slice(bytes, &mut self.buf[start..]);
        debug_assert!(written.is_ok());
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    /// Upper-case hex in a string.
    fn hex(&mut self, bytes: &[u8]) -> &mut Self {
        let mut text = [0u8; 64];
        let text = &mut text[..bytes.len() * 2];
        hex(text, bytes, true);
        self.str_parts("", text)
    }
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Writes `bytes` as hex into `out` (twice as long).
fn hex(out: &mut [u8], bytes: &[u8], upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = digits[usize::from(b >> 4)];
        pair[1] = digits[usize::from(b & 15)];
    }
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ`: milliseconds.
const ISO_MS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: microseconds.
const ISO_US: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ`: nanoseconds.
const ISO_NS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// Appends `ns` since the epoch as `YYYY-MM-DDTHH:MM:SS.fffZ` with `digits` (3, 6 or 9; anything
/// else is taken as 9) fraction digits, truncated.
fn iso8601(out: &mut Vec<u8>, ns: i64, digits: u32) {
    let format = match digits {
        3 => ISO_MS,
        6 => ISO_US,
        _ => ISO_NS,
    };
    // i64 nanoseconds reach only years 1677 to 2262, well inside what `time` can write.
    let at = OffsetDateTime::from_unix_timestamp_nanos(ns.into())
        .expect("i64 nanoseconds are within time's range");
    let written = at.format_into(out, format);
    debug_assert!(written.is_ok());
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID of time `ms` and the first 10 bytes of `random`.
fn ulid_from(out: &mut [u8; 26], ms: i64, random: &[u8]) {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&(ms as u64).to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random[..10]);
    let v = u128::from_be_bytes(bytes);
    for (i, c) in out.iter_mut().enumerate() {
        *c = CROCKFORD[((v >> (125 - 5 * i)) & 31) as usize];
    }
}

fn ulid(out: &mut [u8; 26], ms: i64, rng: &mut Rng) {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    ulid_from(out, ms, &random);
}

fn uuid(rng: &mut Rng, upper: bool) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = 0x40 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let mut text = [0u8; 32];
    hex(&mut text, &b, upper);
    let t = std::str::from_utf8(&text).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        &t[..8],
        &t[8..12],
        &t[12..16],
        &t[16..20],
        &t[20..]
    )
}

fn url_safe_char(rng: &mut Rng) -> char {
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char::from(URL_SAFE[rng.usize(..64)])
}

/// A gateway server's uplink token: the gateway's ids, its concentrator timestamp, the server
/// time and the concentrator time, as protobuf.
fn uplink_token(g: &Gateway, timestamp: u32, server_ns: i64) -> Vec<u8> {
    let mut ids = vec![0x0a, g.id.len() as u8];
    ids.extend_from_slice(g.id.as_bytes());
    ids.extend_from_slice(&[0x12, 8]);
    ids.extend_from_slice(&g.eui);
    let mut time = vec![0x08];
    varint(&mut time, (server_ns / 1_000_000_000) as u64);
    time.push(0x10);
    varint(&mut time, (server_ns % 1_000_000_000) as u64);
    let mut token = vec![0x0a, ids.len() as u8 + 2, 0x0a, ids.len() as u8];
    token.extend_from_slice(&ids);
    token.push(0x10);
    varint(&mut token, timestamp.into());
    token.extend_from_slice(&[0x1a, time.len() as u8]);
    token.extend_from_slice(&time);
    token.push(0x20);
    varint(&mut token, u64::from(timestamp) * 1000 + 1_000_000_000_000);
    token
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// LoRa time on air in µs at 125 kHz (Semtech's formula): explicit header, CRC, coding rate
/// 4/5, an 8-symbol preamble, low data rate optimisation from SF11.
fn airtime_us(sf: u8, phy_len: usize) -> u64 {
    let sf = i64::from(sf);
    let symbol = 8 << sf; // µs
    let de = i64::from(sf >= 11);
    let num = 8 * phy_len as i64 - 4 * sf + 28 + 16;
    let den = 4 * (sf - 2 * de);
    let payload = 8 + ((num + den - 1) / den).max(0) * 5;
    (symbol * (4 * (8 + payload) + 17) / 4) as u64
}

/// Two 64-bit FNV-1a hashes of `data`, for a checksum that looks like Microshare's.
fn fnv(data: &[u8]) -> (u64, u64) {
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142u64);
    for &byte in data {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        b = (b ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as J;

    fn generate(options: &GenOptions) -> (Vec<u8>, GenSummary) {
        let mut out = Vec::new();
        let summary = write_shares(options, &mut out).unwrap();
        (out, summary)
    }

    fn lines(out: &[u8]) -> Vec<&[u8]> {
        assert_eq!(out.last(), Some(&b'\n'));
        out[..out.len() - 1].split(|&b| b == b'\n').collect()
    }

    fn options(count: usize, seed: u64) -> GenOptions {
        GenOptions {
            count,
            seed,
            ..GenOptions::default()
        }
    }

    fn iso(ms: i64) -> String {
        let mut out = Vec::new();
        iso8601(&mut out, ms * 1_000_000, 3);
        String::from_utf8(out).unwrap()
    }

    /// The text of the object after `"key":` in `line`.
    fn object_after<'l>(line: &'l [u8], key: &str) -> Option<&'l [u8]> {
        let key = format!("\"{key}\":");
        let start = line.windows(key.len()).position(|w| w == key.as_bytes())? + key.len();
        let mut depth = 0;
        for (i, &b) in line[start..].iter().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' if depth == 1 => return Some(&line[start..=start + i]),
                b'}' => depth -= 1,
                _ => {}
            }
        }
        None
    }

    #[test]
    fn same_seed_same_bytes() {
        for encoding in DateEncoding::ALL {
            for shape in Shape::ALL {
                let o = GenOptions {
                    encoding,
                    shape,
                    ..options(200, 7)
                };
                let (a, sa) = generate(&o);
                let (b, sb) = generate(&o);
                assert!(a == b && sa == sb, "{encoding} {shape}");
                let (c, _) = generate(&GenOptions { seed: 8, ..o });
                assert_ne!(a, c);
            }
        }
    }

    const SHARE_KEYS: [&str; 15] = [
        "_id",
        "id",
        "recType",
        "data",
        "createDate",
        "updateDate",
        "tstamp",
        "creatorId",
        "updaterId",
        "name",
        "desc",
        "tags",
        "checksum",
        "origin",
        "owner",
    ];

    #[test]
    fn every_line_is_a_share() {
        let (out, summary) = generate(&options(2000, 3));
        let lines = lines(&out);
        assert_eq!(lines.len(), summary.records);
        let mut ids = std::collections::BTreeSet::new();
        for line in lines {
            let share: J = serde_json::from_slice(line).unwrap();
            let obj = share.as_object().unwrap();
            assert_eq!(obj.len(), SHARE_KEYS.len());
            for key in SHARE_KEYS {
                assert!(obj.contains_key(key), "{key}");
            }
            let id = share["id"].as_str().unwrap();
            assert!(id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(ids.insert(id.to_owned()), "ids are unique");
            let data = &share["data"];
            let (device, port) = if data.get("uplink_message").is_some() {
                let m = &data["uplink_message"];
                assert!(m["frequency"].is_null() && m["settings"]["frequency"].is_string());
                let gateways = m["rx_metadata"].as_array().unwrap().len();
                assert!((1..=3).contains(&gateways));
                assert!(m["consumed_airtime"].as_str().unwrap().ends_with('s'));
                let eui = data["end_device_ids"]["dev_eui"].as_str().unwrap();
                assert_eq!(eui, eui.to_uppercase());
                (
                    data["end_device_ids"]["device_id"].clone(),
                    m["f_port"].clone(),
                )
            } else {
                assert!(data["metadata"]["frequency"].is_f64());
                (data["dev_id"].clone(), data["port"].clone())
            };
            assert!(device.is_string());
            assert!((1..=223).contains(&port.as_u64().unwrap()));
            assert_eq!(share["origin"]["checksum"], share["checksum"]);
            let data_len = object_after(line, "data").unwrap().len();
            let checksum = share["checksum"].as_str().unwrap();
            assert_eq!(checksum[33..].parse::<usize>().unwrap(), data_len);
        }
    }

    #[test]
    fn frame_counters_increase_per_device() {
        let (out, _) = generate(&options(3000, 11));
        let mut last = std::collections::BTreeMap::new();
        let mut omitted = 0;
        for line in lines(&out) {
            let share: J = serde_json::from_slice(line).unwrap();
            let d = &share["data"];
            let (device, f_cnt) = match d.get("uplink_message") {
                Some(m) => (&d["end_device_ids"]["device_id"], &m["f_cnt"]),
                None => (&d["dev_id"], &d["counter"]),
            };
            omitted += usize::from(f_cnt.is_null());
            let f_cnt = f_cnt.as_u64().unwrap_or(0);
            let device = device.as_str().unwrap().replace('_', "-");
            if let Some(prev) = last.insert(device, f_cnt) {
                assert!(f_cnt > prev);
            }
        }
        assert_eq!(last.len(), 50);
        assert!(omitted > 0, "some device starts at frame 0");
    }

    #[test]
    fn dates_in_both_encodings() {
        assert_eq!(iso(1590759984779), "2020-05-29T13:46:24.779Z");
        assert_eq!(iso(BASE_MS), "2025-06-01T00:00:00.000Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(4_107_456_000_000), "2100-02-28T00:00:00.000Z");
        let mut ns = Vec::new();
        iso8601(&mut ns, 1_750_889_006_852_419_179, 9);
        assert_eq!(ns, b"2025-06-25T22:03:26.852419179Z");

        let (out, _) = generate(&options(1000, 5));
        let (mut v2017, mut v2020, mut last) = (0, 0, BASE_MS);
        for line in lines(&out) {
            let share: J = serde_json::from_slice(line).unwrap();
            let ms = if share["_id"].is_object() {
                v2017 += 1;
                assert_eq!(share["_id"]["$oid"], share["id"]);
                let ms = share["createDate"]["$date"].as_i64().unwrap();
                let long = share["tstamp"]["$numberLong"].as_str().unwrap();
                assert_eq!(long.parse::<i64>().unwrap(), ms);
                assert_eq!(share["updateDate"]["$date"], ms);
                assert_eq!(share["origin"]["createDate"]["$numberLong"], long);
                assert_eq!(share["owner"].as_object().unwrap().len(), 3);
                ms
            } else {
                v2020 += 1;
                assert_eq!(share["_id"], share["id"]);
                let ms = share["tstamp"].as_i64().unwrap();
                assert_eq!(share["createDate"], iso(ms).as_str());
                assert_eq!(share["updateDate"], share["createDate"]);
                assert_eq!(share["origin"]["createDate"], share["createDate"]);
                assert_eq!(share["owner"]["owners"], J::Array(vec![]));
                ms
            };
            assert!(ms > last, "dates increase");
            last = ms;
        }
        assert!(v2017 > 300 && v2020 > 300, "{v2017} {v2020}");
        for (encoding, key) in [
            (DateEncoding::V2017, "{\"$oid\""),
            (DateEncoding::V2020, "\""),
        ] {
            let (out, _) = generate(&GenOptions {
                encoding,
                ..options(50, 5)
            });
            let prefix = format!("\"_id\":{key}");
            assert!(
                lines(&out)
                    .iter()
                    .all(|l| l.windows(prefix.len()).any(|w| w == prefix.as_bytes()))
            );
        }
    }

    #[test]
    fn stored_payloads_match_a_redecode_unless_stale() {
        let codec = lorafield::Registry::builtin()
            .build("cayenne-lpp", &lorafield::Options::default().profile("tts"))
            .unwrap();
        for stale in [0.0, 0.1, 0.5] {
            let o = GenOptions {
                stale,
                ..options(3000, 9)
            };
            let (out, summary) = generate(&o);
            let (mut differ, mut missing) = (0, 0);
            for line in lines(&out) {
                let share: J = serde_json::from_slice(line).unwrap();
                let d = &share["data"];
                let (port, payload, stored) = match d.get("uplink_message") {
                    Some(m) => (&m["f_port"], &m["frm_payload"], "decoded_payload"),
                    None => (&d["port"], &d["payload_raw"], "payload_fields"),
                };
                let frame = STANDARD.decode(payload.as_str().unwrap()).unwrap();
                let mut json = Vec::new();
                let port = port.as_u64().unwrap() as u8;
                lorafield::decode_to_json(&*codec, port, &frame, &mut json);
                let fresh = object_after(&json, "data").unwrap();
                assert_eq!(json.len(), fresh.len() + 9, "no errors nor warnings");
                match object_after(line, stored) {
                    Some(text) if text == fresh => {}
                    Some(_) => differ += 1,
                    None => missing += 1,
                }
            }
            assert_eq!(differ + missing, summary.stale);
            if stale == 0.0 {
                assert_eq!(summary.stale, 0);
            } else {
                let expected = stale * 3000.0;
                let got = summary.stale as f64;
                assert!(
                    (got - expected).abs() < expected * 0.2,
                    "{got} vs {expected}"
                );
                assert!(differ > 0 && missing > 0);
            }
        }
    }

    #[test]
    fn summary_adds_up() {
        for shape in Shape::ALL {
            let (out, s) = generate(&GenOptions {
                shape,
                ..options(500, 2)
            });
            let lines = lines(&out);
            assert_eq!(s.records, 500);
            assert_eq!(lines.len(), s.records);
            assert_eq!(s.bytes, out.len() as u64);
            assert_eq!(s.tts_v3 + s.ttn_v2, s.records);
            let v3 = lines
                .iter()
                .filter(|l| object_after(l, "uplink_message").is_some())
                .count();
            assert_eq!(v3, s.tts_v3);
            match shape {
                Shape::TtsV3 => assert_eq!(s.ttn_v2, 0),
                Shape::TtnV2 => assert_eq!(s.tts_v3, 0),
                Shape::Mixed => assert!(s.tts_v3 > 100 && s.ttn_v2 > 100),
            }
        }
        let (out, s) = generate(&options(0, 1));
        assert!(out.is_empty() && s == GenSummary::default());
    }

    #[test]
    fn records_average_1_2_to_2_kb() {
        let (_, s) = generate(&options(2000, 4));
        let average = s.bytes / s.records as u64;
        assert!((1200..=2000).contains(&average), "{average}");
    }

    #[test]
    fn names_round_trip() {
        for e in DateEncoding::ALL {
            assert_eq!(e.to_string().parse(), Ok(e));
        }
        for s in Shape::ALL {
            assert_eq!(s.to_string().parse(), Ok(s));
        }
        assert_eq!("2017".parse(), Ok(DateEncoding::V2017));
        assert_eq!("tts-v3".parse(), Ok(Shape::TtsV3));
        let err = "2019".parse::<DateEncoding>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown date encoding (known: 2017, 2020, mixed)"
        );
        assert!("v3".parse::<Shape>().is_err());
    }

    #[test]
    fn sensor_tables_fit_their_types() {
        for sensor in ALL {
            let t = Profile::Tts.lookup(sensor.ty).unwrap();
            let arity = match t.layout {
                Layout::Scalar(_) => 1,
                Layout::Object(members) => members.len(),
            };
            assert_eq!(sensor.axes.len(), arity, "type {}", sensor.ty);
            for app in &APPS {
                for corner in [[-300, -300], [300, 300]] {
                    let place = [app.place[0] + corner[0], app.place[1] + corner[1]];
                    let mut c = Channel::new(&mut Rng::with_seed(0), 1, sensor, place);
                    for pick in [|a: &Axis| a.min, |a: &Axis| a.max] {
                        for (r, a) in c.raw.iter_mut().zip(sensor.axes) {
                            *r = pick(a);
                        }
                        let mut buf = [0u8; 48];
                        let channels = std::slice::from_ref(&c);
                        let len = encode(channels, None, None, &mut buf);
                        assert_eq!(len, 2 + usize::from(t.size));
                        assert_eq!(encode(channels, None, Some(0), &mut buf), len);
                    }
                }
            }
        }
    }

    #[test]
    fn airtime_follows_semtech() {
        // An 8-byte frame at SF7, a 51-byte one at SF7 and a 12-byte one at SF12.
        assert_eq!(airtime_us(7, 21), 56_576);
        assert_eq!(airtime_us(7, 64), 118_016);
        assert_eq!(airtime_us(12, 25), 1_482_752);
    }

    #[test]
    fn json_numbers_and_strings() {
        let mut j = Json::default();
        j.arr()
            .dec(-65, 1)
            .dec(514141391, 7)
            .dec(8681, 1)
            .dec(-9412872, 7)
            .dec(5, 3);
        j.i(0).u(u64::MAX).str("a\"b\\c\n").end_arr();
        let text = std::str::from_utf8(&j.buf).unwrap();
        assert_eq!(
            text,
            r#"[-6.5,51.4141391,868.1,-0.9412872,0.005,0,18446744073709551615,"a\"b\\c\u000a"]"#
        );
        let parsed: J = serde_json::from_str(text).unwrap();
        assert_eq!(parsed[6], u64::MAX);
    }
}

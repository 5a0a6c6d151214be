//! The fleet the records come from: applications with their gateways, devices with their
//! sensors, and the LPP frames of their readings.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fastrand::Rng;
use lorafield_codec_lpp::{Encoder, Layout, Profile};

use super::json::{ulid, url_safe_char, uuid};
use super::{BASE_MS, Shape};

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
pub(super) struct AppSpec {
    pub(super) id: &'static str,
    pub(super) rec_type: &'static str,
    device: &'static str,
    pub(super) org: &'static str,
    pub(super) user: &'static str,
    /// The first five bytes of its devices' DevEUIs.
    eui_prefix: [u8; 5],
    /// Latitude and longitude in 1e-4 degrees.
    place: [i64; 2],
    sensors: &'static [&'static Sensor],
    /// `version_ids`: brand, model, hardware and firmware version.
    pub(super) version: [&'static str; 4],
    pub(super) tags: &'static [&'static str],
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
pub(super) const FREQUENCIES: [u32; 8] = [8681, 8683, 8685, 8671, 8673, 8675, 8677, 8679];

/// Addresses the network servers' integrations post from.
const REMOTE_ADDRESSES: [&str; 4] = [
    "52.169.76.203",
    "52.169.150.138",
    "52.212.223.226",
    "40.113.68.198",
];

#[derive(Debug)]
pub(super) struct Gateway {
    pub(super) id: String,
    pub(super) eui: [u8; 8],
    /// Latitude and longitude in 1e-7 degrees, altitude in metres.
    pub(super) location: Option<[i64; 3]>,
    /// Its concentrator's clock (µs) when the epoch began.
    pub(super) clock: u32,
    /// The ULID of its connection to the gateway server.
    pub(super) conn: [u8; 26],
}

#[derive(Debug)]
pub(super) struct App {
    pub(super) spec: &'static AppSpec,
    pub(super) v2_id: String,
    pub(super) join_eui: String,
    pub(super) owner_appid: String,
    pub(super) token_id: String,
    pub(super) token_ip: String,
    pub(super) remote: &'static str,
    pub(super) downlink_url: String,
    pub(super) gateways: Vec<Gateway>,
}

#[derive(Debug)]
pub(super) struct Channel {
    channel: u8,
    sensor: &'static Sensor,
    divisors: [f64; 3],
    origin: [i64; 3],
    raw: [i64; 3],
}

#[derive(Debug)]
pub(super) struct Device {
    pub(super) app: usize,
    pub(super) v3: bool,
    pub(super) id: String,
    pub(super) v2_id: String,
    pub(super) eui: String,
    pub(super) dev_addr: String,
    pub(super) session_key: String,
    pub(super) f_port: u8,
    pub(super) f_cnt: u32,
    pub(super) sf: u8,
    pub(super) version: bool,
    /// `locations.user` (1e-7 degrees, metres), set on some fixed devices.
    pub(super) location: Option<[i64; 3]>,
    pub(super) channels: Vec<Channel>,
}

#[derive(Debug)]
pub(super) struct Fleet {
    pub(super) apps: Vec<App>,
    pub(super) devices: Vec<Device>,
    /// The ObjectId's process part and counter.
    pub(super) oid_process: [u8; 5],
    pub(super) oid_counter: u32,
}

impl Fleet {
    pub(super) fn new(rng: &mut Rng, shape: Shape) -> Fleet {
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
    pub(super) fn walk(&mut self, rng: &mut Rng) {
        for (r, a) in self.raw.iter_mut().zip(self.sensor.axes) {
            *r = (*r + rng.i64(-a.step..=a.step)).clamp(a.min, a.max);
        }
    }
}

/// Encodes the channels' readings into `buf`, leaving out channel `skip` and moving the first
/// reading of channel `nudge` by one raw unit. Returns the frame's length.
pub(super) fn encode(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

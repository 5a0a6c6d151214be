//! The Things Network's device repository (`lorawan-devices`): resolving a device to its codec
//! script the way The Things Stack does, and the codecs' examples.
//!
//! A checkout's `vendor/` folder holds `index.yaml` (the vendors), per vendor an `index.yaml`
//! (`endDevices`), a file per device (`firmwareVersions`, each with `profiles` per band naming
//! a codec) and a file per codec (`<codec-id>.yaml`: `uplinkDecoder`, `downlinkEncoder`,
//! `downlinkDecoder`, each a script `fileName` and `examples`). A device is resolved from its
//! vendor and model, its firmware version (the latest when not given) and, only where the
//! firmware's profiles name different codecs, its band (`EU_863_870` and `EU863-870` are the
//! same band).

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// A device as a user names it: `BRAND/MODEL[@FIRMWARE][:BAND]`, or as The Things Stack's
/// `version_ids` carry it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceRef {
    /// The vendor id (`milesight-iot`), The Things Stack's `brand_id`.
    pub vendor: String,
    /// The device id (`em300-th`), The Things Stack's `model_id`.
    pub model: String,
    /// The firmware version; the latest when none.
    pub firmware: Option<String>,
    /// The band (`EU_863_870` or `EU863-870`); needed only where the profiles differ.
    pub band: Option<String>,
}

impl fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.vendor, self.model)?;
        if let Some(fw) = &self.firmware {
            write!(f, "@{fw}")?;
        }
        if let Some(band) = &self.band {
            write!(f, ":{band}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for DeviceRef {
    type Err = RepoError;

    fn from_str(s: &str) -> Result<Self, RepoError> {
        let bad = || RepoError::BadDevice(s.to_string());
        let (rest, band) = match s.rsplit_once(':') {
            Some((r, b)) if !b.is_empty() => (r, Some(b.to_string())),
            Some(_) => return Err(bad()),
            None => (s, None),
        };
        let (rest, firmware) = match rest.rsplit_once('@') {
            Some((r, f)) if !f.is_empty() => (r, Some(f.to_string())),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let (vendor, model) = rest.split_once('/').ok_or_else(bad)?;
        if vendor.is_empty() || model.is_empty() || model.contains('/') {
            return Err(bad());
        }
        Ok(DeviceRef {
            vendor: vendor.into(),
            model: model.into(),
            firmware,
            band,
        })
    }
}

/// Why a device or codec could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RepoError {
    /// The folder is not a device repository checkout.
    NotARepo(String),
    /// A file cannot be read or parsed.
    File {
        /// The file, relative to the repository.
        path: String,
        /// Why.
        reason: String,
    },
    /// `BRAND/MODEL[@FIRMWARE][:BAND]` is malformed.
    BadDevice(String),
    /// The vendor is not in the repository.
    UnknownVendor {
        /// The vendor asked for.
        vendor: String,
        /// Vendors whose id is close to it.
        close: Vec<String>,
    },
    /// The vendor has no such device.
    UnknownModel {
        /// The device asked for.
        device: String,
        /// The vendor's devices.
        known: Vec<String>,
    },
    /// The device has no such firmware version.
    UnknownFirmware {
        /// The device asked for.
        device: String,
        /// Its firmware versions.
        known: Vec<String>,
    },
    /// The firmware has no profile for the band.
    UnknownBand {
        /// The device asked for.
        device: String,
        /// Its bands, each with its codec.
        known: Vec<String>,
    },
    /// The firmware's profiles name different codecs: the band decides.
    NeedsBand {
        /// The device asked for.
        device: String,
        /// Its bands, each with its codec.
        choices: Vec<String>,
    },
    /// The device (or its profile for the band) names no codec.
    NoCodec {
        /// The device asked for.
        device: String,
    },
    /// The codec file names no uplink decoder script.
    NoScript {
        /// The codec file.
        codec: String,
    },
}

impl fmt::Display for RepoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| v.join(", ");
        match self {
            RepoError::NotARepo(p) => write!(
                f,
                "{p} is not a checkout of the device repository (no vendor/index.yaml in it)"
            ),
            RepoError::File { path, reason } => write!(f, "{path}: {reason}"),
            RepoError::BadDevice(s) => write!(
                f,
                "{s:?} is not a device: write BRAND/MODEL[@FIRMWARE][:BAND], for example milesight-iot/em300-th@1.15:EU_863_870"
            ),
            RepoError::UnknownVendor { vendor, close } if close.is_empty() => write!(
                f,
                "no vendor {vendor:?} in the device repository (lorafield codecs --device-repo DIR lists them)"
            ),
            RepoError::UnknownVendor { vendor, close } => write!(
                f,
                "no vendor {vendor:?} in the device repository (did you mean {}?)",
                list(close)
            ),
            RepoError::UnknownModel { device, known } => {
                write!(f, "no device {device} (its vendor has: {})", list(known))
            }
            RepoError::UnknownFirmware { device, known } => {
                write!(
                    f,
                    "no firmware version for {device} (known: {})",
                    list(known)
                )
            }
            RepoError::UnknownBand { device, known } => {
                write!(
                    f,
                    "no profile for the band of {device} (known: {})",
                    list(known)
                )
            }
            RepoError::NeedsBand { device, choices } => write!(
                f,
                "{device} uses different codecs per band: add :BAND (choices: {})",
                list(choices)
            ),
            RepoError::NoCodec { device } => write!(f, "{device} names no payload codec"),
            RepoError::NoScript { codec } => {
                write!(f, "codec {codec} names no uplink decoder script")
            }
        }
    }
}

impl std::error::Error for RepoError {}

/// A band's name as both spellings reduce to it (`EU_863_870`, `EU863-870`: `EU863870`).
pub fn band_key(band: &str) -> String {
    band.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A device resolved to its codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The vendor id.
    pub vendor: String,
    /// The device id.
    pub model: String,
    /// The firmware version used.
    pub firmware: String,
    /// The codec id (`em300-th-codec`).
    pub codec: String,
    /// The uplink decoder script.
    pub script: PathBuf,
    /// The script's name for messages and stamps: `<vendor>/<file>`.
    pub script_name: String,
    /// The downlink encoder script (`downlinkEncoder`), if the codec has one.
    pub encoder: Option<PathBuf>,
    /// The downlink decoder script (`downlinkDecoder`), if the codec has one.
    pub decoder: Option<PathBuf>,
}

/// One routine of a codec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Routine {
    /// `decodeUplink` (`uplinkDecoder`).
    DecodeUplink,
    /// `normalizeUplink`, run on an uplink example's output (`normalizedOutput`).
    NormalizeUplink,
    /// `encodeDownlink` (`downlinkEncoder`).
    EncodeDownlink,
    /// `decodeDownlink` (`downlinkDecoder`).
    DecodeDownlink,
}

impl Routine {
    /// The function's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Routine::DecodeUplink => "decodeUplink",
            Routine::NormalizeUplink => "normalizeUplink",
            Routine::EncodeDownlink => "encodeDownlink",
            Routine::DecodeDownlink => "decodeDownlink",
        }
    }
}

/// One example of a codec file.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The vendor id.
    pub vendor: String,
    /// The codec id.
    pub codec: String,
    /// The script.
    pub script: PathBuf,
    /// The script's name (`<vendor>/<file>`).
    pub script_name: String,
    /// The routine.
    pub routine: Routine,
    /// The example's description, and its place (`#3`).
    pub description: String,
    /// The routine's input.
    pub input: Value,
    /// The expected output.
    pub output: Value,
}

/// A checkout of the device repository.
#[derive(Debug, Clone)]
pub struct DeviceRepo {
    vendor_dir: PathBuf,
}

impl DeviceRepo {
    /// The repository at `dir`: a checkout, or its `vendor/` folder.
    pub fn open(dir: &Path) -> Result<DeviceRepo, RepoError> {
        for candidate in [dir.join("vendor"), dir.to_path_buf()] {
            if candidate.join("index.yaml").is_file() {
                return Ok(DeviceRepo {
                    vendor_dir: candidate,
                });
            }
        }
        Err(RepoError::NotARepo(dir.display().to_string()))
    }

    /// The `vendor/` folder.
    pub fn vendor_dir(&self) -> &Path {
        &self.vendor_dir
    }

    fn load(&self, rel: &str) -> Result<Yaml, RepoError> {
        let path = self.vendor_dir.join(rel);
        let err = |reason: String| RepoError::File {
            path: format!("vendor/{rel}"),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        let mut docs = YamlLoader::load_from_str(&text).map_err(|e| err(e.to_string()))?;
        Ok(if docs.is_empty() {
            Yaml::Null
        } else {
            docs.swap_remove(0)
        })
    }

    /// The vendors' ids, in the index's order.
    pub fn vendors(&self) -> Result<Vec<String>, RepoError> {
        let index = self.load("index.yaml")?;
        Ok(index["vendors"]
            .as_vec()
            .map(|v| {
                v.iter()
                    .filter_map(|e| e["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A vendor's devices (its `index.yaml`'s `endDevices`).
    pub fn devices(&self, vendor: &str) -> Result<Vec<String>, RepoError> {
        if !safe_id(vendor) || !self.vendor_dir.join(vendor).join("index.yaml").is_file() {
            let all = self.vendors()?;
            let close = all
                .into_iter()
                .filter(|v| v.contains(vendor) || vendor.contains(v.as_str()))
                .take(8)
                .collect();
            return Err(RepoError::UnknownVendor {
                vendor: vendor.into(),
                close,
            });
        }
        let index = self.load(&format!("{vendor}/index.yaml"))?;
        Ok(strings(&index["endDevices"]))
    }

    /// Resolves `device` to its codec, as The Things Stack does.
    pub fn resolve(&self, device: &DeviceRef) -> Result<Resolved, RepoError> {
        let models = self.devices(&device.vendor)?;
        if !safe_id(&device.model) || !models.iter().any(|m| m == &device.model) {
            return Err(RepoError::UnknownModel {
                device: device.to_string(),
                known: models,
            });
        }
        let def = self.load(&format!("{}/{}.yaml", device.vendor, device.model))?;
        let firmwares = def["firmwareVersions"]
            .as_vec()
            .cloned()
            .unwrap_or_default();
        let version = |f: &Yaml| scalar(&f["version"]);
        let chosen = match &device.firmware {
            Some(want) => firmwares
                .iter()
                .find(|f| version(f).as_deref() == Some(want)),
            None => firmwares.iter().max_by(|a, b| {
                version_cmp(
                    &version(a).unwrap_or_default(),
                    &version(b).unwrap_or_default(),
                )
            }),
        };
        let Some(firmware) = chosen else {
            return Err(RepoError::UnknownFirmware {
                device: device.to_string(),
                known: firmwares.iter().filter_map(version).collect(),
            });
        };
        let profiles: Vec<(String, Option<String>)> = firmware["profiles"]
            .as_hash()
            .map(|h| {
                h.iter()
                    .filter_map(|(band, p)| {
                        Some((
                            band.as_str()?.to_string(),
                            p["codec"].as_str().map(String::from),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let choices = || {
            profiles
                .iter()
                .map(|(b, c)| format!("{b} ({})", c.as_deref().unwrap_or("no codec")))
                .collect::<Vec<_>>()
        };
        let codec = match &device.band {
            Some(band) => {
                let key = band_key(band);
                let Some((_, codec)) = profiles.iter().find(|(b, _)| band_key(b) == key) else {
                    return Err(RepoError::UnknownBand {
                        device: device.to_string(),
                        known: choices(),
                    });
                };
                codec.clone()
            }
            None => {
                let mut codecs: Vec<&str> =
                    profiles.iter().filter_map(|(_, c)| c.as_deref()).collect();
                codecs.sort_unstable();
                codecs.dedup();
                match codecs.as_slice() {
                    [] => None,
                    [one] => Some((*one).to_string()),
                    _ => {
                        return Err(RepoError::NeedsBand {
                            device: device.to_string(),
                            choices: choices(),
                        });
                    }
                }
            }
        };
        let Some(codec) = codec.filter(|c| safe_id(c)) else {
            return Err(RepoError::NoCodec {
                device: device.to_string(),
            });
        };
        let def = self.load(&format!("{}/{codec}.yaml", device.vendor))?;
        let file = def["uplinkDecoder"]["fileName"]
            .as_str()
            .filter(|f| safe_file(f))
            .ok_or_else(|| RepoError::NoScript {
                codec: format!("{}/{codec}", device.vendor),
            })?;
        let other = |key: &str| {
            def[key]["fileName"]
                .as_str()
                .filter(|f| safe_file(f))
                .map(|f| self.vendor_dir.join(&device.vendor).join(f))
        };
        Ok(Resolved {
            encoder: other("downlinkEncoder"),
            decoder: other("downlinkDecoder"),
            vendor: device.vendor.clone(),
            model: device.model.clone(),
            firmware: version(firmware).unwrap_or_default(),
            codec,
            script: self.vendor_dir.join(&device.vendor).join(file),
            script_name: format!("{}/{file}", device.vendor),
        })
    }

    /// The codec files that some device profile of the vendor references, as
    /// `(vendor, codec id)`, sorted.
    pub fn referenced_codecs(&self, vendor: &str) -> Result<Vec<(String, String)>, RepoError> {
        let mut out = Vec::new();
        for model in self.devices(vendor)? {
            if !safe_id(&model) {
                continue;
            }
            let Ok(def) = self.load(&format!("{vendor}/{model}.yaml")) else {
                continue;
            };
            for fw in def["firmwareVersions"].as_vec().into_iter().flatten() {
                for (_, p) in fw["profiles"].as_hash().into_iter().flatten() {
                    if let Some(c) = p["codec"].as_str().filter(|c| safe_id(c)) {
                        out.push((vendor.to_string(), c.to_string()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The examples of codec `codec` of `vendor`: uplink decoding (and normalizing, where an
    /// example gives `normalizedOutput`), downlink encoding and decoding.
    pub fn examples(&self, vendor: &str, codec: &str) -> Result<Vec<Example>, RepoError> {
        let def = self.load(&format!("{vendor}/{codec}.yaml"))?;
        let mut out = Vec::new();
        for (key, routine) in [
            ("uplinkDecoder", Routine::DecodeUplink),
            ("downlinkEncoder", Routine::EncodeDownlink),
            ("downlinkDecoder", Routine::DecodeDownlink),
        ] {
            let section = &def[key];
            let Some(file) = section["fileName"].as_str().filter(|f| safe_file(f)) else {
                continue;
            };
            for (i, e) in section["examples"]
                .as_vec()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let description = format!(
                    "#{} {}",
                    i + 1,
                    e["description"].as_str().unwrap_or_default()
                );
                let example = |routine, input: &Yaml, output: &Yaml, description: String| Example {
                    vendor: vendor.into(),
                    codec: codec.into(),
                    script: self.vendor_dir.join(vendor).join(file),
                    script_name: format!("{vendor}/{file}"),
                    routine,
                    description,
                    input: to_json(input),
                    output: to_json(output),
                };
                out.push(example(
                    routine,
                    &e["input"],
                    &e["output"],
                    description.clone(),
                ));
                if routine == Routine::DecodeUplink && !e["normalizedOutput"].is_badvalue() {
                    out.push(example(
                        Routine::NormalizeUplink,
                        &e["output"],
                        &e["normalizedOutput"],
                        format!("{description} (normalized)"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// An id that names a file in the vendor folder, not a path out of it.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !id.starts_with('.')
}

/// A script file name in the vendor's folder (sub-folders allowed, no way out of it).
fn safe_file(f: &str) -> bool {
    !f.is_empty()
        && !f.starts_with('/')
        && f.split('/')
            .all(|part| !part.is_empty() && part != ".." && part != ".")
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| v.iter().filter_map(scalar).collect())
        .unwrap_or_default()
}

/// Compares version texts part by part, numbers as numbers (`1.10` after `1.9`).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<(u64, String)> {
        s.split(['.', '-', '_', ' '])
            .map(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().unwrap_or(0), p.to_string())
            })
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// A YAML value as JSON: integers and floats as numbers, keys as text.
pub fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .or_else(|| y.as_f64())
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_brand_model_firmware_band() {
        let d: DeviceRef = "milesight-iot/em300-th@1.15:EU_863_870".parse().unwrap();
        assert_eq!(d.vendor, "milesight-iot");
        assert_eq!(d.model, "em300-th");
        assert_eq!(d.firmware.as_deref(), Some("1.15"));
        assert_eq!(d.band.as_deref(), Some("EU_863_870"));
        assert_eq!(d.to_string(), "milesight-iot/em300-th@1.15:EU_863_870");
        let d: DeviceRef = "elsys/ers".parse().unwrap();
        assert_eq!((d.firmware, d.band), (None, None));
        for bad in ["elsys", "elsys/", "/ers", "a/b/c", "a/b@", "a/b:"] {
            assert!(bad.parse::<DeviceRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bands_in_either_spelling() {
        assert_eq!(band_key("EU_863_870"), band_key("EU863-870"));
        assert_eq!(band_key("AS_923_2"), band_key("AS923-2"));
        assert_ne!(band_key("AS_923"), band_key("AS923-2"));
    }

    #[test]
    fn versions_compare_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("1.10", "1.9"), Greater);
        assert_eq!(version_cmp("2.0", "10.0"), Less);
        assert_eq!(version_cmp("1.0", "1.0"), Equal);
    }

    #[test]
    fn ids_cannot_leave_the_vendor_folder() {
        assert!(safe_id("em300-th"));
        assert!(!safe_id("../etc"));
        assert!(!safe_id("a/b"));
        assert!(safe_file("sub/codec.js"));
        assert!(!safe_file("../../etc/passwd"));
        assert!(!safe_file("/etc/passwd"));
    }
}

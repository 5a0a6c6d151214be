//! The tracker models (the codec option `model`) and the frame lengths each accepts.

use core::fmt;
use core::str::FromStr;

/// The report's length (`REPORT_DATA_BUFFER_SIZE` in the firmware).
pub const REPORT_LEN: usize = 21;
/// A previous fix's length (`GPS_FIX_DATA_BUFFER_SIZE` in the firmware).
pub const FIX_LEN: usize = 10;
/// The most previous fixes a frame carries ("Num Coords to Upload" is 1-4, the first being
/// the report's own fix).
pub const MAX_FIXES: usize = 3;
/// The NB-IoT variant's UDP header: version, IMEI and token.
pub const UDP_HEADER_LEN: usize = 16;
/// The length of the Cayenne LPP mode's frame (`cay=1`).
pub const LPP_LEN: usize = 19;
/// The report's `time_to_fix` byte, which the legacy firmware overwrites.
pub(crate) const TIME_TO_FIX_AT: usize = 20;

/// Which firmware sent the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Model {
    /// Sodaq_Universal_Tracker over LoRaWAN: the 21-byte report, then 0-3 previous fixes of 10
    /// bytes (21/31/41/51 bytes); or the 19-byte Cayenne LPP mode.
    #[default]
    UniversalTracker,
    /// SodaqOne-UniversalTracker v1-v3: previous fixes are copied one byte early, from offset
    /// 20 over `time_to_fix`, and the frame's last byte is stale (21/31/41/51 bytes); or the
    /// 19-byte Cayenne LPP mode.
    Legacy,
    /// Sodaq_Universal_Tracker on a SARA NB-IoT / LTE-M modem: a 16-byte UDP header, then the
    /// universal layout (37/47/57/67 bytes).
    NbIot,
}

/// Where the parts of a report frame lie, validated against its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The report's first byte (after the UDP header, if any).
    pub(crate) report: usize,
    /// Whether a UDP header comes first.
    pub(crate) udp_header: bool,
    /// The first previous fix's first byte.
    pub(crate) fixes_at: usize,
    /// How many previous fixes follow.
    pub(crate) fixes: usize,
    /// Whether the report's `time_to_fix` byte holds a time to fix.
    pub(crate) time_to_fix: bool,
}

impl Model {
    /// Every model, the default first.
    pub const ALL: [Model; 3] = [Model::UniversalTracker, Model::Legacy, Model::NbIot];

    /// The model's name as given on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Model::UniversalTracker => "universal-tracker",
            Model::Legacy => "legacy",
            Model::NbIot => "nb-iot",
        }
    }

    /// Whether the model's firmware has the Cayenne LPP mode on the LoRaWAN port (`cay=1`).
    pub const fn has_lpp_mode(self) -> bool {
        !matches!(self, Model::NbIot)
    }

    /// What comes before the report: the UDP header's length.
    const fn header_len(self) -> usize {
        match self {
            Model::NbIot => UDP_HEADER_LEN,
            _ => 0,
        }
    }

    /// The length of a report frame with `fixes` previous fixes (0-3).
    pub const fn report_frame_len(self, fixes: usize) -> usize {
        self.header_len() + REPORT_LEN + FIX_LEN * fixes
    }

    /// The layout of a report frame of `len` bytes, if that length is one the model sends.
    pub(crate) fn layout(self, len: usize) -> Option<Layout> {
        let body = len.checked_sub(self.report_frame_len(0))?;
        let fixes = body / FIX_LEN;
        if body % FIX_LEN != 0 || fixes > MAX_FIXES {
            return None;
        }
        let report = self.header_len();
        Some(match self {
            Model::UniversalTracker | Model::NbIot => Layout {
                report,
                udp_header: self.header_len() > 0,
                fixes_at: report + REPORT_LEN,
                fixes,
                time_to_fix: true,
            },
            // The firmware copies each fix to `sendBuffer[sendBufferSize - 1]`: the first over
            // `time_to_fix`, each next one over the byte after the one before. Without fixes
            // nothing is overwritten and `time_to_fix` is the report's own.
            Model::Legacy => Layout {
                report,
                udp_header: false,
                fixes_at: TIME_TO_FIX_AT,
                fixes,
                time_to_fix: fixes == 0,
            },
        })
    }

    /// The report frame length nearest to `len` (the longer one of two as near): what an
    /// `invalid_length` error says was expected.
    pub fn nearest_len(self, len: usize) -> usize {
        let mut best = self.report_frame_len(0);
        for fixes in 1..=MAX_FIXES {
            let candidate = self.report_frame_len(fixes);
            if candidate.abs_diff(len) <= best.abs_diff(len) {
                best = candidate;
            }
        }
        best
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A model name that is not `universal-tracker`, `legacy` or `nb-iot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownModel;

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown Sodaq tracker model (known: universal-tracker, legacy, nb-iot)")
    }
}

impl core::error::Error for UnknownModel {}

impl FromStr for Model {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or(UnknownModel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Model::ALL {
            assert_eq!(m.name().parse(), Ok(m));
        }
        assert_eq!("sodaq-one".parse::<Model>(), Err(UnknownModel));
        assert_eq!(Model::default(), Model::UniversalTracker);
    }

    #[test]
    fn valid_lengths_per_model() {
        let valid = |m: Model| -> [bool; 80] { core::array::from_fn(|n| m.layout(n).is_some()) };
        for m in [Model::UniversalTracker, Model::Legacy] {
            let v = valid(m);
            for (n, ok) in v.iter().enumerate() {
                assert_eq!(*ok, [21, 31, 41, 51].contains(&n), "{m} {n}");
            }
        }
        let v = valid(Model::NbIot);
        for (n, ok) in v.iter().enumerate() {
            assert_eq!(*ok, [37, 47, 57, 67].contains(&n), "nb-iot {n}");
        }
    }

    #[test]
    fn layouts() {
        let u = Model::UniversalTracker.layout(41).unwrap();
        assert_eq!(
            (u.report, u.fixes_at, u.fixes, u.time_to_fix),
            (0, 21, 2, true)
        );
        let l = Model::Legacy.layout(41).unwrap();
        assert_eq!(
            (l.report, l.fixes_at, l.fixes, l.time_to_fix),
            (0, 20, 2, false)
        );
        let l = Model::Legacy.layout(21).unwrap();
        assert_eq!((l.fixes, l.time_to_fix), (0, true));
        let n = Model::NbIot.layout(47).unwrap();
        assert_eq!(
            (n.report, n.udp_header, n.fixes_at, n.fixes, n.time_to_fix),
            (16, true, 37, 1, true)
        );
    }

    #[test]
    fn nearest_lengths() {
        let u = Model::UniversalTracker;
        assert_eq!(u.nearest_len(0), 21);
        assert_eq!(u.nearest_len(20), 21);
        assert_eq!(u.nearest_len(25), 21);
        assert_eq!(u.nearest_len(26), 31);
        assert_eq!(u.nearest_len(52), 51);
        assert_eq!(u.nearest_len(300), 51);
        assert_eq!(Model::NbIot.nearest_len(21), 37);
        assert_eq!(Model::NbIot.nearest_len(68), 67);
    }
}

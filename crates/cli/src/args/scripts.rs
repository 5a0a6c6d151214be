//! How scripts run and where the device repository is: the options every command that
//! decodes shares (`decode`, `encode`, `redecode`, `serve`, `vectors`, `compare`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use lorafield::{Environment, Setting};

/// Scripts (JavaScript codecs) and The Things Network's device repository.
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Scripts and the device repository")]
pub(crate) struct ScriptArgs {
    /// A checkout of The Things Network's device repository (lorawan-devices), or its vendor/
    /// folder; also `device_repo = "DIR"` in lorafield.toml.
    #[arg(
        long,
        value_name = "DIR",
        env = "LORAFIELD_DEVICE_REPO",
        hide_env_values = true
    )]
    pub(crate) device_repo: Option<PathBuf>,
    /// Work a script may do per uplink, in the engine's interrupt checks (the same work
    /// whatever the machine's load) [default: 80, about 50 ms of a loop of arithmetic; [js] fuel].
    #[arg(long, value_name = "N")]
    pub(crate) js_fuel: Option<i64>,
    /// Wall-clock backstop per uplink, in milliseconds [default: 1000; [js] time_ms].
    #[arg(long, value_name = "MS")]
    pub(crate) js_time_ms: Option<i64>,
    /// Memory a script may allocate per uplink, in MiB [default: 32; [js] memory_mb].
    #[arg(long, value_name = "MIB")]
    pub(crate) js_memory_mb: Option<i64>,
    /// Stack a script may use, in KiB [default: 256; [js] stack_kb].
    #[arg(long, value_name = "KIB")]
    pub(crate) js_stack_kb: Option<i64>,
    /// The largest script, in KiB [default: 1024; The Things Stack takes 40; [js]
    /// script_size_kb].
    #[arg(long, value_name = "KIB")]
    pub(crate) js_script_size_kb: Option<i64>,
    /// The largest result, in KiB [default: 256; [js] output_size_kb].
    #[arg(long, value_name = "KIB")]
    pub(crate) js_output_size_kb: Option<i64>,
    /// Evaluated scripts kept per thread [default: 64; [js] contexts].
    #[arg(long, value_name = "N")]
    pub(crate) js_contexts: Option<i64>,
    /// cached (a context per script and thread, reused: fast) or fresh (a new context per
    /// uplink, as The Things Stack does) [default: cached; [js] isolation].
    #[arg(long, value_name = "cached|fresh")]
    pub(crate) js_isolation: Option<String>,
    /// real (the host's clock) or recv-time (Date.now() is the uplink's receive time and
    /// Math.random is seeded from the record: re-decoding is reproducible) [default: real;
    /// [js] clock].
    #[arg(long, value_name = "real|recv-time")]
    pub(crate) js_clock: Option<String>,
}

impl ScriptArgs {
    /// The settings given on the command line, by the `js` codec's names.
    pub(crate) fn settings(&self) -> BTreeMap<String, Setting> {
        let mut out = BTreeMap::new();
        let ints = [
            ("fuel", self.js_fuel),
            ("time_ms", self.js_time_ms),
            ("memory_mb", self.js_memory_mb),
            ("stack_kb", self.js_stack_kb),
            ("script_size_kb", self.js_script_size_kb),
            ("output_size_kb", self.js_output_size_kb),
            ("contexts", self.js_contexts),
        ];
        for (name, v) in ints {
            if let Some(v) = v {
                out.insert(name.to_string(), Setting::Integer(v));
            }
        }
        for (name, v) in [("isolation", &self.js_isolation), ("clock", &self.js_clock)] {
            if let Some(v) = v {
                out.insert(name.to_string(), Setting::Text(v.clone()));
            }
        }
        out
    }

    /// What lorafield.toml is read with (its folder is filled in when it is read).
    pub(crate) fn environment(&self) -> Environment {
        Environment {
            base_dir: None,
            device_repo: self.device_repo.clone(),
            js: self.settings(),
        }
    }
}

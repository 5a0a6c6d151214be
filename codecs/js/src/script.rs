//! A script's text, its name and its hash; what can go wrong loading it.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use lorafield_core::Limit;
use sha2::{Digest, Sha256};

/// A codec script: its text, a name for messages and stamps (a file, or the device
/// repository's vendor and codec id), and the sha256 of its text, which keys its cached
/// contexts.
#[derive(Clone, PartialEq, Eq)]
pub struct Script {
    name: String,
    text: Arc<str>,
    hash: [u8; 32],
    short: String,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("name", &self.name)
            .field("sha256", &self.short_hash())
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl Script {
    /// A script named `name` (shown in messages) with `text`.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Script {
        let text: Arc<str> = text.into();
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let short = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Script {
            name: name.into(),
            text,
            hash,
            short,
        }
    }

    /// The script in file `path`, named by the path as given.
    pub fn from_file(path: &Path) -> Result<Script, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Script::new(path.display().to_string(), text))
    }

    /// The script's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The sha256 of the text.
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// The first 16 hex digits of the sha256 of the text, as decode stamps name it.
    pub fn short_hash(&self) -> &str {
        &self.short
    }
}

/// Why a script cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The file cannot be read.
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The script is larger than [`crate::Limits::script_size`].
    TooLarge {
        /// The script's name.
        script: String,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The script is an ES module (`import`/`export`): codecs run as classic scripts.
    Module {
        /// The script's name.
        script: String,
        /// The line of the first `import` or `export`.
        line: u32,
    },
    /// The script does not parse, or throws while it is evaluated.
    Script {
        /// The script's name.
        script: String,
        /// The exception's text (`SyntaxError: unexpected token ...`).
        message: String,
        /// Its line, if known.
        line: Option<u32>,
    },
    /// Evaluating the script ran into a limit.
    Limit {
        /// The script's name.
        script: String,
        /// The limit.
        limit: Limit,
    },
    /// The script defines none of `decodeUplink`, `Decoder`, `Decode`, `encodeDownlink` and
    /// `decodeDownlink`.
    NoEntryPoint {
        /// The script's name.
        script: String,
    },
    /// The variables ([`crate::JsOptions::variables`]) are not the JSON text of an object.
    Variables {
        /// Why.
        reason: String,
    },
    /// The JavaScript engine could not start (out of memory).
    Engine(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, reason } => write!(f, "cannot read script {path}: {reason}"),
            LoadError::TooLarge {
                script,
                size,
                limit,
            } => write!(
                f,
                "script {script} has {size} bytes, over the script_size limit of {limit} (raise it in [js] of lorafield.toml or with --js-script-size)"
            ),
            LoadError::Module { script, line } => write!(
                f,
                "script {script} is an ES module (import/export at line {line}); codecs run as classic scripts: remove the import/export statements"
            ),
            LoadError::Script {
                script,
                message,
                line: Some(line),
            } => write!(f, "script {script}, line {line}: {message}"),
            LoadError::Script {
                script, message, ..
            } => write!(f, "script {script}: {message}"),
            LoadError::Limit { script, limit } => write!(
                f,
                "script {script} exceeded its {} limit while it was evaluated",
                limit.name()
            ),
            LoadError::NoEntryPoint { script } => write!(
                f,
                "script {script} defines none of decodeUplink(input), Decoder(bytes, fPort), Decode(fPort, bytes, variables), encodeDownlink(input) and decodeDownlink(input)"
            ),
            LoadError::Variables { reason } => {
                write!(f, "the variables are not a JSON object: {reason}")
            }
            LoadError::Engine(e) => write!(f, "the JavaScript engine could not start: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The line of the first `import` or `export` statement, if the text looks like an ES
/// module (a statement at the start of a line, outside comments as far as a line tells).
pub(crate) fn module_line(text: &str) -> Option<u32> {
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        let mut l = line.trim_start();
        if in_block {
            match l.find("*/") {
                Some(end) => {
                    in_block = false;
                    l = l.get(end + 2..).unwrap_or_default().trim_start();
                }
                None => continue,
            }
        }
        if l.starts_with("/*") && !l.contains("*/") {
            in_block = true;
            continue;
        }
        let word = |w: &str| {
            l.strip_prefix(w)
                .is_some_and(|rest| rest.starts_with([' ', '{', '*', '\t']))
        };
        if word("import") && !l.starts_with("import(") || word("export") {
            return u32::try_from(i + 1).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_found_by_their_statements() {
        assert_eq!(module_line("export function decodeUplink() {}"), Some(1));
        assert_eq!(module_line("// x\nimport { a } from './a.js';\n"), Some(2));
        assert_eq!(module_line("function f() {}\nexport default f;\n"), Some(2));
        assert_eq!(module_line("var exported = 1;\nimportant();"), None);
        assert_eq!(module_line("/*\nexport {a}\n*/\nvar a;"), None);
        assert_eq!(module_line("var m = import('x');"), None);
    }

    #[test]
    fn hashes_name_the_text() {
        let a = Script::new("a.js", "var x = 1;");
        let b = Script::new("b.js", "var x = 1;");
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.short_hash().len(), 16);
        assert_ne!(Script::new("a.js", "var x = 2;").hash(), a.hash());
    }
}

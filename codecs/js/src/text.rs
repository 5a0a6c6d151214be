//! JavaScript strings as Rust text: a string with lone surrogates (which Rust text cannot
//! hold) has each of them replaced by U+FFFD, as `String.prototype.toWellFormed` does.

use rquickjs::{Ctx, Value};

/// The text of `value` if it is a string.
///
/// Lone surrogates make the engine's UTF-8 conversion fail; the text then comes from the
/// engine's own JSON serialisation (not the script's `JSON`), which escapes them as `\uD800`.
pub(crate) fn text_of<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Option<String> {
    let s = value.as_string()?;
    if let Ok(t) = s.to_string() {
        return Some(t);
    }
    let json = ctx.json_stringify(value.clone()).ok()??.to_string().ok()?;
    Some(unquote(&json))
}

/// The text of a JSON string literal, its escaped lone surrogates replaced by U+FFFD.
fn unquote(json: &str) -> String {
    let inner = json
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(json);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    // A high surrogate waiting for its low half.
    let mut high: Option<u32> = None;
    while let Some(c) = chars.next() {
        let unit = if c == '\\' {
            match chars.next() {
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    u32::from_str_radix(&hex, 16).ok()
                }
                Some(e) => {
                    push_pending(&mut out, &mut high);
                    out.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        other => other,
                    });
                    continue;
                }
                None => None,
            }
        } else {
            push_pending(&mut out, &mut high);
            out.push(c);
            continue;
        };
        match unit {
            Some(u @ 0xD800..=0xDBFF) => {
                push_pending(&mut out, &mut high);
                high = Some(u);
            }
            Some(u @ 0xDC00..=0xDFFF) => match high.take() {
                Some(h) => {
                    let code = 0x10000 + ((h - 0xD800) << 10) + (u - 0xDC00);
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                None => out.push('\u{fffd}'),
            },
            Some(u) => {
                push_pending(&mut out, &mut high);
                out.push(char::from_u32(u).unwrap_or('\u{fffd}'));
            }
            None => {
                push_pending(&mut out, &mut high);
                out.push('\u{fffd}');
            }
        }
    }
    push_pending(&mut out, &mut high);
    out
}

/// A high surrogate that found no low half is a lone one.
fn push_pending(out: &mut String, high: &mut Option<u32>) {
    if high.take().is_some() {
        out.push('\u{fffd}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_the_replacement_character() {
        assert_eq!(unquote(r#""a\ud800b""#), "a\u{fffd}b");
        assert_eq!(unquote(r#""\udc00""#), "\u{fffd}");
        assert_eq!(unquote(r#""\ud800\ud800x""#), "\u{fffd}\u{fffd}x");
        assert_eq!(unquote(r#""\ud83d\ude00""#), "😀");
        assert_eq!(
            unquote(r#""😀 \"q\" \\ \n\t\u0001""#),
            "😀 \"q\" \\ \n\t\u{1}"
        );
        assert_eq!(unquote(r#""end\ud800""#), "end\u{fffd}");
    }
}

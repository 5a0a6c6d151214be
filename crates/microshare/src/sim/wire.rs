//! Shares as the API shows them: their JSON, ids and dates in either encoding, tags and
//! checksums.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use super::state::Share;
use super::{DateEncoding, SIM_APPID, SIM_ORG};

#[derive(Serialize)]
pub(super) struct Page<'a> {
    pub(super) meta: Value,
    pub(super) objs: Vec<ShareOut<'a>>,
}

/// A share as `GET` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ShareOut<'a> {
    #[serde(rename = "_id")]
    oid: Value,
    id: &'a str,
    rec_type: &'a str,
    data: &'a RawValue,
    create_date: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_date: Option<Value>,
    tstamp: Value,
    creator_id: &'a str,
    updater_id: &'a str,
    name: &'static str,
    desc: &'static str,
    tags: &'a [String],
    checksum: &'a str,
    origin: Value,
    owner: Value,
}

impl Share {
    pub(super) fn out<'a>(
        &'a self,
        rec_type: &'a str,
        encoding: DateEncoding,
        details: bool,
    ) -> ShareOut<'a> {
        let empty: &'static RawValue = serde_json::from_str("{}").expect("`{}` is JSON");
        let (oid, create_date, update_date, tstamp, origin_date, desc, owner) = match encoding {
            DateEncoding::V2017 => (
                json!({ "$oid": self.id }),
                json!({ "$date": self.at_ms }),
                None,
                json!({ "$numberLong": self.at_ms.to_string() }),
                json!({ "$numberLong": self.at_ms.to_string() }),
                format!("Object of Type {rec_type}"),
                json!({ "appid": SIM_APPID, "org": SIM_ORG, "user": self.creator }),
            ),
            DateEncoding::V2020 => (
                json!(self.id),
                json!(iso_time(self.at_ms)),
                Some(json!(iso_time(self.at_ms))),
                json!(self.at_ms),
                json!(iso_time(self.at_ms)),
                format!("Record of Type {rec_type}"),
                json!({ "appid": SIM_APPID, "org": SIM_ORG, "owners": [], "user": self.creator }),
            ),
        };
        ShareOut {
            oid,
            id: &self.id,
            rec_type,
            data: if details { &self.data } else { empty },
            create_date,
            update_date,
            tstamp,
            creator_id: &self.creator,
            updater_id: &self.creator,
            name: "",
            desc: "",
            tags: &self.tags,
            checksum: &self.checksum,
            origin: json!({
                "checksum": self.checksum,
                "createDate": origin_date,
                "creatorId": self.creator,
                "desc": desc,
                "id": self.id,
                "name": rec_type,
                "remoteAddress": "127.0.0.1",
                "tokendata": { "ip": "127.0.0.1" },
            }),
            owner,
        }
    }
}

/// The bridge's record key: `lfk-` and 16 hex digits.
pub(super) fn is_record_key(tag: &str) -> bool {
    tag.strip_prefix("lfk-")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Microshare's checksum look: a hash in upper-case hex, `L`, the length of the data.
pub(super) fn checksum(data: &str) -> String {
    let digest = Sha256::digest(data.as_bytes());
    format!("{}L{}", hex::encode_upper(&digest[..16]), data.len())
}

/// The tags of a `/share/{recType}/tags/{tag1}/{tag2}...` path, each percent-decoded; `None`
/// when one is not valid percent-encoded UTF-8.
pub(super) fn path_tags(path: &str) -> Option<Vec<String>> {
    let (_, tags) = path.strip_prefix("/share/")?.split_once("/tags/")?;
    tags.split('/')
        .filter(|t| !t.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    fn hex_digit(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = hex_digit(bytes.next()?)?;
            let lo = hex_digit(bytes.next()?)?;
            out.push((hi << 4) | lo);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// [`iso_time`]'s format.
const ISO_MS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
/// [`us_time`]'s format.
const US_MS: &[BorrowedFormatItem<'_>] = format_description!(
    "[month]/[day]/[year] [hour repr:12]:[minute]:[second]:[subsecond digits:3] [period]"
);

/// Epoch milliseconds (the logical clock: [`SIM_EPOCH_MS`](super::SIM_EPOCH_MS) plus 1 ms per
/// stored share) written with `format`.
fn format_ms(ms: u64, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("the logical clock stays before the year 10000")
        .format(format)
        .expect("a UTC date-time has every component")
}

/// `2025-06-15T15:06:40.001Z`.
fn iso_time(ms: u64) -> String {
    format_ms(ms, ISO_MS)
}

/// The 2017 POST answer's `tstamp`: `06/15/2025 03:06:40:001 PM`.
pub(super) fn us_time(ms: u64) -> String {
    format_ms(ms, US_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SIM_EPOCH_MS;

    #[test]
    fn dates() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_750_889_007_101), "2025-06-25T22:03:27.101Z");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(us_time(1_495_501_715_141), "05/23/2017 01:08:35:141 AM");
        assert_eq!(us_time(SIM_EPOCH_MS + 1), "06/15/2025 03:06:40:001 PM");
    }

    #[test]
    fn tags_and_keys() {
        assert_eq!(
            path_tags("/share/a.b/tags/x%20y/c%2Fd//%E2%82%AC"),
            Some(vec!["x y".into(), "c/d".into(), "€".into()])
        );
        assert_eq!(path_tags("/share/a/tags/%4"), None);
        assert_eq!(path_tags("/share/a/tags/%+1"), None);
        assert_eq!(path_tags("/share/a/tags/%FF"), None);
        assert!(is_record_key("lfk-0123456789abcdef"));
        assert!(!is_record_key("lfk-0123456789abcde"));
        assert!(!is_record_key("lfk-0123456789abcdeg"));
    }
}

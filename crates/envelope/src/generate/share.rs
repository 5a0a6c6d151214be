//! The Microshare share around an uplink, in its 2017 (MongoDB extended JSON) and 2020+
//! encodings.

use super::DateEncoding;
use super::fleet::App;
use super::json::Json;

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
pub(super) struct Share<'r> {
    pub(super) encoding: DateEncoding,
    pub(super) app: &'r App,
    pub(super) id: [u8; 24],
    pub(super) create_ms: i64,
    pub(super) data: &'r [u8],
}

impl Share<'_> {
    pub(super) fn write(&self, j: &mut Json) {
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
    use serde_json::Value as J;

    use super::super::json::iso8601;
    use super::super::testing::{generate, lines, object_after, options};
    use super::super::{BASE_MS, GenOptions};
    use super::*;

    fn iso(ms: i64) -> String {
        let mut out = Vec::new();
        iso8601(&mut out, ms * 1_000_000, 3);
        String::from_utf8(out).unwrap()
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
}

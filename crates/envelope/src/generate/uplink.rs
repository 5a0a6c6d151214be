//! The uplink inside a share: The Things Stack v3 `ApplicationUp` or TTN v2 HTTP integration
//! message, with the radio metadata of the gateways that heard it.

use super::fleet::{App, Device, FREQUENCIES, Gateway};
use super::json::{Json, ulid_from};

/// One gateway's reception of an uplink.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Heard {
    pub(super) gateway: usize,
    pub(super) rssi: i64,
    /// Tenths of a dB.
    pub(super) snr: i64,
    /// When the gateway server had it, after the uplink ended (ns).
    pub(super) delay_ns: i64,
    pub(super) frequency_offset: Option<i64>,
}

/// What one record's uplink is made of.
#[derive(Debug)]
pub(super) struct Draw {
    pub(super) air_ns: i64,
    pub(super) frequency: usize,
    pub(super) heard: [Heard; 3],
    pub(super) n_heard: usize,
    pub(super) f_cnt: u32,
    pub(super) frame: [u8; 48],
    pub(super) len: usize,
    pub(super) ns_ns: i64,
    pub(super) as_ns: i64,
    pub(super) create_ms: i64,
}

/// Writes a TTS v3 `ApplicationUp` with an `uplink_message`.
pub(super) fn write_v3(
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
pub(super) fn write_v2(
    j: &mut Json,
    app: &App,
    device: &Device,
    draw: &Draw,
    decoded: Option<&[u8]>,
) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airtime_follows_semtech() {
        // An 8-byte frame at SF7, a 51-byte one at SF7 and a 12-byte one at SF12.
        assert_eq!(airtime_us(7, 21), 56_576);
        assert_eq!(airtime_us(7, 64), 118_016);
        assert_eq!(airtime_us(12, 25), 1_482_752);
    }
}

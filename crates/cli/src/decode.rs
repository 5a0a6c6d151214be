//! `lorafield decode`: one payload, or a stream of them, to JSON results.

use std::io::{self, BufRead, BufReader, Read, Write};

use lorafield::{JsonWriter, Meta, Selection, Uplink};

use crate::payload::{Encoding, parse_line};

/// Decodes payloads into JSON results, each with the codec the selection picks for its port.
pub struct Decoder {
    selection: Selection,
    f_port: u8,
    encoding: Encoding,
    json: JsonWriter,
}

/// What a stream run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// Lines read (= results written).
    pub lines: u64,
    /// Results with errors (unreadable lines included).
    pub with_errors: u64,
}

impl Decoder {
    /// A decoder choosing codecs with `selection`, using `f_port` where the input names none.
    ///
    /// A bare payload offers the selection only its port: rules on `f_port` apply, rules that
    /// name keys a payload has not (`application_id`, `dev_eui`, ...) do not match it.
    pub fn new(selection: Selection, f_port: u8, encoding: Encoding) -> Self {
        Decoder {
            selection,
            f_port,
            encoding,
            json: JsonWriter::new(),
        }
    }

    /// Appends the JSON result of decoding `payload` on `f_port` to `out`; returns whether it
    /// has errors.
    pub fn decode(&mut self, f_port: u8, payload: &[u8], out: &mut Vec<u8>) -> bool {
        self.decode_at(f_port, payload, None, out)
    }

    /// [`Decoder::decode`] for an uplink received at `recv_ms` (milliseconds since the Unix
    /// epoch), which scripts see as `recvTime`.
    pub fn decode_at(
        &mut self,
        f_port: u8,
        payload: &[u8],
        recv_ms: Option<i64>,
        out: &mut Vec<u8>,
    ) -> bool {
        let meta = Meta {
            f_port: Some(f_port),
            ..Meta::default()
        };
        let choice = self.selection.select(&meta);
        let mut uplink = Uplink::new(f_port, payload);
        if let Some(ms) = recv_ms {
            uplink = uplink.received_at(ms);
        }
        lorafield::decode_uplink_json(choice.codec(), uplink, &mut self.json, out).has_errors
    }

    /// Decodes one payload per input line (see [`parse_line`]) and writes one result per line,
    /// in order. A line that is not a payload gets a result with an `invalid_input` error naming
    /// the line, and the run goes on. Output is flushed before waiting for more input, so
    /// results appear as their lines arrive without a write per line on batch input.
    pub fn decode_stream<R: Read, W: Write>(
        &mut self,
        input: R,
        mut output: W,
    ) -> io::Result<StreamStats> {
        let mut input = BufReader::with_capacity(64 * 1024, input);
        let mut stats = StreamStats::default();
        let mut line = Vec::new();
        let mut out = Vec::with_capacity(256);
        loop {
            line.clear();
            if !input.buffer().contains(&b'\n') {
                // The next read may block: let what is done be seen first.
                output.flush()?;
            }
            if input.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            stats.lines += 1;
            out.clear();
            let errors = match parse_line(&line, self.encoding) {
                Ok(item) => {
                    let f_port = item.f_port.unwrap_or(self.f_port);
                    self.decode_at(f_port, &item.payload, item.recv_ms, &mut out)
                }
                Err(e) => {
                    let n = stats.lines;
                    let message = serde_json::to_string(&format!("line {n}: {e}"))
                        .unwrap_or_else(|_| "\"line {n}: unreadable\"".into());
                    write!(
                        out,
                        r#"{{"errors":[{{"kind":"invalid_input","line":{n},"message":{message}}}]}}"#
                    )?;
                    true
                }
            };
            stats.with_errors += u64::from(errors);
            out.push(b'\n');
            output.write_all(&out)?;
        }
        output.flush()?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lorafield::{Choice, Options, Registry};

    fn decoder(profile: &str) -> Decoder {
        let choice = Choice::build(
            &Registry::builtin(),
            "cayenne-lpp",
            &Options::default().profile(profile),
        )
        .unwrap();
        Decoder::new(Selection::single(choice), 1, Encoding::Auto)
    }

    #[test]
    fn each_payload_s_port_picks_its_rule() {
        let registry = Registry::builtin();
        let toml = r#"
            [default]
            profile = "tts"

            [[rule]]
            f_port = 85
            codec = "milesight"
            model = "am308"

            [[rule]]
            application_id = "*"    # a bare payload has none: never matches
            codec = "elsys"
        "#;
        let selection = Selection::from_toml(toml, &registry).unwrap();
        let mut d = Decoder::new(selection, 1, Encoding::Auto);
        let input = "{\"fPort\":85,\"bytes\":\"01755c\"}\n0367011005\n{\"fPort\":2,\"bytes\":\"03670110\"}\n";
        let mut out = Vec::new();
        let stats = d.decode_stream(input.as_bytes(), &mut out).unwrap();
        assert_eq!(stats.lines, 3);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"data":{"battery":92}}"#);
        // The default, Cayenne LPP under tts: the data is dropped on error.
        assert!(
            lines[1].starts_with(r#"{"errors":[{"kind":"unexpected_eof""#),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], r#"{"data":{"temperature_3":27.2}}"#);
        let mut out = Vec::new();
        assert!(!d.decode(85, &[0x01, 0x75, 0x5c], &mut out));
        assert_eq!(out, br#"{"data":{"battery":92}}"#);
    }

    #[test]
    fn every_line_gets_a_result_in_order() {
        let input = "0367011005\n\nA2cA+AQChfw=\nzz!\n{\"fPort\":3,\"bytes\":[3,103,0,248]}\n{\"fPort\":0,\"bytes\":\"\"}\n0167";
        let mut out = Vec::new();
        let stats = decoder("extended")
            .decode_stream(input.as_bytes(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            stats,
            StreamStats {
                lines: 7,
                with_errors: 4
            }
        );
        assert_eq!(lines.len(), 7);
        assert!(
            lines[0].starts_with(
                r#"{"data":{"temperature_3":27.2},"errors":[{"kind":"unexpected_eof""#
            ),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], r#"{"data":{}}"#);
        assert_eq!(
            lines[2],
            r#"{"data":{"analog_in_4":-312.36,"temperature_3":24.8}}"#
        );
        assert!(
            lines[3]
                .starts_with(r#"{"errors":[{"kind":"invalid_input","line":4,"message":"line 4: "#),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], r#"{"data":{"temperature_3":24.8}}"#);
        assert!(lines[5].contains("port_zero"));
        assert!(lines[6].contains("unexpected_eof"));
    }
}

//! UC controllers: UC100, UC11xx, UC300, UC50x, UC51x.
//!
//! Models of this family: uc100, uc1114, uc1122, uc1152, uc300, uc50x, uc51x.
//!
//! Their decoders read every `readUInt32LE` with `& 0xffffffff` and no `>>> 0` (counters from
//! 2^31 come out negative: [`U32Js`]), and most have no `else { break; }`: where they would
//! skip an unknown pair and go on, this codec stops there with a warning, as for every model.

use lorafield_core::{Container, ErrorKind, Field, Sink, Value};

use super::common::{BATTERY, NO_ELSE};
use crate::Model;
use crate::engine::Int::{F32, I16, U8, U16, U32Js};
use crate::engine::{
    Custom, Div, Id, Item, ONE, Read, Rule, Table, Version, field, parse, read_items, rule, u8,
};

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[&UC100, &UC1114, &UC1122, &UC1152, &UC300, &UC50X, &UC51X];

/// A rule for channel `c` whatever the type (`channel_id === c` alone).
const fn any_type(c: u8, items: &'static [Item]) -> Rule {
    Rule {
        channel: Id::Is(c),
        ty: Id::Any,
        read: Read::Items(items),
    }
}

/// A rule for channel `c` and any type but `t` (`channel_type !== t`).
const fn not_type(c: u8, t: u8, items: &'static [Item]) -> Rule {
    Rule {
        channel: Id::Is(c),
        ty: Id::Not(t),
        read: Read::Items(items),
    }
}

/// A rule a routine reads.
const fn custom(c: u8, t: u8, f: Custom) -> Rule {
    Rule {
        channel: Id::Is(c),
        ty: Id::Is(t),
        read: Read::Custom(f),
    }
}

/// `b === 0 ? "off" : "on"` (and `b ? "on" : "off"`).
const fn on_off(name: &'static str) -> Item {
    Item::Enum(name, U8, &[(0, "off")], "on")
}

/// `ff 0b`: the device powered on; the decoder advances past a byte it does not read.
const POWER_ON: Rule = rule(
    0xff,
    0x0b,
    &[Item::Const("power", Value::Str("on")), Item::Skip(1)],
);

/// A Modbus reading by its data type (0 to 11, the UC100's `switch`; the other decoders take
/// the type from the low three bits of a byte, so only 0 to 7): how it reads.
static READINGS: [Item; 12] = [
    on_off("reading"),
    Item::Num("reading", U8, ONE),
    Item::Num("reading", U16, ONE),
    Item::Num("reading", U16, ONE),
    Item::Num("reading", U32Js, ONE),
    Item::Num("reading", F32, ONE),
    Item::Num("reading", U32Js, ONE),
    Item::Num("reading", F32, ONE),
    Item::Num("reading", U32Js, ONE),
    Item::Num("reading", U32Js, ONE),
    Item::Num("reading", U32Js, ONE),
    Item::Num("reading", U32Js, ONE),
];

/// A sink passing fields on under one name: a key the payload computes (`"chn" + n`).
struct Named<'s, 'a> {
    sink: &'s mut dyn Sink<'a>,
    name: &'static str,
}

impl<'a> Sink<'a> for Named<'_, 'a> {
    fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
        self.sink.field(Field {
            name: self.name,
            ..field
        })
    }
}

/// `["<pre>1<post>", .., "<pre>256<post>"]`: the keys a byte plus one numbers.
macro_rules! numbered {
    ($pre:literal, $post:literal) => {
        numbered!(@ $pre, $post;
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
            33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61
            62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90
            91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114
            115 116 117 118 119 120 121 122 123 124 125 126 127 128 129 130 131 132 133 134 135 136
            137 138 139 140 141 142 143 144 145 146 147 148 149 150 151 152 153 154 155 156 157 158
            159 160 161 162 163 164 165 166 167 168 169 170 171 172 173 174 175 176 177 178 179 180
            181 182 183 184 185 186 187 188 189 190 191 192 193 194 195 196 197 198 199 200 201 202
            203 204 205 206 207 208 209 210 211 212 213 214 215 216 217 218 219 220 221 222 223 224
            225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246
            247 248 249 250 251 252 253 254 255 256)
    };
    (@ $pre:literal, $post:literal; $($n:literal)*) => {
        [$(concat!($pre, $n, $post)),*]
    };
}

/// The UC100's reading keys, `chn<channel byte + 1>`.
static CHN: [&str; 256] = numbered!("chn", "");
/// The UC100's Modbus error keys, `channel_<channel byte + 1>_error`.
static CHANNEL_ERROR: [&str; 256] = numbered!("channel_", "_error");

/// `ff 19` on the UC100: `[channel][length][data type][value]`, the reading under the key
/// `chn<channel + 1>` at the top level. The length byte is not used; a data type the decoder
/// does not know (12 and up) sets nothing, and the value is not read past.
///
/// The reading is read with `read_items` under the computed key, not parsed with `field` (an
/// item chosen at run time: 21% more instructions, see `engine::parse`).
fn uc100_reading<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let ((chn, _length, ty), n) = parse(value, (u8, u8, u8))?;
    let Some(reading) = READINGS.get(usize::from(ty)) else {
        return Ok(n);
    };
    let name = CHN.get(usize::from(chn)).ok_or(ErrorKind::OutOfRange)?;
    let rest = value.get(n..).unwrap_or_default();
    Ok(n + read_items(
        core::slice::from_ref(reading),
        rest,
        &mut Named { sink, name },
    )?)
}

/// `ff 15` on the UC100: a Modbus read error, `channel_<channel + 1>_error: true`.
fn uc100_error<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let (chn, n) = parse(value, u8)?;
    let name = CHANNEL_ERROR
        .get(usize::from(chn))
        .ok_or(ErrorKind::OutOfRange)?;
    sink.field(Field::new(name, None, Value::Bool(true)))?;
    Ok(n)
}

/// A Modbus pair of the UC300, UC1152 and UC50x: `[channel][package: length << 3 | data
/// type][value]`, written as `name: [{"index": channel + offset, "reading": ..}]`, an array the
/// pair builds afresh (a later pair replaces it). All eight data types have a reading.
fn modbus<'a>(
    value: &'a [u8],
    sink: &mut dyn Sink<'a>,
    name: &'static str,
    offset: i64,
) -> Result<usize, ErrorKind> {
    let ((chn, package), n) = parse(value, (u8, u8))?;
    let reading = READINGS
        .get(usize::from(package & 7))
        .ok_or(ErrorKind::OutOfRange)?;
    let (reading, m) = parse(value.get(n..).unwrap_or_default(), field(*reading))?;
    let index = Value::I64(i64::from(chn) + offset);
    sink.open(name, None, Container::Array)?;
    // `index` then `reading`: in key order, the sink's fast case.
    sink.object("", None, &[Field::new("index", None, index), reading])?;
    sink.close()?;
    Ok(n + m)
}

/// `ff 19` on the UC300: `modbus_channels`, index = channel byte + 1.
fn uc300_modbus<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    modbus(value, sink, "modbus_channels", 1)
}

/// `ff 0e` on the UC1152: `channels`, index = channel byte - 0x18.
fn uc1152_modbus<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    modbus(value, sink, "channels", -0x18)
}

/// `ff 0e` on the UC50x: `modbus_channels`, index = channel byte - 6.
fn uc50x_modbus<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    modbus(value, sink, "modbus_channels", -6)
}

/// UC100 Modbus controller: power-on, versions, serial number, Modbus readings as `chn<n>`
/// and read errors as `channel_<n>_error`.
pub(crate) static UC100: Model = Model {
    id: "uc100",
    aliases: &[],
    table: Table::new(&[
        POWER_ON,
        rule(
            0xff,
            0x01,
            &[Item::Version("ipso_version", Version::Nibbles)],
        ),
        rule(0xff, 0x16, &[Item::Hex("sn", 8)]),
        rule(
            0xff,
            0x09,
            &[Item::Version("hardware_version", Version::MajorHighNibble)],
        ),
        rule(
            0xff,
            0x0a,
            &[Item::Version("software_version", Version::MajorMinor)],
        ),
        custom(0xff, 0x19, uc100_reading),
        custom(0xff, 0x15, uc100_error),
    ]),
};

/// UC1114 remote I/O controller: two digital inputs, two digital outputs. The decoder also
/// tests `01 c8` and `02 c8` for pulse counters, after `01 !00` and `02 !00` which already
/// match them: those tests can never match and are left out.
pub(crate) static UC1114: Model = Model {
    id: "uc1114",
    aliases: &[],
    table: Table::new(&[
        not_type(0x01, 0x00, &[on_off("digital_input_1")]),
        not_type(0x02, 0x00, &[on_off("digital_input_2")]),
        any_type(0x09, &[on_off("digital_output_1")]),
        any_type(0x0a, &[on_off("digital_output_2")]),
        NO_ELSE,
    ]),
};

/// The UC1122's analog input: an object of four int16 / 100.
macro_rules! analog_object {
    ($name:literal) => {
        Item::Object(
            $name,
            &[
                Item::Num("cur", I16, Div(100)),
                Item::Num("min", I16, Div(100)),
                Item::Num("max", I16, Div(100)),
                Item::Num("avg", I16, Div(100)),
            ],
        )
    };
}

/// UC1122 remote I/O controller: a digital input and output, two analog inputs as objects
/// `{cur, min, max, avg}`.
pub(crate) static UC1122: Model = Model {
    id: "uc1122",
    aliases: &[],
    table: Table::new(&[
        not_type(0x01, 0xc8, &[on_off("digital_input")]),
        any_type(0x09, &[on_off("digital_output")]),
        any_type(0x11, &[analog_object!("analog_input_1")]),
        any_type(0x12, &[analog_object!("analog_input_2")]),
        NO_ELSE,
    ]),
};

/// UC1152 remote I/O controller: a digital input and output, Modbus readings as `channels`.
pub(crate) static UC1152: Model = Model {
    id: "uc1152",
    aliases: &[],
    table: Table::new(&[
        not_type(0x01, 0xc8, &[on_off("digital_input")]),
        any_type(0x09, &[on_off("digital_output")]),
        custom(0xff, 0x0e, uc1152_modbus),
        NO_ELSE,
    ]),
};

/// The UC300's analog inputs (`0b 02` to `0e 02`): the decoder reads a two-byte slice with its
/// four-byte reader (the missing bytes count as 0, so a uint16), divides by 100, and advances
/// four bytes.
macro_rules! uc300_analog {
    ($c:literal, $name:literal) => {
        rule($c, 0x02, &[Item::Num($name, U16, Div(100)), Item::Skip(2)])
    };
}

/// UC300 I/O controller: four digital inputs (or pulse counters), two digital outputs, two
/// PT100 inputs, four analog inputs, Modbus readings as `modbus_channels`.
pub(crate) static UC300: Model = Model {
    id: "uc300",
    aliases: &[],
    table: Table::new(&[
        rule(0x03, 0x00, &[on_off("digital_input_1")]),
        rule(0x04, 0x00, &[on_off("digital_input_2")]),
        rule(0x05, 0x00, &[on_off("digital_input_3")]),
        rule(0x06, 0x00, &[on_off("digital_input_4")]),
        rule(0x07, 0x01, &[on_off("digital_output_1")]),
        rule(0x08, 0x01, &[on_off("digital_output_2")]),
        rule(0x03, 0xc8, &[Item::Num("pulse_count_1", U32Js, ONE)]),
        rule(0x04, 0xc8, &[Item::Num("pulse_count_2", U32Js, ONE)]),
        rule(0x05, 0xc8, &[Item::Num("pulse_count_3", U32Js, ONE)]),
        rule(0x06, 0xc8, &[Item::Num("pulse_count_4", U32Js, ONE)]),
        rule(0x09, 0x67, &[Item::Num("pt100_1", I16, Div(10))]),
        rule(0x0a, 0x67, &[Item::Num("pt100_2", I16, Div(10))]),
        uc300_analog!(0x0b, "analog_input_adc_1"),
        uc300_analog!(0x0c, "analog_input_adc_2"),
        uc300_analog!(0x0d, "analog_input_adv_1"),
        uc300_analog!(0x0e, "analog_input_adv_2"),
        custom(0xff, 0x19, uc300_modbus),
        NO_ELSE,
    ]),
};

/// The UC50x's analog input: an empty object under its name, and the four int16 / 100 values
/// beside it as `<name>_cur` .. `<name>_avg` (as the decoder writes them).
macro_rules! uc50x_analog {
    ($c:literal, $name:literal) => {
        any_type(
            $c,
            &[
                Item::Object($name, &[]),
                Item::Num(concat!($name, "_cur"), I16, Div(100)),
                Item::Num(concat!($name, "_min"), I16, Div(100)),
                Item::Num(concat!($name, "_max"), I16, Div(100)),
                Item::Num(concat!($name, "_avg"), I16, Div(100)),
            ],
        )
    };
}

/// UC50x multi-interface controller: battery, two GPIOs (or pulse counters), two analog
/// inputs, Modbus readings as `modbus_channels`.
pub(crate) static UC50X: Model = Model {
    id: "uc50x",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        not_type(0x03, 0xc8, &[on_off("gpio_1")]),
        not_type(0x04, 0xc8, &[on_off("gpio_2")]),
        rule(0x03, 0xc8, &[Item::Num("pulse_count_1", U32Js, ONE)]),
        rule(0x04, 0xc8, &[Item::Num("pulse_count_2", U32Js, ONE)]),
        uc50x_analog!(0x05, "analog_input_1"),
        uc50x_analog!(0x06, "analog_input_2"),
        custom(0xff, 0x0e, uc50x_modbus),
        NO_ELSE,
    ]),
};

/// UC51x solenoid valve controller: battery, two valves and their pulse counters.
pub(crate) static UC51X: Model = Model {
    id: "uc51x",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x01, &[on_off("valve_1")]),
        rule(0x05, 0x01, &[on_off("valve_2")]),
        rule(0x04, 0xc8, &[Item::Num("valve_1_pulse", U32Js, ONE)]),
        rule(0x06, 0xc8, &[Item::Num("valve_2_pulse", U32Js, ONE)]),
    ]),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_keys_run_from_one_to_256() {
        assert_eq!((CHN[0], CHN[7], CHN[255]), ("chn1", "chn8", "chn256"));
        assert_eq!(CHANNEL_ERROR[0], "channel_1_error");
        assert_eq!(CHANNEL_ERROR[255], "channel_256_error");
    }
}

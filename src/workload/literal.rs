//! Values as CQL literals, for `statement = literal`: the node parses each value out of the text
//! of the statement, as it does for the python benchmarks' inlined writes.

use std::fmt::Write;

use scylla::value::CqlValue;

/// Appends `value` as a CQL literal.
pub fn write(out: &mut String, value: &CqlValue) {
    match value {
        CqlValue::Ascii(s) | CqlValue::Text(s) => {
            out.push('\'');
            for c in s.chars() {
                if c == '\'' {
                    out.push('\'');
                }
                out.push(c);
            }
            out.push('\'');
        }
        CqlValue::Blob(bytes) => {
            out.push_str("0x");
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
        }
        CqlValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        CqlValue::Counter(c) => push(out, c.0),
        CqlValue::TinyInt(v) => push(out, v),
        CqlValue::SmallInt(v) => push(out, v),
        CqlValue::Int(v) => push(out, v),
        CqlValue::BigInt(v) => push(out, v),
        // Rust prints the shortest text that reads back as the same number, as Java does.
        CqlValue::Float(v) => float(out, f64::from(*v), v.to_string()),
        CqlValue::Double(v) => float(out, *v, v.to_string()),
        CqlValue::Timestamp(t) => push(out, t.0),
        // Days with the epoch at 2^31, and nanoseconds of the day: CQL reads both as integers.
        CqlValue::Date(d) => push(out, d.0),
        CqlValue::Time(t) => push(out, t.0),
        CqlValue::Duration(d) => {
            let negative = d.months < 0 || d.days < 0 || d.nanoseconds < 0;
            if negative {
                out.push('-');
            }
            let _ = write!(
                out,
                "{}mo{}d{}ns",
                d.months.unsigned_abs(),
                d.days.unsigned_abs(),
                d.nanoseconds.unsigned_abs()
            );
        }
        CqlValue::Varint(v) => push(out, signed(v.as_signed_bytes_be_slice())),
        CqlValue::Decimal(d) => {
            let (digits, scale) = d.as_signed_be_bytes_slice_and_exponent();
            let unscaled = signed(digits);
            let _ = write!(out, "{unscaled}E{}", -scale);
        }
        CqlValue::Uuid(u) => push(out, u),
        CqlValue::Timeuuid(u) => push(out, u),
        CqlValue::Inet(ip) => {
            let _ = write!(out, "'{ip}'");
        }
        CqlValue::List(items) | CqlValue::Vector(items) => sequence(out, '[', ']', items.iter()),
        CqlValue::Set(items) => sequence(out, '{', '}', items.iter()),
        CqlValue::Map(pairs) => {
            out.push('{');
            for (n, (k, v)) in pairs.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write(out, k);
                out.push_str(": ");
                write(out, v);
            }
            out.push('}');
        }
        CqlValue::Tuple(items) => {
            out.push('(');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                match item {
                    Some(item) => write(out, item),
                    None => out.push_str("null"),
                }
            }
            out.push(')');
        }
        CqlValue::UserDefinedType { fields, .. } => {
            out.push('{');
            for (n, (name, value)) in fields.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                out.push_str(": ");
                match value {
                    Some(value) => write(out, value),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
        CqlValue::Empty => out.push_str("''"),
        _ => out.push_str("null"),
    }
}

fn push(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

fn float(out: &mut String, value: f64, text: String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else if text.contains(['.', 'e', 'E']) {
        out.push_str(&text);
    } else {
        // `3` would be read as an integer, which a float column refuses.
        out.push_str(&text);
        out.push_str(".0");
    }
}

fn sequence<'a>(
    out: &mut String,
    open: char,
    close: char,
    items: impl Iterator<Item = &'a CqlValue>,
) {
    out.push(open);
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        write(out, item);
    }
    out.push(close);
}

/// Big-endian two's-complement bytes (at most 16) as a number.
fn signed(bytes: &[u8]) -> i128 {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut value: i128 = if negative { -1 } else { 0 };
    for b in bytes.iter().take(16) {
        value = (value << 8) | i128::from(*b);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::value::{CqlDecimal, CqlDuration, CqlVarint};

    fn literal(value: CqlValue) -> String {
        let mut out = String::new();
        write(&mut out, &value);
        out
    }

    #[test]
    fn values_print_as_cql_reads_them() {
        assert_eq!(literal(CqlValue::Text("it's".into())), "'it''s'");
        assert_eq!(literal(CqlValue::Blob(vec![0, 0xab])), "0x00ab");
        assert_eq!(literal(CqlValue::Float(3.0)), "3.0");
        assert_eq!(literal(CqlValue::Double(0.1)), "0.1");
        assert_eq!(
            literal(CqlValue::Varint(CqlVarint::from_signed_bytes_be(vec![
                0xff, 0x00
            ]))),
            "-256"
        );
        assert_eq!(
            literal(CqlValue::Decimal(
                CqlDecimal::from_signed_be_bytes_and_exponent(vec![0x30, 0x39], 2)
            )),
            "12345E-2"
        );
        assert_eq!(
            literal(CqlValue::Duration(CqlDuration {
                months: 1,
                days: 2,
                nanoseconds: 3
            })),
            "1mo2d3ns"
        );
        assert_eq!(
            literal(CqlValue::Map(vec![(
                CqlValue::Int(1),
                CqlValue::List(vec![CqlValue::Boolean(true)])
            )])),
            "{1: [true]}"
        );
        assert_eq!(
            literal(CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None])),
            "(1, null)"
        );
    }
}

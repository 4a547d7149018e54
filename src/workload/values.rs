//! The values of a row's columns as pure functions of numbers: every CQL type the node has, made
//! from a column's population draw so the same number always makes the same value, and folded
//! back into a hash (the seed of the rows under a key, a set's identity).

use std::net::{IpAddr, Ipv4Addr};

use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::value::{
    Counter, CqlDate, CqlDecimal, CqlDuration, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue,
    CqlVarint,
};

use super::dist::{Dist, mix};

const YEAR_MS: i64 = 365 * 86_400_000;

/// What a column's profile says of the size of its values: the length of text and blobs (and
/// the elements of a collection), and the characters text is made of.
#[derive(Clone, Copy)]
pub(super) struct Shape<'a> {
    pub size: &'a Dist,
    pub alphabet: &'a [char],
}

/// Numbers of a value column when the profile gives none: cassandra-stress's
/// `uniform(1..100B)`, and one increment per write for a counter.
pub(super) fn default_population(typ: &ColumnType) -> Dist {
    match typ {
        ColumnType::Native(NativeType::Counter) => Dist::fixed(1),
        _ => Dist::uniform(1, 100_000_000_000),
    }
}

/// The value of type `typ` made from `number` (its population's draw) and `draw` (the bits that
/// pick lengths and elements); a key's value is one-to-one with its number.
pub(super) fn make(
    typ: &ColumnType,
    shape: Shape,
    number: i64,
    draw: u64,
    key: bool,
    around_ms: i64,
) -> CqlValue {
    let n = number;
    let u = number as u64;
    match typ {
        ColumnType::Native(native) => match native {
            NativeType::Ascii => CqlValue::Ascii(text(shape, true, n, draw, key)),
            NativeType::Text => CqlValue::Text(text(shape, false, n, draw, key)),
            NativeType::Boolean => CqlValue::Boolean(u & 1 == 1),
            NativeType::Blob => {
                let len = shape.size.sample(mix(draw ^ 1)).max(0) as usize;
                let mut bytes = Vec::with_capacity(len.max(8));
                if key {
                    bytes.extend_from_slice(&u.to_be_bytes());
                }
                let mut state = mix(u);
                while bytes.len() < len {
                    state = mix(state);
                    let take = (len - bytes.len()).min(8);
                    bytes.extend_from_slice(&state.to_le_bytes()[..take]);
                }
                CqlValue::Blob(bytes)
            }
            NativeType::Counter => CqlValue::Counter(Counter(n)),
            NativeType::TinyInt => CqlValue::TinyInt(n as i8),
            NativeType::SmallInt => CqlValue::SmallInt(n as i16),
            NativeType::Int => CqlValue::Int(n as i32),
            NativeType::BigInt => CqlValue::BigInt(n),
            NativeType::Varint => CqlValue::Varint(CqlVarint::from_signed_bytes_be(minimal_be(n))),
            NativeType::Decimal => CqlValue::Decimal(
                CqlDecimal::from_signed_be_bytes_and_exponent(minimal_be(n), 2),
            ),
            // Exact in both types and in their shortest printed form, so a literal reads back
            // as the same number.
            NativeType::Float => CqlValue::Float((n % 10_000_000) as f32 / 64.0),
            NativeType::Double => CqlValue::Double((n % (1 << 50)) as f64 / 1024.0),
            NativeType::Timestamp => {
                CqlValue::Timestamp(CqlTimestamp(around_ms + offset(n, 2 * YEAR_MS)))
            }
            NativeType::Date => {
                let day = around_ms.div_euclid(86_400_000) + offset(n, 730);
                CqlValue::Date(CqlDate(((1i64 << 31) + day) as u32))
            }
            NativeType::Time => CqlValue::Time(CqlTime(n.rem_euclid(86_400_000_000_000))),
            NativeType::Duration => CqlValue::Duration(CqlDuration {
                months: u.rem_euclid(24) as i32,
                days: (u / 24).rem_euclid(31) as i32,
                nanoseconds: (mix(u) % 86_400_000_000_000) as i64,
            }),
            NativeType::Inet => CqlValue::Inet(IpAddr::V4(Ipv4Addr::from(if key {
                u as u32
            } else {
                mix(u) as u32
            }))),
            NativeType::Uuid => {
                // Version 4, variant 1; the high half is one-to-one with the number.
                let high = (mix(u) & !0xf000) | 0x4000;
                let low = (mix(u ^ 0x0123_4567) & !(0b11 << 62)) | (0b10 << 62);
                CqlValue::Uuid(uuid::Uuid::from_u64_pair(high, low))
            }
            NativeType::Timeuuid => {
                // Version 1: a time in 100 ns steps since 1582-10-15, around the profile's instant.
                const GREGORIAN_TO_UNIX: i64 = 122_192_928_000_000_000;
                let ticks = (GREGORIAN_TO_UNIX
                    + around_ms * 10_000
                    + offset(n, 2 * YEAR_MS * 10_000)) as u64;
                let time_low = ticks & 0xffff_ffff;
                let time_mid = (ticks >> 32) & 0xffff;
                let time_hi = ((ticks >> 48) & 0x0fff) | 0x1000;
                let high = (time_low << 32) | (time_mid << 16) | time_hi;
                let low = (mix(u) & !(0b11 << 62)) | (0b10 << 62);
                CqlValue::Timeuuid(CqlTimeuuid::from_u128(((high as u128) << 64) | low as u128))
            }
            _ => CqlValue::Blob(vec![]),
        },
        ColumnType::Collection { typ, .. } => {
            let count = shape.size.sample(mix(draw ^ 2)).max(1) as u64;
            let element = |i: u64, typ: &ColumnType| {
                let draw = mix(draw ^ mix(i + 3));
                part(typ, shape, draw, around_ms)
            };
            match typ {
                CollectionType::List(inner) => {
                    CqlValue::List((0..count).map(|i| element(i, inner)).collect())
                }
                CollectionType::Set(inner) => {
                    CqlValue::Set(distinct((0..count).map(|i| element(i, inner)).collect()))
                }
                CollectionType::Map(k, v) => {
                    let mut seen = std::collections::HashSet::new();
                    let pairs = (0..count)
                        .map(|i| (element(i, k), element(i + count, v)))
                        .filter(|(key, _)| seen.insert(fold(0, key)))
                        .collect();
                    CqlValue::Map(pairs)
                }
                _ => CqlValue::Blob(vec![]),
            }
        }
        ColumnType::Vector { typ, dimensions } => CqlValue::Vector(
            (0..u64::from(*dimensions))
                .map(|i| {
                    let draw = mix(draw ^ mix(i + 5));
                    match typ.as_ref() {
                        // Embeddings: each element in [-1, 1), exact in f32.
                        ColumnType::Native(NativeType::Float) => {
                            CqlValue::Float(((draw >> 40) as f32 / (1u32 << 23) as f32) - 1.0)
                        }
                        inner => part(inner, shape, draw, around_ms),
                    }
                })
                .collect(),
        ),
        ColumnType::Tuple(types) => CqlValue::Tuple(
            types
                .iter()
                .enumerate()
                .map(|(i, typ)| {
                    let draw = mix(draw ^ mix(i as u64 + 7));
                    Some(part(typ, shape, draw, around_ms))
                })
                .collect(),
        ),
        ColumnType::UserDefinedType { definition, .. } => CqlValue::UserDefinedType {
            keyspace: definition.keyspace.to_string(),
            name: definition.name.to_string(),
            fields: definition
                .field_types
                .iter()
                .enumerate()
                .map(|(i, (name, typ))| {
                    let draw = mix(draw ^ mix(i as u64 + 11));
                    let value = part(typ, shape, draw, around_ms);
                    (name.to_string(), Some(value))
                })
                .collect(),
        },
        _ => CqlValue::Blob(vec![]),
    }
}

/// A part of a composite value (a collection's element, a vector's, a tuple's or a UDT's
/// field): never a key, its number drawn from its type's default population.
fn part(typ: &ColumnType, shape: Shape, draw: u64, around_ms: i64) -> CqlValue {
    make(
        typ,
        shape,
        default_population(typ).sample(draw),
        draw,
        false,
        around_ms,
    )
}

/// Text of the column's size from its alphabet (ASCII only when `ascii`), the characters drawn
/// from `number` (so the population decides how many distinct texts there are). A key's text
/// starts with its number in 13 fixed base-36 digits, one-to-one with it.
fn text(shape: Shape, ascii: bool, number: i64, draw: u64, key: bool) -> String {
    let len = shape.size.sample(mix(draw ^ 3)).max(0) as usize;
    let mut out = String::with_capacity(len.max(13));
    if key {
        let mut digits = [b'0'; 13];
        let mut rest = number as u64;
        for digit in digits.iter_mut().rev() {
            *digit = b"0123456789abcdefghijklmnopqrstuvwxyz"[(rest % 36) as usize];
            rest /= 36;
        }
        out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }
    let mut state = mix(number as u64);
    let alphabet = shape.alphabet;
    // Four characters from each 64-bit draw (16 bits each; an alphabet is short).
    let mut count = out.len();
    while count < len {
        state = mix(state);
        let mut bits = state;
        for _ in 0..(len - count).min(4) {
            let c = alphabet[((bits & 0xffff) % alphabet.len() as u64) as usize];
            out.push(if ascii && !c.is_ascii() { 'x' } else { c });
            bits >>= 16;
            count += 1;
        }
    }
    out
}

/// `number` folded into `-span/2 .. span/2`.
fn offset(number: i64, span: i64) -> i64 {
    number.rem_euclid(span) - span / 2
}

/// The shortest two's-complement big-endian bytes of `n` (how the node stores a varint).
fn minimal_be(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// The values without repeats (a set's elements), first kept.
fn distinct(values: Vec<CqlValue>) -> Vec<CqlValue> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(fold(0, v)))
        .collect()
}

/// A value's contents folded into a hash: the seed of the rows under a key.
pub fn fold(hash: u64, value: &CqlValue) -> u64 {
    let bytes = |hash: u64, bytes: &[u8]| mix(hash ^ fnv(bytes) ^ bytes.len() as u64);
    let word = |hash: u64, v: u64| mix(hash ^ v);
    match value {
        CqlValue::Ascii(s) | CqlValue::Text(s) => bytes(hash, s.as_bytes()),
        CqlValue::Blob(b) => bytes(hash, b),
        CqlValue::Boolean(b) => word(hash, u64::from(*b)),
        CqlValue::Counter(c) => word(hash, c.0 as u64),
        CqlValue::TinyInt(v) => word(hash, *v as u64),
        CqlValue::SmallInt(v) => word(hash, *v as u64),
        CqlValue::Int(v) => word(hash, *v as u64),
        CqlValue::BigInt(v) => word(hash, *v as u64),
        CqlValue::Float(v) => word(hash, u64::from(v.to_bits())),
        CqlValue::Double(v) => word(hash, v.to_bits()),
        CqlValue::Timestamp(t) => word(hash, t.0 as u64),
        CqlValue::Date(d) => word(hash, u64::from(d.0)),
        CqlValue::Time(t) => word(hash, t.0 as u64),
        CqlValue::Duration(d) => word(
            word(word(hash, d.months as u64), d.days as u64),
            d.nanoseconds as u64,
        ),
        CqlValue::Varint(v) => bytes(hash, v.as_signed_bytes_be_slice()),
        CqlValue::Decimal(d) => {
            let (digits, scale) = d.as_signed_be_bytes_slice_and_exponent();
            bytes(word(hash, scale as u64), digits)
        }
        CqlValue::Uuid(u) => bytes(hash, u.as_bytes()),
        CqlValue::Timeuuid(u) => bytes(hash, u.as_bytes()),
        CqlValue::Inet(ip) => bytes(hash, ip.to_string().as_bytes()),
        CqlValue::List(items) | CqlValue::Set(items) | CqlValue::Vector(items) => {
            items.iter().fold(word(hash, items.len() as u64), fold)
        }
        CqlValue::Map(pairs) => pairs
            .iter()
            .fold(word(hash, pairs.len() as u64), |h, (k, v)| {
                fold(fold(h, k), v)
            }),
        CqlValue::Tuple(items) => items
            .iter()
            .fold(word(hash, items.len() as u64), |h, item| match item {
                Some(item) => fold(h, item),
                None => word(h, 0x6e75_6c6c),
            }),
        CqlValue::UserDefinedType { fields, .. } => fields.iter().fold(hash, |h, (name, v)| {
            let h = bytes(h, name.as_bytes());
            match v {
                Some(v) => fold(h, v),
                None => word(h, 0x6e75_6c6c),
            }
        }),
        CqlValue::Empty => word(hash, 0xe),
        _ => word(hash, 0xf),
    }
}

pub(super) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

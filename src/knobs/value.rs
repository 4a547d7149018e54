//! A knob's value, the ranges a value must lie in, and how each type of value is read from text
//! (flags, `:` commands, environment) or from a config/JSON scalar.

use std::fmt;
use std::time::Duration;

use super::choices::{
    BatchSpread, BatchType, Consistency, Retry, Routing, Runtime, Statement, Strategy,
};
use super::mix::Mix;
use super::shard::Shard;

/// Any knob's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Count(i64),
    Rate(f64),
    Duration(Duration),
    Flag(bool),
    Strategy(Strategy),
    Runtime(Runtime),
    Consistency(Consistency),
    Retry(Retry),
    Routing(Routing),
    Statement(Statement),
    BatchType(BatchType),
    BatchSpread(BatchSpread),
    Shard(Shard),
    Mix(Mix),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Count(v) => write!(f, "{v}"),
            Value::Rate(v) if *v == 0.0 => f.write_str("open"),
            Value::Rate(v) => write!(f, "{}/s", round_for_display(*v)),
            Value::Duration(d) => write!(f, "{}", format_duration(*d)),
            Value::Flag(true) => f.write_str("on"),
            Value::Flag(false) => f.write_str("off"),
            Value::Strategy(s) => write!(f, "{s}"),
            Value::Runtime(r) => write!(f, "{r}"),
            Value::Consistency(c) => write!(f, "{c}"),
            Value::Retry(r) => write!(f, "{r}"),
            Value::Routing(r) => write!(f, "{r}"),
            Value::Statement(v) => write!(f, "{v}"),
            Value::BatchType(v) => write!(f, "{v}"),
            Value::BatchSpread(v) => write!(f, "{v}"),
            Value::Shard(s) => write!(f, "{s}"),
            Value::Mix(m) => write!(f, "{m}"),
        }
    }
}

/// Up to 3 decimals, no trailing zeros: rates people type are whole or nearly so.
fn round_for_display(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Count(v) => serializer.serialize_i64(*v),
            Value::Rate(v) => serializer.serialize_f64(*v),
            Value::Duration(d) => serializer.serialize_str(&format_duration(*d)),
            Value::Flag(v) => serializer.serialize_bool(*v),
            other => serializer.collect_str(other),
        }
    }
}

/// A value as a config file, the environment or JSON holds it, before it is known to fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
    Bool(bool),
    /// Anything else (a table, a list, a date), by the name of its type.
    Other(&'static str),
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(v) => write!(f, "integer `{v}`"),
            Scalar::Float(v) => write!(f, "float `{v}`"),
            Scalar::Text(v) => write!(f, "string \"{v}\""),
            Scalar::Bool(v) => write!(f, "boolean `{v}`"),
            Scalar::Other(kind) => f.write_str(kind),
        }
    }
}

/// The values a knob accepts beyond its type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
    /// Whole numbers from `min` to `max`.
    Count {
        min: i64,
        max: i64,
    },
    /// 0 (open: as fast as the strategy allows), or `min` to `max` per second. The floor keeps
    /// the pacer's gap between two writes a representable time.
    Rate {
        min: f64,
        max: f64,
    },
    Duration {
        min: Duration,
        max: Duration,
    },
    /// Any value of the type.
    Any,
}

impl Range {
    /// Why `value` is outside the range, as the end of a sentence that starts with the knob's
    /// name: "must be between 1 and 1000000, got 0".
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match (self, value) {
            (Range::Count { min, max }, Value::Count(v)) if !(min..=max).contains(&v) => {
                Err(format!("must be between {min} and {max}, got {v}"))
            }
            (Range::Rate { min, max }, Value::Rate(v))
                if !(v.is_finite() && (*v == 0.0 || (min..=max).contains(&v))) =>
            {
                Err(format!(
                    "must be 0 (open) or between {} and {} writes/s, got {}",
                    round_for_display(*min),
                    round_for_display(*max),
                    short_number(*v)
                ))
            }
            (Range::Duration { min, max }, Value::Duration(d)) if !(min..=max).contains(&d) => {
                Err(format!(
                    "must be between {} and {}, got {}",
                    format_duration(*min),
                    format_duration(*max),
                    format_duration(*d)
                ))
            }
            _ => Ok(()),
        }
    }

    /// What the range accepts, for help: "1..1000000".
    pub fn describe(&self) -> String {
        match self {
            Range::Count { min, max } => format!("{min}..{max}"),
            Range::Rate { min, max } => format!(
                "0 = open, or {}..{}",
                round_for_display(*min),
                round_for_display(*max)
            ),
            Range::Duration { min, max } => {
                format!("{}..{}", format_duration(*min), format_duration(*max))
            }
            Range::Any => String::new(),
        }
    }
}

/// A number short enough for one line, whatever its size (1e300 is not printed in full).
fn short_number(value: f64) -> String {
    if value.is_finite() && value.abs() < 1e9 {
        round_for_display(value)
    } else {
        format!("{value:e}")
    }
}

/// A Rust type a knob holds, and how it becomes and is read from a [`Value`].
pub trait KnobType: Sized + Copy {
    fn into_value(self) -> Value;
    fn from_value(value: Value) -> Option<Self>;
    /// Reads text (a flag, a `:` command, an environment variable); the range is checked later.
    fn parse_text(text: &str) -> Result<Self, String>;
    /// Reads a config or JSON scalar of the right type.
    fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String>;
    /// What the text looks like, for help and errors.
    fn shape() -> String;
}

fn wrong_type<T: KnobType>(scalar: Scalar<'_>) -> String {
    format!("invalid type: {scalar}, expected {}", T::shape())
}

macro_rules! count_type {
    ($ty:ty) => {
        impl KnobType for $ty {
            fn into_value(self) -> Value {
                Value::Count(i64::try_from(self).unwrap_or(i64::MAX))
            }
            fn from_value(value: Value) -> Option<Self> {
                match value {
                    Value::Count(v) => <$ty>::try_from(v).ok(),
                    _ => None,
                }
            }
            fn parse_text(text: &str) -> Result<Self, String> {
                parse_count(text).and_then(|v| Self::from_scalar(Scalar::Int(v)))
            }
            fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
                match scalar {
                    // Out of the type's reach is reported as out of the knob's range later:
                    // the caller checks the range before converting.
                    Scalar::Int(v) => <$ty>::try_from(v)
                        .map_err(|_| format!("must be between 0 and {}, got {v}", <$ty>::MAX)),
                    Scalar::Text(text) => Self::parse_text(text),
                    other => Err(wrong_type::<Self>(other)),
                }
            }
            fn shape() -> String {
                "a whole number (e.g. 128, 5k)".into()
            }
        }
    };
}
count_type!(u32);
count_type!(u64);
// Plain integer literals (`KnobChange::new(&DEPTH, 64)`) are i32.
count_type!(i32);

/// `128`, `5k`, `2M`, `1_000`, `10,000`; at most about 9.2e18.
pub fn parse_count(text: &str) -> Result<i64, String> {
    let value = parse_number(text)
        .ok_or_else(|| format!("takes a whole number (e.g. 128, 5k), not `{}`", text.trim()))?;
    if value.fract() != 0.0 || value.abs() >= 9.2e18 {
        return Err(format!(
            "takes a whole number (e.g. 128, 5k), not `{}`",
            text.trim()
        ));
    }
    Ok(value as i64)
}

/// A plain, `k`- or `M`-suffixed number; `_` and `,` group digits.
fn parse_number(text: &str) -> Option<f64> {
    let cleaned = text.trim().replace(['_', ','], "");
    let (digits, factor) = if let Some(d) = cleaned.strip_suffix(['k', 'K']) {
        (d, 1e3)
    } else if let Some(d) = cleaned.strip_suffix('M') {
        (d, 1e6)
    } else {
        (cleaned.as_str(), 1.0)
    };
    let value = digits.parse::<f64>().ok()? * factor;
    value.is_finite().then_some(value)
}

impl KnobType for f64 {
    fn into_value(self) -> Value {
        Value::Rate(self)
    }
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Rate(v) => Some(v),
            _ => None,
        }
    }
    fn parse_text(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("open") {
            return Ok(0.0);
        }
        parse_number(trimmed.trim_end_matches("/s")).ok_or_else(|| {
            format!("takes writes per second (e.g. 5000, 5k, 0 = open), not `{trimmed}`")
        })
    }
    fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
        match scalar {
            Scalar::Int(v) => Ok(v as f64),
            Scalar::Float(v) => Ok(v),
            Scalar::Text(text) => Self::parse_text(text),
            other => Err(wrong_type::<Self>(other)),
        }
    }
    fn shape() -> String {
        "writes per second (e.g. 5000, 5k; 0 = open)".into()
    }
}

impl KnobType for Duration {
    fn into_value(self) -> Value {
        Value::Duration(self)
    }
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Duration(d) => Some(d),
            _ => None,
        }
    }
    fn parse_text(text: &str) -> Result<Self, String> {
        parse_duration(text)
    }
    fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
        match scalar {
            Scalar::Text(text) => parse_duration(text),
            Scalar::Int(0) => Ok(Duration::ZERO),
            other => Err(wrong_type::<Self>(other)),
        }
    }
    fn shape() -> String {
        "a duration (e.g. 500ms, 10s, 2m)".into()
    }
}

/// `500ms`, `10s`, `2m`, `1h 30m`; a bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(trimmed).map_err(|err| {
        format!("`{trimmed}` is not a duration ({err}); write it like 500ms, 10s or 2m")
    })
}

/// A duration as `parse_duration` reads it back.
pub fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        "0s".into()
    } else {
        humantime::format_duration(duration).to_string()
    }
}

impl KnobType for bool {
    fn into_value(self) -> Value {
        Value::Flag(self)
    }
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Flag(v) => Some(v),
            _ => None,
        }
    }
    fn parse_text(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => Ok(true),
            "false" | "off" | "no" | "0" => Ok(false),
            other => Err(format!("takes on or off (true/false), not `{other}`")),
        }
    }
    fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
        match scalar {
            Scalar::Bool(v) => Ok(v),
            Scalar::Text(text) => Self::parse_text(text),
            other => Err(wrong_type::<Self>(other)),
        }
    }
    fn shape() -> String {
        "on or off".into()
    }
}

macro_rules! choice_type {
    ($ty:ident) => {
        impl KnobType for $ty {
            fn into_value(self) -> Value {
                Value::$ty(self)
            }
            fn from_value(value: Value) -> Option<Self> {
                match value {
                    Value::$ty(v) => Some(v),
                    _ => None,
                }
            }
            fn parse_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| {
                    format!(
                        "unknown {} `{}` (expected one of: {})",
                        stringify!($ty).to_ascii_lowercase(),
                        text.trim(),
                        <$ty as strum::VariantNames>::VARIANTS.join(", ")
                    )
                })
            }
            fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
                match scalar {
                    Scalar::Text(text) => Self::parse_text(text),
                    other => Err(wrong_type::<Self>(other)),
                }
            }
            fn shape() -> String {
                <$ty as strum::VariantNames>::VARIANTS.join(" | ")
            }
        }
    };
}
choice_type!(Strategy);
choice_type!(Runtime);
choice_type!(Consistency);
choice_type!(Retry);
choice_type!(Routing);
choice_type!(Statement);
choice_type!(BatchType);
choice_type!(BatchSpread);

impl KnobType for Shard {
    fn into_value(self) -> Value {
        Value::Shard(self)
    }
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Shard(v) => Some(v),
            _ => None,
        }
    }
    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse()
    }
    fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
        match scalar {
            Scalar::Text(text) => Self::parse_text(text),
            other => Err(wrong_type::<Self>(other)),
        }
    }
    fn shape() -> String {
        "I/N (loader I of N, from 0)".into()
    }
}

impl KnobType for Mix {
    fn into_value(self) -> Value {
        Value::Mix(self)
    }
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Mix(v) => Some(v),
            _ => None,
        }
    }
    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse()
    }
    fn from_scalar(scalar: Scalar<'_>) -> Result<Self, String> {
        match scalar {
            Scalar::Text(text) => Self::parse_text(text),
            other => Err(wrong_type::<Self>(other)),
        }
    }
    fn shape() -> String {
        "NAME=WEIGHT,... (e.g. insert=3,read=1)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_durations_read_as_people_write_them() {
        assert_eq!(u32::parse_text("5k"), Ok(5_000));
        assert_eq!(u32::parse_text("10,000"), Ok(10_000));
        assert!(u32::parse_text("1.5").is_err());
        assert!(u32::parse_text("-5").unwrap_err().contains("-5"));
        assert!(u64::parse_text("9223372036854775808").is_err());
        assert_eq!(f64::parse_text("2.5k/s"), Ok(2_500.0));
        assert_eq!(f64::parse_text("open"), Ok(0.0));
        assert!(f64::parse_text("fast").unwrap_err().contains("`fast`"));
        assert_eq!(
            Duration::parse_text("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(Duration::parse_text("0"), Ok(Duration::ZERO));
        assert_eq!(bool::parse_text("ON"), Ok(true));
        assert!(
            Strategy::parse_text("fastest")
                .unwrap_err()
                .contains("sync, batches")
        );
    }

    #[test]
    fn ranges_say_what_they_accept_in_one_short_line() {
        let rate = Range::Rate {
            min: 0.01,
            max: 1e7,
        };
        assert!(rate.check(&Value::Rate(0.0)).is_ok());
        assert!(rate.check(&Value::Rate(1e-20)).is_err());
        let message = rate.check(&Value::Rate(1e300)).unwrap_err();
        assert!(message.len() < 80, "{message}");
        assert!(rate.check(&Value::Rate(f64::NAN)).is_err());
        let count = Range::Count { min: 1, max: 10 };
        assert_eq!(
            count.check(&Value::Count(0)),
            Err("must be between 1 and 10, got 0".into())
        );
    }
}

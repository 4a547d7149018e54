//! `--mix insert=3,read=1`: which operations a run sends, and in what proportion.
//!
//! The knob holds names and weights only; which names a workload has (`insert`, the default
//! table's `read`, a profile's queries) is the engine's to check, since this layer knows no
//! workload. The value is `Copy` like every knob value: names live inline.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Up to [`Mix::MAX_OPS`] operations, each with a weight; at least one weight above 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mix {
    ops: [(OpName, u32); Mix::MAX_OPS],
    len: u8,
}

/// An operation's name: a word of letters, digits and `_`, at most [`OpName::MAX_LEN`] bytes,
/// interned (each distinct name is kept once for the process's life, so a knob value stays
/// `Copy` and small; a run meets a handful of names).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpName(&'static str);

/// Distinct names interned at most: past it a new name is refused, so endless distinct input
/// cannot grow the process.
const MAX_NAMES: usize = 4096;

impl OpName {
    pub const MAX_LEN: usize = 32;

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    fn intern(name: &str) -> Result<OpName, String> {
        static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
        // Parsing a knob's text only (never on a write's path).
        let mut names = NAMES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = names.iter().find(|known| **known == name) {
            return Ok(OpName(known));
        }
        if names.len() >= MAX_NAMES {
            return Err(format!(
                "`{name}`: more than {MAX_NAMES} distinct operation names were given"
            ));
        }
        let kept: &'static str = Box::leak(name.to_string().into_boxed_str());
        names.push(kept);
        Ok(OpName(kept))
    }
}

impl Mix {
    pub const MAX_OPS: usize = 6;
    /// The most any one weight may be: a weight is a share, not a count.
    pub const MAX_WEIGHT: u32 = 1_000;
    /// The name of the write; every workload has it.
    pub const INSERT: &'static str = "insert";

    /// Writes only, the default.
    pub fn writes_only() -> Mix {
        Mix::from_str(Mix::INSERT).expect("`insert` is a mix")
    }

    /// Each operation and its weight, in the order given.
    pub fn ops(&self) -> impl Iterator<Item = (&str, u32)> {
        self.ops[..usize::from(self.len)]
            .iter()
            .map(|(name, weight)| (name.as_str(), *weight))
    }

    /// The weight of `name`, 0 if the mix does not name it.
    pub fn weight(&self, name: &str) -> u32 {
        self.ops()
            .find(|(op, _)| *op == name)
            .map_or(0, |(_, weight)| weight)
    }

    /// Sum of the weights (≥ 1).
    pub fn total(&self) -> u32 {
        self.ops().map(|(_, weight)| weight).sum()
    }

    /// Whether anything but `insert` has a weight.
    pub fn reads(&self) -> bool {
        self.ops()
            .any(|(op, weight)| op != Mix::INSERT && weight > 0)
    }
}

impl Default for Mix {
    fn default() -> Mix {
        Mix::writes_only()
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, weight)) in self.ops().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={weight}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mix({self})")
    }
}

impl FromStr for Mix {
    type Err = String;

    /// `insert=3,read1=1`, cassandra-stress's `ops(insert=3,read1=1)`, or one bare name
    /// (`read`: that operation only).
    fn from_str(text: &str) -> Result<Mix, String> {
        let trimmed = text.trim();
        let inner = trimmed
            .strip_prefix("ops(")
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or(trimmed);
        let mut mix = Mix {
            ops: [(OpName(""), 0); Mix::MAX_OPS],
            len: 0,
        };
        for part in inner.split(',').map(str::trim) {
            let (name, weight) = match part.split_once('=') {
                Some((name, weight)) => (name.trim(), weight.trim()),
                None => (part, "1"),
            };
            let valid_name = !name.is_empty()
                && name.len() <= OpName::MAX_LEN
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(format!(
                    "`{part}` is not NAME=WEIGHT (e.g. insert=3,read=1; a name is letters, \
                     digits and _, at most {} long)",
                    OpName::MAX_LEN
                ));
            }
            let weight: u32 = weight
                .parse()
                .ok()
                .filter(|w| *w <= Mix::MAX_WEIGHT)
                .ok_or_else(|| {
                    format!(
                        "`{part}`: a weight is a whole number from 0 to {}",
                        Mix::MAX_WEIGHT
                    )
                })?;
            if mix.ops().any(|(op, _)| op == name) {
                return Err(format!("`{name}` is named twice in `{trimmed}`"));
            }
            if usize::from(mix.len) == Mix::MAX_OPS {
                return Err(format!(
                    "`{trimmed}` names more than {} operations",
                    Mix::MAX_OPS
                ));
            }
            mix.ops[usize::from(mix.len)] = (OpName::intern(name)?, weight);
            mix.len += 1;
        }
        if mix.total() == 0 {
            return Err(format!(
                "`{trimmed}` gives every operation weight 0: nothing would run"
            ));
        }
        Ok(mix)
    }
}

impl Serialize for Mix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Mix, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which operation each request of a worker is: a fixed cycle of [`Mix::total`] requests in
/// which each operation has exactly its weight, spread out (a smooth weighted round robin), so
/// any window of a cycle's length holds the mix's proportions and reads and writes interleave.
pub fn schedule(weights: &[u32]) -> Vec<u8> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut cycle = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(weights) {
            *c += i64::from(*w);
        }
        let (pick, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .expect("a mix has an operation");
        current[pick] -= total;
        cycle.push(pick as u8);
    }
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_read_as_stress_and_casstop_write_them_and_refuse_what_runs_nothing() {
        let mix: Mix = "insert=3, read1=1".parse().unwrap();
        assert_eq!(mix.to_string(), "insert=3,read1=1");
        assert_eq!(mix.weight("read1"), 1);
        assert_eq!(mix.total(), 4);
        assert!(mix.reads());
        assert_eq!(
            "ops(insert=1,read1=3)"
                .parse::<Mix>()
                .unwrap()
                .weight("read1"),
            3
        );
        assert_eq!("read".parse::<Mix>().unwrap().to_string(), "read=1");
        assert!(!Mix::writes_only().reads());
        for bad in [
            "",
            "insert=0",
            "insert=x",
            "insert=-1",
            "insert=1001",
            "a b=1",
            "insert=1,insert=2",
            "a=1,b=1,c=1,d=1,e=1,f=1,g=1",
            "ü=1",
        ] {
            let err = bad.parse::<Mix>().unwrap_err();
            assert!(!err.is_empty() && !err.contains('\n'), "{bad}: {err}");
        }
        let long = format!("{}=1", "x".repeat(OpName::MAX_LEN + 1));
        assert!(long.parse::<Mix>().is_err());
    }

    #[test]
    fn a_schedule_holds_each_weight_exactly_and_interleaves() {
        let cycle = schedule(&[3, 1]);
        assert_eq!(cycle.len(), 4);
        assert_eq!(cycle.iter().filter(|op| **op == 1).count(), 1);
        let cycle = schedule(&[1, 1]);
        assert_eq!(cycle, [0, 1]);
        let cycle = schedule(&[5, 0, 2]);
        assert_eq!(cycle.iter().filter(|op| **op == 0).count(), 5);
        assert_eq!(cycle.iter().filter(|op| **op == 1).count(), 0);
        // Spread out: the two reads of 5:2 are never side by side.
        let twos: Vec<usize> = (0..cycle.len()).filter(|i| cycle[*i] == 2).collect();
        assert!(twos[1] - twos[0] > 1, "{cycle:?}");
    }
}

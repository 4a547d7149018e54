//! `--shard I/N`: which part of a shared key space this loader writes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Loader `index` of `count` (counted from 0). `0/1` is the whole key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The most loaders one key space is split between: each part still holds 2^30 rows per
    /// worker (the low 40 bits of a key are the worker's row counter).
    pub const MAX_COUNT: u32 = 1024;

    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let text = text.trim();
        let shape = || format!("`{text}` is not I/N (loader I of N, from 0: 0/2 and 1/2)");
        let (index, count) = text.split_once('/').ok_or_else(shape)?;
        let index: u32 = index.trim().parse().map_err(|_| shape())?;
        let count: u32 = count.trim().parse().map_err(|_| shape())?;
        if count == 0 || count > Shard::MAX_COUNT {
            return Err(format!(
                "`{text}`: N must be between 1 and {}, got {count}",
                Shard::MAX_COUNT
            ));
        }
        if index >= count {
            return Err(format!(
                "`{text}`: loaders are counted from 0, so I must be below N ({count})"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl Serialize for Shard {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Shard, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_read_as_i_of_n_and_refuse_what_names_no_part() {
        assert_eq!("1/2".parse(), Ok(Shard { index: 1, count: 2 }));
        assert_eq!(" 0 / 1 ".parse(), Ok(Shard::WHOLE));
        for bad in ["2/2", "0/0", "1", "a/b", "-1/2", "0/1025", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }
}

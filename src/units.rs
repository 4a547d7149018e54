//! Numbers as people read them: latencies, rates, sizes.

use std::fmt;

/// A latency in microseconds, shown in the unit that keeps 3 significant digits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Micros(pub f64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us < 1_000.0 {
            write!(f, "{us:.0} µs")
        } else if us < 1_000_000.0 {
            write!(f, "{:.2} ms", us / 1e3)
        } else {
            write!(f, "{:.2} s", us / 1e6)
        }
    }
}

/// A count per second, with k/M suffixes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerSecond(pub f64);

impl fmt::Display for PerSecond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v >= 1e6 {
            write!(f, "{:.2}M/s", v / 1e6)
        } else if v >= 1e4 {
            write!(f, "{:.1}k/s", v / 1e3)
        } else {
            write!(f, "{v:.0}/s")
        }
    }
}

/// A size in bytes, binary units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if b >= (1u64 << 30) as f64 {
            write!(f, "{:.2} GiB", b / (1u64 << 30) as f64)
        } else if b >= (1u64 << 20) as f64 {
            write!(f, "{:.1} MiB", b / (1u64 << 20) as f64)
        } else if b >= 1024.0 {
            write!(f, "{:.1} KiB", b / 1024.0)
        } else {
            write!(f, "{b:.0} B")
        }
    }
}

/// A count with thousands separated: 1,200.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Count(pub u64);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(digit);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_their_thousands() {
        let shown: Vec<String> = [0, 999, 1_000, 1_200, 8_185_000]
            .iter()
            .map(|n| Count(*n).to_string())
            .collect();
        assert_eq!(shown, ["0", "999", "1,000", "1,200", "8,185,000"]);
    }

    #[test]
    fn readable_numbers() {
        assert_eq!(Micros(850.0).to_string(), "850 µs");
        assert_eq!(Micros(1520.0).to_string(), "1.52 ms");
        assert_eq!(Micros(2_500_000.0).to_string(), "2.50 s");
        assert_eq!(PerSecond(312.4).to_string(), "312/s");
        assert_eq!(PerSecond(45_678.0).to_string(), "45.7k/s");
        assert_eq!(PerSecond(1_234_567.0).to_string(), "1.23M/s");
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(50 << 20).to_string(), "50.0 MiB");
    }
}

//! Distributions in cassandra-stress's own syntax, `uniform(1..100)`, `~exp(1..1M)`, read the same
//! way from a cassandra-stress profile and from casstop's TOML: one parser, one sampler.
//!
//! A sample is a pure function of a 64-bit draw, so a value is regenerated from the same draw.

use std::fmt;

/// A distribution of whole numbers over `min..=max`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dist {
    pub kind: Kind,
    pub min: i64,
    pub max: i64,
    /// `~`: the distribution mirrored within its range (`max` where it would give `min`).
    pub inverted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Fixed,
    Uniform,
    /// Mean and standard deviation; cassandra-stress's `gaussian(min..max,stdvrng)` puts the mean
    /// in the middle and the deviation at (max - min) / 2 / stdvrng.
    Gaussian {
        mean: f64,
        stdev: f64,
    },
    /// Exponential over the range, most values near `min`.
    Exp,
    /// Weibull with `shape`: cassandra-stress's `extreme`.
    Extreme {
        shape: f64,
    },
    /// `seq(min..max)`: the draw itself, wrapping within the range (each value once per lap).
    Seq,
    /// Zipf with exponent `s` (≥ 0): a few values very often, the many rarely.
    Zipf {
        s: f64,
    },
}

impl Dist {
    pub fn fixed(value: i64) -> Dist {
        Dist {
            kind: Kind::Fixed,
            min: value,
            max: value,
            inverted: false,
        }
    }

    pub fn uniform(min: i64, max: i64) -> Dist {
        Dist {
            kind: Kind::Uniform,
            min,
            max,
            inverted: false,
        }
    }

    pub fn seq(min: i64, max: i64) -> Dist {
        Dist {
            kind: Kind::Seq,
            min,
            max,
            inverted: false,
        }
    }

    /// Reads `uniform(1..100)`, `fixed(5)`, `gaussian(1..100,5)`, `gaussian(1..100,50,10)`,
    /// `exp(1..1M)`, `extreme(1..100,1.5)`, `seq(1..1B)`, `zipf(1..1000,1.1)`, each optionally
    /// after `~`; numbers may end in k, m or b (thousand, million, billion), as in
    /// cassandra-stress. `normal` is `gaussian`.
    pub fn parse(text: &str) -> Result<Dist, String> {
        let text = text.trim();
        let (inverted, body) = match text.strip_prefix('~') {
            Some(rest) => (true, rest.trim()),
            None => (false, text),
        };
        let open = body.find('(').ok_or_else(|| {
            format!("`{text}` is not a distribution: expected e.g. uniform(1..100) or fixed(10)")
        })?;
        let name = body[..open].trim().to_ascii_lowercase();
        let args = body[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("`{text}` lacks its closing `)`"))?;
        let mut parts = args.split(',').map(str::trim);
        let first = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        let range = |first: &str| -> Result<(i64, i64), String> {
            let (a, b) = first
                .split_once("..")
                .ok_or_else(|| format!("`{text}`: expected a range min..max, got `{first}`"))?;
            let (min, max) = (number(a)?, number(b)?);
            if min > max {
                return Err(format!(
                    "`{text}`: the range's min {min} is above its max {max}"
                ));
            }
            Ok((min, max))
        };
        let float = |arg: &str| -> Result<f64, String> {
            arg.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{text}`: `{arg}` is not a number"))
        };
        let args_expected = |n: usize| -> Result<(), String> {
            if rest.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "`{text}`: {name} takes {} argument{} after its range, got {}",
                    n,
                    if n == 1 { "" } else { "s" },
                    rest.len()
                ))
            }
        };
        let (kind, min, max) = match name.as_str() {
            "fixed" => {
                if !rest.is_empty() {
                    return Err(format!("`{text}`: fixed takes one value"));
                }
                let value = number(first)?;
                (Kind::Fixed, value, value)
            }
            "uniform" | "seq" | "exp" => {
                args_expected(0)?;
                let (min, max) = range(first)?;
                let kind = match name.as_str() {
                    "uniform" => Kind::Uniform,
                    "seq" => Kind::Seq,
                    _ => Kind::Exp,
                };
                (kind, min, max)
            }
            "gaussian" | "gauss" | "normal" | "norm" => {
                let (min, max) = range(first)?;
                let middle = (min as f64 + max as f64) / 2.0;
                let (mean, stdev) = match rest[..] {
                    [] => (middle, (max - min) as f64 / 6.0),
                    [stdvrng] => (middle, (max - min) as f64 / 2.0 / float(stdvrng)?),
                    [mean, stdev] => (float(mean)?, float(stdev)?),
                    _ => return Err(format!("`{text}`: gaussian takes a range and 0–2 numbers")),
                };
                if stdev.is_nan() || stdev <= 0.0 {
                    return Err(format!("`{text}`: the deviation must be above 0"));
                }
                (Kind::Gaussian { mean, stdev }, min, max)
            }
            "extreme" | "weibull" => {
                args_expected(1)?;
                let (min, max) = range(first)?;
                let shape = float(rest[0])?;
                if shape.is_nan() || shape <= 0.0 {
                    return Err(format!("`{text}`: the shape must be above 0"));
                }
                (Kind::Extreme { shape }, min, max)
            }
            "zipf" => {
                args_expected(1)?;
                let (min, max) = range(first)?;
                let s = float(rest[0])?;
                if s < 0.0 {
                    return Err(format!("`{text}`: the exponent must be at least 0"));
                }
                (Kind::Zipf { s }, min, max)
            }
            other => {
                return Err(format!(
                    "`{text}`: no distribution is called `{other}` (fixed, uniform, gaussian, \
                     exp, extreme, seq, zipf)"
                ));
            }
        };
        Ok(Dist {
            kind,
            min,
            max,
            inverted,
        })
    }

    /// The value for `draw`: a pure function of it.
    pub fn sample(&self, draw: u64) -> i64 {
        let span = (self.max as i128 - self.min as i128) as f64;
        let offset: f64 = match &self.kind {
            Kind::Fixed => 0.0,
            Kind::Seq => {
                let width = (self.max as i128 - self.min as i128 + 1) as u128;
                let at = (u128::from(draw) % width) as i128;
                return self.place((self.min as i128 + at) as i64);
            }
            Kind::Uniform => {
                let width = (self.max as i128 - self.min as i128 + 1) as u128;
                let at = (u128::from(mix(draw)) % width) as i128;
                return self.place((self.min as i128 + at) as i64);
            }
            Kind::Gaussian { mean, stdev } => {
                // Box–Muller from two halves of the draw; values past the range are clamped, as
                // cassandra-stress does.
                let u1 = unit(mix(draw)).max(f64::MIN_POSITIVE);
                let u2 = unit(mix(draw ^ 0x5851_f42d_4c95_7f2d));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                mean + z * stdev - self.min as f64
            }
            Kind::Exp => {
                // Mean at a tenth of the range, truncated to it.
                let lambda = 10.0 / span.max(1.0);
                let u = unit(mix(draw));
                -(1.0 - u * (1.0 - (-lambda * span).exp())).ln() / lambda
            }
            Kind::Extreme { shape } => {
                let u = unit(mix(draw)).min(1.0 - f64::EPSILON);
                let scale = span / 3.0_f64.powf(1.0 / shape).max(1e-9);
                scale * (-(1.0 - u).ln()).powf(1.0 / shape)
            }
            Kind::Zipf { s } => {
                // Inverse of the continuous approximation of the zipf CDF over 1..=n.
                let n = span + 1.0;
                let u = unit(mix(draw));
                let k = if (s - 1.0).abs() < 1e-9 {
                    n.powf(u)
                } else {
                    let a = 1.0 - s;
                    (1.0 + u * (n.powf(a) - 1.0)).powf(1.0 / a)
                };
                k - 1.0
            }
        };
        let value = self.min as f64 + offset.round().clamp(0.0, span);
        self.place(value as i64)
    }

    /// `value` mirrored when inverted, clamped to the range.
    fn place(&self, value: i64) -> i64 {
        let value = value.clamp(self.min, self.max);
        if self.inverted {
            self.max - (value - self.min)
        } else {
            value
        }
    }

    /// The most a sample can be.
    pub fn most(&self) -> i64 {
        self.max
    }

    /// Whether every sample is the same value.
    pub fn is_fixed(&self) -> bool {
        self.min == self.max
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inverted {
            f.write_str("~")?;
        }
        let (min, max) = (self.min, self.max);
        match &self.kind {
            Kind::Fixed => write!(f, "fixed({min})"),
            Kind::Uniform => write!(f, "uniform({min}..{max})"),
            Kind::Seq => write!(f, "seq({min}..{max})"),
            Kind::Exp => write!(f, "exp({min}..{max})"),
            Kind::Gaussian { mean, stdev } => write!(f, "gaussian({min}..{max},{mean},{stdev})"),
            Kind::Extreme { shape } => write!(f, "extreme({min}..{max},{shape})"),
            Kind::Zipf { s } => write!(f, "zipf({min}..{max},{s})"),
        }
    }
}

/// `100`, `5k`, `1M`, `100B`, `-3`: cassandra-stress's numbers.
fn number(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (digits, scale) = match text.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&text[..text.len() - 1], 1_000),
        Some('m') => (&text[..text.len() - 1], 1_000_000),
        Some('b') => (&text[..text.len() - 1], 1_000_000_000),
        _ => (text, 1),
    };
    let value: f64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number (e.g. 100, 5k, 1M, 2B)"))?;
    let value = value * scale as f64;
    if !value.is_finite() || value.abs() > 9.0e18 || value.fract() != 0.0 {
        return Err(format!("`{text}` is not a whole number in range"));
    }
    Ok(value as i64)
}

/// A draw's bits as a number in [0, 1).
fn unit(draw: u64) -> f64 {
    (draw >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64's finaliser: spreads consecutive draws over the whole range.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stress_syntax_reads_and_prints_back() {
        for text in [
            "fixed(10)",
            "uniform(1..100)",
            "seq(1..1000000000)",
            "exp(1..1000)",
            "~exp(1..1000)",
            "extreme(1..100,1.5)",
            "zipf(1..1000,1.1)",
        ] {
            assert_eq!(Dist::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Dist::parse("uniform(1..1M)").unwrap().max, 1_000_000);
        assert_eq!(Dist::parse("seq(1..100B)").unwrap().max, 100_000_000_000);
        let gauss = Dist::parse("gaussian(0..100,5)").unwrap();
        assert_eq!(
            gauss.kind,
            Kind::Gaussian {
                mean: 50.0,
                stdev: 10.0
            }
        );
        assert!(Dist::parse("normal(1..10,5,2)").is_ok());
        for bad in [
            "uniform(10..1)",
            "uniform(1..x)",
            "poisson(1..3)",
            "fixed",
            "uniform(1..3",
        ] {
            assert!(Dist::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Dist::parse("poisson(1..3)")
                .unwrap_err()
                .contains("poisson")
        );
    }

    #[test]
    fn samples_stay_in_range_and_repeat_for_the_same_draw() {
        for text in [
            "uniform(5..9)",
            "gaussian(1..100,3)",
            "exp(1..1000)",
            "~exp(1..1000)",
            "extreme(1..100,1.5)",
            "zipf(1..1000,1.1)",
            "seq(3..7)",
            "fixed(4)",
        ] {
            let dist = Dist::parse(text).unwrap();
            for draw in 0..2000u64 {
                let value = dist.sample(draw);
                assert!(
                    (dist.min..=dist.max).contains(&value),
                    "{text} gave {value}"
                );
                assert_eq!(value, dist.sample(draw));
            }
        }
        let seq = Dist::seq(3, 7);
        let laps: Vec<i64> = (0..7).map(|d| seq.sample(d)).collect();
        assert_eq!(laps, [3, 4, 5, 6, 7, 3, 4]);
    }

    #[test]
    fn shapes_are_what_their_names_say() {
        let mean = |text: &str| {
            let dist = Dist::parse(text).unwrap();
            (0..20_000u64).map(|d| dist.sample(d) as f64).sum::<f64>() / 20_000.0
        };
        assert!((mean("uniform(0..1000)") - 500.0).abs() < 15.0);
        assert!((mean("gaussian(0..1000,50,5)") - 50.0).abs() < 1.0);
        // Exponential and zipf crowd the low end; inverted, the high end.
        assert!(mean("exp(0..1000)") < 150.0);
        assert!(mean("~exp(0..1000)") > 850.0);
        assert!(mean("zipf(1..1000,1.2)") < 100.0);
        let uniform = Dist::uniform(1, 4);
        let mut seen = [0; 5];
        for d in 0..4000 {
            seen[uniform.sample(d) as usize] += 1;
        }
        assert!(
            seen[1..].iter().all(|n| (900..1100).contains(n)),
            "{seen:?}"
        );
    }
}

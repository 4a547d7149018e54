//! Lists of settings a sweep steps through: `1,2,4,...,1024`.

/// Parses a list of settings: `1,2,4,8`, where `...` continues the progression of the two values
/// before it (geometric when it lands on the last value, else arithmetic): `1,2,...,1024`,
/// `10,20,...,100`.
pub fn parse_values(text: &str) -> Result<Vec<u32>, String> {
    let tokens: Vec<&str> = text.split(',').map(str::trim).collect();
    let number = |token: &str| -> Result<u32, String> {
        token
            .parse::<u32>()
            .map_err(|_| format!("`{token}` is not a whole number (in `{text}`)"))
    };
    let mut values: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        if token == "..." || token == "…" {
            let end = number(tokens.get(i + 1).ok_or_else(|| {
                format!("`...` needs a last value after it, as in 1,2,...,1024 (in `{text}`)")
            })?)?;
            let [.., a, b] = values[..] else {
                return Err(format!(
                    "`...` needs two values before it, as in 1,2,...,1024 (in `{text}`)"
                ));
            };
            if b <= a || end <= b {
                return Err(format!(
                    "`{a},{b},...,{end}` does not rise steadily (in `{text}`)"
                ));
            }
            let geometric = a > 0 && b % a == 0 && {
                let ratio = u64::from(b / a);
                let mut v = u64::from(b);
                while v < u64::from(end) {
                    v *= ratio;
                }
                v == u64::from(end)
            };
            if geometric {
                let mut v = b;
                while v < end {
                    v *= b / a;
                    values.push(v);
                }
            } else if (end - b) % (b - a) == 0 {
                let mut v = b;
                while v < end {
                    v += b - a;
                    values.push(v);
                }
            } else {
                return Err(format!(
                    "`{a},{b},...,{end}`: neither doubling-style nor even steps from {a},{b} land on {end}"
                ));
            }
            i += 2;
        } else {
            values.push(number(token)?);
            i += 1;
        }
    }
    if values.is_empty() {
        return Err("the list is empty".into());
    }
    if values.windows(2).any(|w| w[1] <= w[0]) {
        return Err(format!("the settings must rise, got `{text}`"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expand_their_progressions() {
        assert_eq!(
            parse_values("1,2,4,...,1024").unwrap(),
            vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        );
        assert_eq!(parse_values("1,2,...,8").unwrap(), vec![1, 2, 4, 8]);
        assert_eq!(
            parse_values("10,20,...,60").unwrap(),
            vec![10, 20, 30, 40, 50, 60]
        );
        assert_eq!(parse_values("3, 7 ,9").unwrap(), vec![3, 7, 9]);
        assert_eq!(parse_values("64").unwrap(), vec![64]);
        assert!(parse_values("1,...,8").unwrap_err().contains("two values"));
        assert!(parse_values("1,2,...").unwrap_err().contains("last value"));
        assert!(parse_values("4,2").unwrap_err().contains("rise"));
        assert!(parse_values("1,x").unwrap_err().contains("`x`"));
        assert!(parse_values("2,5,...,9").is_err());
    }

    #[test]
    fn a_knobs_list_reads_each_value_as_the_knob_does() {
        let values = super::super::parse_list(&super::super::DEPTH, "1,2,...,8").unwrap();
        assert_eq!(values, [1, 2, 4, 8].map(super::super::Value::Count));
        assert!(super::super::parse_list(&super::super::DEPTH, "1,x").is_err());
    }
}

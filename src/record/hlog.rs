//! Reading `latency.hlog` back: one histogram per interval and tag.

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use super::{READ_TAG, RESPONSE_TAG};

/// What a logged histogram measures, from its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Series {
    /// The writes' service time (untagged).
    Service,
    /// The writes' coordinated-omission-corrected response time (tag `response`).
    Response,
    /// A read operation's service time, or with `response` its response time.
    Read { op: String, response: bool },
}

impl Series {
    fn of(tag: Option<&str>) -> Series {
        let Some(tag) = tag else {
            return Series::Service;
        };
        match tag.strip_prefix(READ_TAG) {
            None => Series::Response,
            Some(rest) => match rest
                .strip_suffix(RESPONSE_TAG)
                .and_then(|r| r.strip_suffix(':'))
            {
                Some(op) => Series::Read {
                    op: op.to_string(),
                    response: true,
                },
                None => Series::Read {
                    op: rest.to_string(),
                    response: false,
                },
            },
        }
    }
}

/// One interval's histogram from the log.
#[derive(Clone, Debug)]
pub struct LoggedHistogram {
    /// Seconds since the run started, at the interval's start.
    pub start_s: f64,
    pub length_s: f64,
    pub series: Series,
    pub histogram: Histogram<u64>,
}

pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("decoding a histogram's base64")
}

/// An interval log read back.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// The `StartTime` header: when the run started, in seconds since the Unix epoch (what puts
    /// the logs of several loaders on one clock).
    pub start_epoch_s: Option<f64>,
    pub histograms: Vec<LoggedHistogram>,
}

/// Every histogram in an interval log. A last line cut short (the process was killed while
/// writing it) is left out; damage anywhere else is an error.
pub fn read(text: &[u8]) -> Result<Log> {
    // Only whole lines: a kill between two writes can leave a partial last one.
    let end = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let whole = &text[..end];
    let mut deserializer = Deserializer::new();
    let mut out = Log::default();
    for entry in IntervalLogIterator::new(whole) {
        let entry = entry.map_err(|err| anyhow!("unreadable interval log line ({err:?})"))?;
        let logged = match entry {
            LogEntry::Interval(logged) => logged,
            LogEntry::StartTime(at) => {
                out.start_epoch_s = Some(at.as_secs_f64());
                continue;
            }
            LogEntry::BaseTime(_) => continue,
        };
        let bytes = base64_decode(logged.encoded_histogram())?;
        let histogram: Histogram<u64> = deserializer
            .deserialize(&mut &bytes[..])
            .map_err(|err| anyhow!("decoding a histogram: {err:?}"))?;
        out.histograms.push(LoggedHistogram {
            start_s: logged.start_timestamp().as_secs_f64(),
            length_s: logged.duration().as_secs_f64(),
            series: Series::of(logged.tag().map(|t| t.as_str())),
            histogram,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::read_tag;

    #[test]
    fn a_tag_says_whose_latency_it_is() {
        assert_eq!(Series::of(None), Series::Service);
        assert_eq!(Series::of(Some(RESPONSE_TAG)), Series::Response);
        let read = |op: &str, response| Series::Read {
            op: op.into(),
            response,
        };
        assert_eq!(
            Series::of(Some(&read_tag("read1", false))),
            read("read1", false)
        );
        assert_eq!(
            Series::of(Some(&read_tag("read1", true))),
            read("read1", true)
        );
        // An op may be called `response`: the tag still says which one it is.
        assert_eq!(
            Series::of(Some(&read_tag("response", false))),
            read("response", false)
        );
        assert_eq!(
            Series::of(Some(&read_tag("response", true))),
            read("response", true)
        );
    }
}

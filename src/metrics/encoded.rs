//! The recent intervals' histograms, encoded as the recording encodes them (V2 deflate, base64),
//! kept while the control API listens so `/intervals` can serve them for exact merging elsewhere.

use std::collections::VecDeque;
use std::sync::Arc;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

use super::reads::{EncodedRead, ReadCounts};
use super::stats::{EncodedInterval, IntervalStats};

/// Intervals kept: ten minutes of one-second intervals, a few MiB.
const KEPT: usize = 600;

#[derive(Default)]
pub struct EncodedRing {
    serializer: V2DeflateSerializer,
    buffer: Vec<u8>,
    seq: u64,
    kept: VecDeque<Arc<EncodedInterval>>,
}

impl EncodedRing {
    /// Adds a closed interval (the oldest goes when full); `response` (and the reads') under a
    /// target rate.
    pub fn push(
        &mut self,
        stats: Arc<IntervalStats>,
        service: &Histogram<u64>,
        response: Option<&Histogram<u64>>,
        reads: &[ReadCounts],
    ) {
        self.seq += 1;
        let paced = response.is_some();
        let read_hdrs = reads
            .iter()
            .filter(|r| r.ran())
            .map(|r| EncodedRead {
                op: r.op.to_string(),
                service_hdr: self.encode(&r.service),
                response_hdr: paced.then(|| self.encode(&r.response)),
            })
            .collect();
        let encoded = EncodedInterval {
            seq: self.seq,
            stats,
            service_hdr: self.encode(service),
            response_hdr: response.map(|h| self.encode(h)),
            read_hdrs,
        };
        if self.kept.len() == KEPT {
            self.kept.pop_front();
        }
        self.kept.push_back(Arc::new(encoded));
    }

    /// The intervals kept, oldest first; shared with the previous snapshot's, not copied.
    pub fn kept(&self) -> VecDeque<Arc<EncodedInterval>> {
        self.kept.clone()
    }

    fn encode(&mut self, histogram: &Histogram<u64>) -> String {
        use base64::Engine as _;
        self.buffer.clear();
        // Serialising into memory fails only for a histogram it cannot represent: none of ours.
        let _ = self.serializer.serialize(histogram, &mut self.buffer);
        base64::engine::general_purpose::STANDARD.encode(&self.buffer)
    }
}

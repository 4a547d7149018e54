//! Where a local cluster's nodes sit on the token ring: fixed, interleaved tokens, so the nodes
//! can start side by side without bootstrapping and own equal shares.

/// Node `index`'s `per_node` tokens of `count` nodes: the Murmur3 range cut into
/// `count × per_node` equal parts, dealt round-robin, so every node owns an equal share.
pub fn interleaved_tokens(index: u8, count: u8, per_node: u32) -> Vec<i64> {
    let parts = i128::from(count) * i128::from(per_node);
    let step = (1i128 << 64) / parts;
    (0..i128::from(per_node))
        .map(|j| {
            let k = j * i128::from(count) + i128::from(index - 1);
            (i128::from(i64::MIN) + k * step) as i64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clusters_tokens_interleave_and_split_the_ring_evenly() {
        let all: Vec<Vec<i64>> = (1..=3).map(|i| interleaved_tokens(i, 3, 16)).collect();
        let mut sorted: Vec<(i64, u8)> = all
            .iter()
            .enumerate()
            .flat_map(|(i, tokens)| tokens.iter().map(move |t| (*t, i as u8)))
            .collect();
        sorted.sort_unstable();
        assert_eq!(sorted.len(), 48);
        assert_eq!(sorted[0].0, i64::MIN);
        // Neighbours on the ring belong to different nodes, one step apart.
        let step = ((1i128 << 64) / 48) as i64;
        for pair in sorted.windows(2) {
            assert_ne!(pair[0].1, pair[1].1, "{pair:?}");
            assert_eq!(pair[1].0 - pair[0].0, step);
        }
    }
}

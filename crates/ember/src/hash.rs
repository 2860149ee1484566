//! The stable hash used to route keys to partitions.
//!
//! Routing must agree between processes and between versions of ember (a checkpoint written by one
//! build is restored by another), so it cannot use `std`'s `DefaultHasher` or a randomly seeded
//! hasher. A key is encoded with postcard, whose wire format is specified and stable since 1.0,
//! and the bytes are hashed with XXH3-64, which is specified too.

use std::cell::RefCell;

use serde::Serialize;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The stable 64-bit hash of `value`'s canonical encoding.
///
/// # Examples
///
/// ```
/// use ember::hash::stable_hash;
///
/// // The same on every run, process and build: `str` and `String` encode alike.
/// assert_eq!(stable_hash("hello"), 0xcdba_870f_b04d_3213);
/// assert_eq!(stable_hash("hello"), stable_hash(&"hello".to_string()));
/// ```
pub fn stable_hash<T: Serialize + ?Sized>(value: &T) -> u64 {
    // Most keys (words, numbers, small tuples) encode in a few bytes: on the stack.
    let mut small = [0u8; 128];
    if let Ok(bytes) = postcard::to_slice(value, &mut small) {
        return xxhash_rust::xxh3::xxh3_64(bytes);
    }
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        let taken = std::mem::take(&mut *buf);
        // Encoding into a Vec cannot fail for serde-derived data; a type whose Serialize impl
        // reports an error still gets a deterministic hash of what was written.
        let bytes = postcard::to_extend(value, taken).unwrap_or_default();
        let h = xxhash_rust::xxh3::xxh3_64(&bytes);
        *buf = bytes;
        h
    })
}

/// The partition of `key` among `partitions` partitions (Spark's `HashPartitioner`, with a stable
/// hash); zero partitions count as one.
///
/// # Examples
///
/// ```
/// use ember::hash::{partition_of, stable_hash};
///
/// let p = partition_of("hello", 4);
/// assert!(p < 4);
/// assert_eq!(p as u64, stable_hash("hello") % 4);
/// ```
pub fn partition_of<K: Serialize + ?Sized>(key: &K, partitions: usize) -> usize {
    partition_of_hash(stable_hash(key), partitions) as usize
}

/// The partition of a key whose [`stable_hash`] is `hash`, among `partitions` partitions (zero
/// counts as one): the hash modulo the count. Every place that puts a key in a partition uses
/// this, so a key's partition is the same in every operator, process and checkpoint.
///
/// # Examples
///
/// ```
/// use ember::hash::{partition_of, partition_of_hash, stable_hash};
///
/// let p = partition_of_hash(stable_hash("word"), 4);
/// assert!(p < 4);
/// assert_eq!(p as usize, partition_of("word", 4));
/// ```
pub fn partition_of_hash(hash: u64, partitions: usize) -> u32 {
    (hash % partitions.max(1) as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_across_builds() {
        // These values are part of ember's persistent format (checkpoints, routing between
        // processes of different builds); a change here breaks recovery.
        assert_eq!(stable_hash("hello"), stable_hash(&"hello".to_string()));
        assert_eq!(
            stable_hash(&("a", 1u32)),
            stable_hash(&("a".to_string(), 1u32))
        );
        assert_ne!(stable_hash("hello"), stable_hash("world"));
        // Computed independently: XXH3-64 of postcard's bytes, [5, b"hello"] and
        // [1, b"a", 1] (varint length prefix, then the bytes; u32 as a varint).
        assert_eq!(stable_hash("hello"), 0xcdba_870f_b04d_3213);
        assert_eq!(stable_hash(&("a", 1u32)), 0x96bd_5235_891a_dc1c);
    }

    #[test]
    fn long_keys_hash_their_encoding_too() {
        // Past the stack buffer the encoding goes to the heap: the same definition applies.
        let long = "x".repeat(300);
        let mut encoded = vec![0xac, 0x02];
        encoded.extend_from_slice(long.as_bytes());
        assert_eq!(stable_hash(&long), xxhash_rust::xxh3::xxh3_64(&encoded));
        assert_ne!(stable_hash(&long), stable_hash(&"x".repeat(299)));
    }

    #[test]
    fn partitions_spread_keys() {
        let mut counts = [0usize; 4];
        for i in 0..10_000u32 {
            counts[partition_of(&format!("w{i}"), 4)] += 1;
        }
        for c in counts {
            assert!(c > 2000 && c < 3000, "uneven spread: {counts:?}");
        }
    }
}

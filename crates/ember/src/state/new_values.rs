//! [`NewValues`]: one batch's new values for a stateful stream on one worker, grouped by key and
//! in the order of [`OrderedState`](super::OrderedState) (partition, then the key's stable hash),
//! so that merging them into the state is one sequential pass over both.
//!
//! The values usually arrive in that order already: a `reduce_by_key` (or any combine) before
//! the state emits each partition's keys once, in hash order. Then nothing is sorted; otherwise
//! [`prepare`](NewValues::prepare) sorts the keys and brings each key's values together.

/// A key of the batch: its partition, how many values it has, its stable hash.
pub(crate) struct NewKey<K> {
    pub(crate) partition: u32,
    /// How many of [`NewValues::values`] are this key's (they follow the previous key's).
    pub(crate) count: u32,
    pub(crate) hash: u64,
    pub(crate) key: K,
}

impl<K> NewKey<K> {
    /// Where the key goes in the stable order.
    pub(crate) fn place(&self) -> (u32, u64) {
        (self.partition, self.hash)
    }
}

/// A batch's keys with their values, the values of each key together and in arrival order.
pub(crate) struct NewValues<K, V> {
    pub(crate) keys: Vec<NewKey<K>>,
    /// The keys' values, key after key.
    pub(crate) values: Vec<V>,
    /// Whether the keys came strictly increasing in the stable order (so they are sorted and
    /// no key came twice).
    ordered: bool,
}

impl<K, V> Default for NewValues<K, V> {
    fn default() -> Self {
        NewValues {
            keys: Vec::new(),
            values: Vec::new(),
            ordered: true,
        }
    }
}

impl<K: Eq, V> NewValues<K, V> {
    /// Adds one value of `key` (of `partition`, with stable hash `hash`).
    pub(crate) fn push(&mut self, partition: u32, hash: u64, key: K, value: V) {
        self.note(partition, hash);
        self.keys.push(NewKey {
            partition,
            count: 1,
            hash,
            key,
        });
        self.values.push(value);
    }

    /// Adds several values of `key`.
    pub(crate) fn push_all(&mut self, partition: u32, hash: u64, key: K, values: Vec<V>) {
        self.note(partition, hash);
        let count = u32::try_from(values.len()).expect("fewer than 2^32 values of a key");
        self.keys.push(NewKey {
            partition,
            count,
            hash,
            key,
        });
        self.values.extend(values);
    }

    fn note(&mut self, partition: u32, hash: u64) {
        if let Some(last) = self.keys.last() {
            self.ordered &= last.place() < (partition, hash);
        }
    }

    /// Keys of the batch (after [`prepare`](Self::prepare): distinct keys).
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Sorts the keys into the stable order and brings the values of a key that came more than
    /// once together (in arrival order), unless they came in order already.
    pub(crate) fn prepare(&mut self) {
        if self.ordered {
            return;
        }
        self.ordered = true;
        // Each record's values, by the record's index, to be taken in the new order.
        let mut values: Vec<Option<V>> = self.values.drain(..).map(Some).collect();
        // Where each record's values are.
        let mut spans = Vec::with_capacity(self.keys.len());
        let mut at = 0usize;
        for k in &self.keys {
            spans.push(at..at + k.count as usize);
            at += k.count as usize;
        }
        let mut records: Vec<(usize, NewKey<K>)> = self.keys.drain(..).enumerate().collect();
        // Stable: a key's records stay in arrival order.
        records.sort_by_key(|(_, k)| k.place());
        let mut records = records.into_iter().peekable();
        // Keys of one hash, with the records of each, in order of first arrival.
        let mut group: Vec<(NewKey<K>, Vec<usize>)> = Vec::new();
        while let Some((index, first)) = records.next() {
            let place = first.place();
            group.push((first, vec![index]));
            while let Some((index, next)) = records.next_if(|(_, k)| k.place() == place) {
                match group.iter_mut().find(|(k, _)| k.key == next.key) {
                    Some((_, indices)) => indices.push(index),
                    None => group.push((next, vec![index])),
                }
            }
            for (mut key, indices) in group.drain(..) {
                let mut count = 0u32;
                for i in indices {
                    let span = spans[i].clone();
                    count += span.len() as u32;
                    for slot in &mut values[span] {
                        self.values
                            .push(slot.take().expect("each value is taken once"));
                    }
                }
                key.count = count;
                self.keys.push(key);
            }
        }
    }

    /// Empties the batch, keeping the capacity for the next one.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
        self.ordered = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(v: &NewValues<&'static str, u32>) -> Vec<(u32, u64, &'static str, Vec<u32>)> {
        let mut at = 0;
        v.keys
            .iter()
            .map(|k| {
                let vals = v.values[at..at + k.count as usize].to_vec();
                at += k.count as usize;
                (k.partition, k.hash, k.key, vals)
            })
            .collect()
    }

    #[test]
    fn ordered_input_is_kept_as_it_came() {
        let mut v = NewValues::default();
        v.push(0, 5, "a", 1);
        v.push_all(0, 9, "b", vec![2, 3]);
        v.push(1, 2, "c", 4);
        v.prepare();
        assert_eq!(
            groups(&v),
            [
                (0, 5, "a", vec![1]),
                (0, 9, "b", vec![2, 3]),
                (1, 2, "c", vec![4])
            ]
        );
    }

    #[test]
    fn unordered_input_is_sorted_and_repeated_keys_grouped_in_arrival_order() {
        let mut v = NewValues::default();
        v.push(1, 2, "c", 1);
        v.push(0, 9, "b", 2);
        v.push_all(0, 5, "a", vec![3, 4]);
        v.push(0, 9, "b", 5);
        // Two keys with one hash (a collision), interleaved.
        v.push(0, 7, "x", 6);
        v.push(0, 7, "y", 7);
        v.push(0, 7, "x", 8);
        v.push_all(1, 2, "c", vec![]);
        v.prepare();
        assert_eq!(
            groups(&v),
            [
                (0, 5, "a", vec![3, 4]),
                (0, 7, "x", vec![6, 8]),
                (0, 7, "y", vec![7]),
                (0, 9, "b", vec![2, 5]),
                (1, 2, "c", vec![1]),
            ]
        );
        assert_eq!(v.len(), 5);
        v.clear();
        assert_eq!(v.len(), 0);
        v.push(0, 1, "z", 1);
        v.prepare();
        assert_eq!(groups(&v), [(0, 1, "z", vec![1])]);
    }
}

//! Shuffle machinery shared by the RDD operations: moving elements between partitions (by hash,
//! round robin or range), and combining values per key deterministically.
//!
//! Every helper is deterministic: output partition `j` receives its elements in input order
//! (input partition, then position inside it), and maps keyed by user data remember the order in
//! which keys were first seen, so no result ever depends on a `HashMap`'s iteration order.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use rayon::prelude::*;

use crate::context::Context;
use crate::data::Key;
use crate::hash::partition_of;

/// The in-memory hash map used by RDD operations.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// An empty [`FastMap`].
pub(crate) fn fast_map<K, V>() -> FastMap<K, V> {
    HashMap::with_hasher(foldhash::fast::RandomState::default())
}

/// A map from keys to combiners that remembers the order in which keys were first inserted.
pub(crate) struct OrderedMap<K, C> {
    index: FastMap<K, usize>,
    // `None` only transiently, while a merge function runs.
    entries: Vec<(K, Option<C>)>,
}

impl<K: Hash + Eq + Clone, C> OrderedMap<K, C> {
    pub(crate) fn new() -> Self {
        OrderedMap {
            index: fast_map(),
            entries: Vec::new(),
        }
    }

    /// Inserts `create(x)` under `key`, or replaces the present combiner `c` by `merge(c, x)`.
    pub(crate) fn upsert<X>(
        &mut self,
        key: K,
        x: X,
        create: impl FnOnce(X) -> C,
        merge: impl FnOnce(C, X) -> C,
    ) {
        match self.index.get(&key) {
            Some(&i) => {
                let slot = &mut self.entries[i].1;
                let c = slot
                    .take()
                    .expect("combiner present (a previous merge panicked)");
                *slot = Some(merge(c, x));
            }
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, Some(create(x))));
            }
        }
    }

    /// The entries, in first-insertion order.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (K, C)> {
        self.entries
            .into_iter()
            .map(|(k, c)| (k, c.expect("combiner present (a previous merge panicked)")))
    }
}

/// `n` empty partitions.
pub(crate) fn empty_parts<X>(n: usize) -> Vec<Vec<X>> {
    (0..n).map(|_| Vec::new()).collect()
}

/// All elements of `parts`, in order.
pub(crate) fn concat<X>(parts: Vec<Vec<X>>) -> Vec<X> {
    let total = parts.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for p in parts {
        out.extend(p);
    }
    out
}

/// Splits `items` into `n` buckets, item `x` going to bucket `route(&x)` (which must be `< n`).
pub(crate) fn route_by<X>(items: Vec<X>, n: usize, route: impl Fn(&X) -> usize) -> Vec<Vec<X>> {
    let mut out = empty_parts(n);
    for x in items {
        out[route(&x)].push(x);
    }
    out
}

/// Splits keyed `items` into `n` buckets with the stable hash partitioner.
pub(crate) fn route_by_key<K: Key, X>(items: Vec<(K, X)>, n: usize) -> Vec<Vec<(K, X)>> {
    route_by(items, n, |(k, _)| partition_of(k, n))
}

/// The map side of a shuffle: `map_side(i, partition_i)` cuts input partition `i` into `n`
/// buckets, in parallel. Returns the buckets indexed `[output][input]`.
pub(crate) fn shuffle<X: Send, Y: Send>(
    ctx: &Context,
    parts: Vec<Vec<X>>,
    n: usize,
    map_side: impl Fn(usize, Vec<X>) -> Vec<Vec<Y>> + Send + Sync,
) -> Vec<Vec<Vec<Y>>> {
    let buckets: Vec<Vec<Vec<Y>>> = ctx.run(|| {
        parts
            .into_par_iter()
            .enumerate()
            .map(|(i, p)| map_side(i, p))
            .collect()
    });
    let mut out: Vec<Vec<Vec<Y>>> = (0..n).map(|_| Vec::with_capacity(buckets.len())).collect();
    for row in buckets {
        debug_assert_eq!(
            row.len(),
            n,
            "map side must produce one bucket per output partition"
        );
        for (j, bucket) in row.into_iter().enumerate() {
            out[j].push(bucket);
        }
    }
    out
}

/// A shuffle whose output partitions are the concatenation of their buckets, in input order.
pub(crate) fn exchange<X: Send, Y: Send>(
    ctx: &Context,
    parts: Vec<Vec<X>>,
    n: usize,
    map_side: impl Fn(usize, Vec<X>) -> Vec<Vec<Y>> + Send + Sync,
) -> Vec<Vec<Y>> {
    let buckets = shuffle(ctx, parts, n, map_side);
    ctx.run(|| buckets.into_par_iter().map(concat).collect())
}

/// A hash shuffle of keyed items into `n` partitions, without combining.
pub(crate) fn hash_exchange<K: Key, X: Send>(
    ctx: &Context,
    parts: Vec<Vec<(K, X)>>,
    n: usize,
) -> Vec<Vec<(K, X)>> {
    exchange(ctx, parts, n, |_, p| route_by_key(p, n))
}

/// Spark's `combineByKey` with a map-side combine: every item is split into a key and a value,
/// values are combined per key inside each input partition, the combiners are hash-shuffled into
/// `n` partitions and merged there. In every output partition keys come in the order in which
/// they were first seen (input partition order, then element order).
#[allow(clippy::too_many_arguments)]
pub(crate) fn combine_by_key<X: Send, K: Key, V, C: Send>(
    ctx: &Context,
    parts: Vec<Vec<X>>,
    n: usize,
    split: impl Fn(X) -> (K, V) + Send + Sync,
    create: impl Fn(V) -> C + Send + Sync,
    merge_value: impl Fn(C, V) -> C + Send + Sync,
    merge_combiners: impl Fn(C, C) -> C + Send + Sync,
) -> Vec<Vec<(K, C)>> {
    let buckets = shuffle(ctx, parts, n, |_, p| {
        let mut map = OrderedMap::new();
        for x in p {
            let (k, v) = split(x);
            map.upsert(k, v, &create, &merge_value);
        }
        route_by_key(map.into_entries().collect(), n)
    });
    ctx.run(|| {
        buckets
            .into_par_iter()
            .map(|inputs| {
                let mut map = OrderedMap::new();
                for (k, c) in inputs.into_iter().flatten() {
                    map.upsert(k, c, |c| c, &merge_combiners);
                }
                map.into_entries().collect()
            })
            .collect()
    })
}

/// The distinct keys of `parts`, hash-partitioned into `n` partitions, in first-seen order.
pub(crate) fn distinct_keys<X: Send, K: Key>(
    ctx: &Context,
    parts: Vec<Vec<X>>,
    n: usize,
    key: impl Fn(X) -> K + Send + Sync,
) -> Vec<Vec<K>> {
    let combined = combine_by_key(
        ctx,
        parts,
        n,
        |x| (key(x), ()),
        |()| (),
        |(), ()| (),
        |(), ()| (),
    );
    ctx.run(|| {
        combined
            .into_par_iter()
            .map(|p| p.into_iter().map(|(k, ())| k).collect())
            .collect()
    })
}

/// Range partitioning: sorts all elements with the stable order `cmp` and cuts them into `n`
/// partitions of about equal size, so that concatenating the partitions gives the sorted
/// sequence. Equal elements are never split across partitions (as with Spark's
/// `RangePartitioner`), so some partitions may be smaller or empty.
pub(crate) fn range_sort<X: Send>(
    ctx: &Context,
    parts: Vec<Vec<X>>,
    n: usize,
    cmp: impl Fn(&X, &X) -> Ordering + Send + Sync,
) -> Vec<Vec<X>> {
    let n = n.max(1);
    ctx.run(|| {
        let mut all = concat(parts);
        all.par_sort_by(|a, b| cmp(a, b));
        let len = all.len();
        let mut cuts = Vec::with_capacity(n + 1);
        cuts.push(0);
        for i in 1..n {
            let target = i * len / n;
            let prev = *cuts.last().expect("cuts start with 0");
            let cut = if target == 0 {
                0
            } else {
                // Everything equal to the nominal last element of partition i - 1 stays there.
                let bound = &all[target - 1];
                all.partition_point(|x| cmp(x, bound) != Ordering::Greater)
            };
            cuts.push(cut.max(prev));
        }
        let mut out = Vec::with_capacity(n);
        for &cut in cuts.iter().rev() {
            out.push(all.split_off(cut));
        }
        out.reverse();
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::Conf;

    fn sc() -> Context {
        Context::get_or_create(Conf::new().set_master("local[2]")).unwrap()
    }

    #[test]
    fn ordered_map_keeps_first_insertion_order() {
        let mut m: OrderedMap<&str, i32> = OrderedMap::new();
        for (k, v) in [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)] {
            m.upsert(k, v, |v| v, |c, v| c * 10 + v);
        }
        assert_eq!(
            m.into_entries().collect::<Vec<_>>(),
            vec![("b", 13), ("a", 25), ("c", 4)]
        );
    }

    #[test]
    fn exchange_keeps_input_order_per_output() {
        let parts = vec![vec![1, 2, 3, 4], vec![5, 6], vec![], vec![7, 8, 9]];
        let out = exchange(&sc(), parts, 2, |_, p| route_by(p, 2, |x| (x % 2) as usize));
        assert_eq!(out, vec![vec![2, 4, 6, 8], vec![1, 3, 5, 7, 9]]);
    }

    #[test]
    fn shuffle_indexes_output_then_input() {
        let parts = vec![vec![1, 2], vec![3]];
        let out = shuffle(&sc(), parts, 3, |_, p| route_by(p, 3, |x| *x as usize % 3));
        assert_eq!(
            out,
            vec![
                vec![vec![], vec![3]],
                vec![vec![1], vec![]],
                vec![vec![2], vec![]]
            ]
        );
    }

    #[test]
    fn range_sort_cuts_evenly_and_keeps_ties_together() {
        let ctx = sc();
        let parts = vec![vec![5, 3, 9, 1], vec![7, 2], vec![8, 4, 6, 0]];
        let out = range_sort(&ctx, parts, 3, |a: &i32, b: &i32| a.cmp(b));
        assert_eq!(out, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9]]);

        let ties = vec![vec![1, 1, 1, 1, 2, 2]];
        let out = range_sort(&ctx, ties, 3, |a: &i32, b: &i32| a.cmp(b));
        assert_eq!(out, vec![vec![1, 1, 1, 1], vec![], vec![2, 2]]);

        let few = vec![vec![2, 1]];
        let out = range_sort(&ctx, few, 4, |a: &i32, b: &i32| a.cmp(b));
        assert_eq!(out, vec![vec![], vec![1], vec![], vec![2]]);

        let none: Vec<Vec<i32>> = vec![];
        assert_eq!(
            range_sort(&ctx, none, 2, |a, b| a.cmp(b)),
            vec![Vec::<i32>::new(), vec![]]
        );
    }

    #[test]
    fn combine_by_key_combines_map_side_then_reduce_side() {
        let ctx = sc();
        let parts = vec![vec![('a', 1), ('b', 2), ('a', 3)], vec![('b', 4), ('c', 5)]];
        let out = combine_by_key(
            &ctx,
            parts,
            1,
            |kv| kv,
            |v| vec![v],
            |mut c, v| {
                c.push(v);
                c
            },
            |mut a, b| {
                a.extend(b);
                a
            },
        );
        assert_eq!(
            out,
            vec![vec![('a', vec![1, 3]), ('b', vec![2, 4]), ('c', vec![5])]]
        );
    }
}

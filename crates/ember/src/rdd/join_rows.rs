//! How a key's cogrouped values become join rows; shared by the RDD joins and the per-batch
//! DStream joins, which both join by cogrouping first, as Spark does.

/// A key with the values of both sides.
pub(crate) type Group<K, V, W> = (K, (Vec<V>, Vec<W>));

/// Every pair `(v, w)`, `v` outer, `w` inner (Spark's `join`).
pub(crate) fn inner<K: Clone, V: Clone, W: Clone>(
    (k, (vs, ws)): Group<K, V, W>,
) -> Vec<(K, (V, W))> {
    let mut out = Vec::with_capacity(vs.len() * ws.len());
    for v in &vs {
        for w in &ws {
            out.push((k.clone(), (v.clone(), w.clone())));
        }
    }
    out
}

/// As [`inner`], plus `(v, None)` when the right side has no value (Spark's `leftOuterJoin`).
pub(crate) fn left_outer<K: Clone, V: Clone, W: Clone>(
    (k, (vs, ws)): Group<K, V, W>,
) -> Vec<(K, (V, Option<W>))> {
    let mut out = Vec::with_capacity(vs.len() * ws.len().max(1));
    for v in &vs {
        if ws.is_empty() {
            out.push((k.clone(), (v.clone(), None)));
        }
        for w in &ws {
            out.push((k.clone(), (v.clone(), Some(w.clone()))));
        }
    }
    out
}

/// As [`inner`], plus `(None, w)` when the left side has no value (Spark's `rightOuterJoin`).
pub(crate) fn right_outer<K: Clone, V: Clone, W: Clone>(
    (k, (vs, ws)): Group<K, V, W>,
) -> Vec<(K, (Option<V>, W))> {
    let mut out = Vec::with_capacity(vs.len().max(1) * ws.len());
    if vs.is_empty() {
        for w in &ws {
            out.push((k.clone(), (None, w.clone())));
        }
    }
    for v in &vs {
        for w in &ws {
            out.push((k.clone(), (Some(v.clone()), w.clone())));
        }
    }
    out
}

/// As [`inner`], plus the values of a side whose other side is empty, paired with `None`
/// (Spark's `fullOuterJoin`).
#[allow(clippy::type_complexity)]
pub(crate) fn full_outer<K: Clone, V: Clone, W: Clone>(
    (k, (vs, ws)): Group<K, V, W>,
) -> Vec<(K, (Option<V>, Option<W>))> {
    let mut out = Vec::with_capacity(vs.len().max(1) * ws.len().max(1));
    if vs.is_empty() {
        out.extend(ws.iter().map(|w| (k.clone(), (None, Some(w.clone())))));
    } else if ws.is_empty() {
        out.extend(vs.iter().map(|v| (k.clone(), (Some(v.clone()), None))));
    }
    for v in &vs {
        for w in &ws {
            out.push((k.clone(), (Some(v.clone()), Some(w.clone()))));
        }
    }
    out
}

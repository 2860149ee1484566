//! Element-wise transformations: `map`, `flat_map`, `filter` (Spark's `MappedDStream`,
//! `FlatMappedDStream`, `FilteredDStream`).

use crate::data::Data;
use crate::dstream::DStream;
use crate::dstream::node::NarrowNode;

impl<T: Data> DStream<T> {
    /// Applies `f` to every element.
    pub fn map<U: Data>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> DStream<U> {
        let node = NarrowNode::new(self, "map", move |p, x, out: &mut Vec<(u32, U)>| {
            out.push((p, f(x)));
            Ok(())
        });
        self.derive(
            "map",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }

    /// Applies `f` to every element and flattens the results.
    pub fn flat_map<U: Data, I>(&self, f: impl Fn(T) -> I + Send + Sync + 'static) -> DStream<U>
    where
        I: IntoIterator<Item = U>,
    {
        let node = NarrowNode::new(self, "flat_map", move |p, x, out: &mut Vec<(u32, U)>| {
            out.extend(f(x).into_iter().map(|u| (p, u)));
            Ok(())
        });
        self.derive(
            "flat_map",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }

    /// Keeps the elements for which `f` is true.
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> DStream<T> {
        let node = NarrowNode::new(self, "filter", move |p, x, out: &mut Vec<(u32, T)>| {
            if f(&x) {
                out.push((p, x));
            }
            Ok(())
        });
        self.derive(
            "filter",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }
}

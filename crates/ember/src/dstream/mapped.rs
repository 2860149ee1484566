//! Element-wise transformations: `map`, `flat_map`, `filter` (Spark's `MappedDStream`,
//! `FlatMappedDStream`, `FilteredDStream`).

use crate::data::Data;
use crate::dstream::DStream;
use crate::dstream::node::NarrowNode;

impl<T: Data> DStream<T> {
    /// Applies `f` to every element.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let out = test_operation("local[2]", vec![vec![1, 2], vec![3]], |s| s.map(|x| x * 10), 2)?;
    /// assert_eq!(out, [vec![10, 20], vec![30]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let lines = vec![vec!["a b".to_string(), "c".to_string()]];
    /// let words = |s: &ember::DStream<String>| {
    ///     s.flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
    /// };
    /// assert_eq!(test_operation("local[2]", lines, words, 1)?, [["a", "b", "c"]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let even = test_operation("local[2]", vec![vec![1, 2, 3, 4]], |s| s.filter(|x| x % 2 == 0), 1)?;
    /// assert_eq!(even, [[2, 4]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
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

//! Element-wise transformations: `map`, `flat_map`, `filter` (Spark's `MappedDStream`,
//! `FlatMappedDStream`, `FilteredDStream`).

use std::marker::PhantomData;
use std::sync::Arc;

use crate::data::Data;
use crate::dstream::node::NarrowNode;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::error::JobError;
use crate::exec::{Builder, Flow};

type RunFn<T, U> = Arc<dyn Fn(usize, Vec<T>) -> Vec<U> + Send + Sync>;

/// `map_runs`: `f` over runs of records of one partition as they arrive.
struct RunsNode<S: Data, T> {
    parent: Upstream<S>,
    f: RunFn<S, T>,
    _out: PhantomData<fn() -> T>,
}

impl<S: Data, T: Data> Node<T> for RunsNode<S, T> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        let f = self.f.clone();
        self.parent.flow(b).narrow_runs(
            b,
            meta.id,
            "map_runs",
            move |p, run, out| -> Result<(), JobError> {
                out.extend(f(p as usize, run).into_iter().map(|u| (p, u)));
                Ok(())
            },
        )
    }
}

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
        let node = NarrowNode::new(self, "map", move |x| Some(f(x)));
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
        let node = NarrowNode::new(self, "flat_map", f);
        self.derive(
            "flat_map",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }

    /// Applies `f(partition, run)` to runs of consecutive elements of one partition, in the order
    /// they arrive, and flattens the results: an element-wise transformation whose cost is paid
    /// per run rather than per element (the Python bindings enter the interpreter this way).
    /// Unlike [`map_partitions`](Self::map_partitions), `f` never sees a partition whole and no
    /// batch is held in memory; a run holds at most what one arriving block of input holds.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let out = test_operation("local[2]", vec![vec![1, 2, 3]], |s| {
    ///     s.map_runs(|_, run: Vec<i32>| run.into_iter().map(|x| x * 10).collect())
    /// }, 1)?;
    /// assert_eq!(out, [[10, 20, 30]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map_runs<U: Data>(
        &self,
        f: impl Fn(usize, Vec<T>) -> Vec<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        let node = RunsNode {
            parent: self.upstream(),
            f: Arc::new(f),
            _out: PhantomData,
        };
        self.derive(
            "map_runs",
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
        let node = NarrowNode::new(self, "filter", move |x| f(&x).then_some(x));
        self.derive(
            "filter",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }
}

//! `repartition`: spreads each batch evenly over exactly `n` partitions (a shuffle). Spark builds
//! it on `transform`, so a batch where the parent has no RDD fails with `transform`'s message.

use std::cell::Cell;

use crate::data::Data;
use crate::dstream::presence::MissingRdd;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::exec::{Builder, Flow};

struct Repartitioned<T: Data> {
    parent: Upstream<T>,
    partitions: usize,
}

impl<T: Data> Node<T> for Repartitioned<T> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        let n = self.partitions.max(1) as u32;
        // Each worker deals its records round-robin, starting at its own index so that workers
        // do not all begin with partition 0.
        let next = Cell::new(b.worker_index() as u32 % n);
        self.parent
            .flow(b)
            .narrow(b, meta.id, "repartition", move |_p, x, out| {
                let p = next.get();
                next.set((p + 1) % n);
                out.push((p, x));
                Ok(())
            })
            .route_by_partition()
    }
}

impl<T: Data> DStream<T> {
    /// Redistributes every batch evenly over exactly `partitions` partitions (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let partitions = test_operation("local[2]", vec![vec![1, 2, 3, 4, 5]], |s| s.repartition(3).glom().count(), 1)?;
    /// assert_eq!(partitions, [[3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn repartition(&self, partitions: usize) -> DStream<T> {
        let partitions = partitions.max(1);
        let node = Repartitioned {
            parent: self.upstream(),
            partitions,
        };
        self.derive(
            "repartition",
            self.meta.slide,
            partitions,
            &[&self.meta],
            node,
        )
        .requiring_parent_rdds(MissingRdd::Transform)
    }
}

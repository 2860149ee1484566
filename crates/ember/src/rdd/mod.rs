//! Resilient distributed datasets (Spark's `RDD`): partitioned collections whose operations run
//! in parallel on the context's worker threads.

use std::sync::Arc;

use crate::context::Context;
use crate::data::Data;

/// A partitioned collection of `T`. Cloning is cheap (the partitions are shared).
#[derive(Clone)]
pub struct Rdd<T> {
    ctx: Context,
    parts: Arc<Vec<Vec<T>>>,
}

impl<T: Data> Rdd<T> {
    /// An RDD made of the given partitions.
    pub fn from_partitions(ctx: &Context, parts: Vec<Vec<T>>) -> Self {
        Rdd { ctx: ctx.clone(), parts: Arc::new(parts) }
    }

    /// The partitions, moved out when this is the only handle, cloned otherwise.
    pub fn into_partitions(self) -> Vec<Vec<T>> {
        Arc::try_unwrap(self.parts).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The partitions.
    pub fn partitions(&self) -> &[Vec<T>] {
        &self.parts
    }

    /// The context this RDD belongs to.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Applies `f` to every element.
    pub fn map<U: Data>(self, f: impl Fn(T) -> U + Send + Sync) -> Rdd<U> {
        let ctx = self.ctx.clone();
        let parts = self.into_partitions();
        let out = ctx.run(|| {
            use rayon::prelude::*;
            parts.into_par_iter().map(|p| p.into_iter().map(&f).collect()).collect()
        });
        Rdd::from_partitions(&ctx, out)
    }

    /// Every element, partition by partition.
    pub fn collect(&self) -> Vec<T> {
        self.parts.iter().flatten().cloned().collect()
    }
}

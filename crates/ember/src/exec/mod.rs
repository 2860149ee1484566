//! Execution on timely dataflow: the only module that knows timely.
//!
//! A batch is a timely epoch whose timestamp is the batch time in milliseconds. Every record in
//! a dataflow carries the index of its partition, and partition `p` lives on worker
//! `p % workers`, so an RDD's partitions keep their identity across workers and processes.
//!
//! The pieces:
//! - [`Builder`] turns the DStream graph into a dataflow, identically on every worker (timely
//!   requires every worker to build the same operators in the same order);
//! - [`Flow`] is a partitioned stream of records with a handful of primitives (narrow
//!   per-record operators, per-batch operators fed by a broadcast batch clock, routing);
//! - `run` drives the batch clock and the inputs on the driver worker (worker 0 of process 0),
//!   runs output jobs there, and keeps the other workers stepping until the dataflow ends;
//! - `cluster` connects the processes of a multi-process run.

mod build;
mod cluster;
mod ops;
mod run;

pub(crate) use build::{Builder, Flow, Tick};
pub(crate) use ops::{BatchLogic, Route};
pub(crate) use run::{Execution, OutputNode, Plan, SourceCheckpoint, launch};

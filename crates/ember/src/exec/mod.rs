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
//!   per-record operators, per-batch operators fed by a broadcast batch clock, routing, and
//!   `stepwise`: an operator that works off each record in bounded steps, so that reading a file
//!   of any size holds one step's output at a time);
//! - `chain` fuses per-record operations into their one consumer's operator, so that a record
//!   goes from the input through `map`/`flat_map`/`filter` straight into a combine;
//! - `launch` starts the worker threads and gives each its role;
//! - `input` takes the sources' blocks and batch data into a worker's dataflow;
//! - `feed` is the loop of the feeding workers other than the driver;
//! - `driver` runs the batch clock and the inputs on the driver worker (worker 0 of process 0),
//!   runs output jobs there and decides when a batch is committed, and keeps stepping until the
//!   dataflow ends;
//! - `cluster` connects the processes of a multi-process run;
//! - `control` watches them over ember's own connections: a lost process fails the run, stop
//!   requests reach the driver.

mod build;
mod chain;
mod cluster;
mod control;
mod driver;
mod feed;
mod input;
mod launch;
mod ops;
mod stepwise;

pub(crate) use build::{Builder, Flow};
pub(crate) use chain::Chain;
pub(crate) use feed::settle_steps;
pub(crate) use launch::{Execution, OutputNode, Plan, launch};
pub(crate) use ops::{BatchLogic, Route};
pub(crate) use stepwise::{Step, StepLogic};

//! The stream graph's shape: its streams and output operations, without their closures.
//!
//! ember checkpoints data, not code, so a restarted program rebuilds its graph and restores
//! data into it; that is only sound if the graph is the one the data came from. Every commit
//! therefore records the shape of the graph that wrote it, and recovery compares it with the
//! program's (see `StreamingContext::get_or_create`). The processes of a cluster compare a hash
//! of it in their handshake for the same reason.
//!
//! The shape is a serde structure, not text, so that it is read back as what it is; each entry
//! still displays in a short readable form for the error that names the first difference.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Duration;

/// The shape of a stream graph: one entry per stream and per output operation, in the order the
/// program made them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GraphShape {
    entries: Vec<ShapeEntry>,
}

/// One stream or output operation of a [`GraphShape`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ShapeEntry {
    /// A stream (an input or a transformation).
    Stream {
        /// The stream's id: its place in the order of creation.
        id: usize,
        /// The operation that made it (`map`, `reduce_by_key`, ...).
        operation: String,
        /// The ids of the streams it is computed from.
        parents: Vec<usize>,
        /// Its slide (the batch interval unless windowed).
        slide: Duration,
    },
    /// An output operation.
    Output {
        /// Its index among the outputs, which is the order its jobs run in.
        index: usize,
        /// The operation (`foreach_rdd`, `print`, ...).
        operation: String,
        /// The id of the stream it consumes.
        stream: usize,
    },
}

impl GraphShape {
    /// Adds a stream.
    pub(crate) fn push_stream(
        &mut self,
        id: usize,
        operation: &str,
        parents: Vec<usize>,
        slide: Duration,
    ) {
        self.entries.push(ShapeEntry::Stream {
            id,
            operation: operation.to_owned(),
            parents,
            slide,
        });
    }

    /// Adds an output operation.
    pub(crate) fn push_output(&mut self, index: usize, operation: &str, stream: usize) {
        self.entries.push(ShapeEntry::Output {
            index,
            operation: operation.to_owned(),
            stream,
        });
    }

    /// The entries, in the order they were made.
    pub(crate) fn entries(&self) -> &[ShapeEntry] {
        &self.entries
    }
}

/// `id:operation:[parents]:slide ms` for a stream, `output n:operation:stream` for an output.
impl fmt::Display for ShapeEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeEntry::Stream {
                id,
                operation,
                parents,
                slide,
            } => write!(f, "{id}:{operation}:{parents:?}:{}", slide.as_millis()),
            ShapeEntry::Output {
                index,
                operation,
                stream,
            } => write!(f, "output {index}:{operation}:{stream}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written_and_display_readably() {
        let mut shape = GraphShape::default();
        shape.push_stream(0, "queue_stream", vec![], Duration::seconds(1));
        shape.push_stream(1, "map", vec![0], Duration::seconds(1));
        shape.push_output(0, "foreach_rdd", 1);
        let bytes = postcard::to_allocvec(&shape).unwrap();
        let back: GraphShape = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, shape);
        let shown: Vec<String> = back.entries().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "0:queue_stream:[]:1000",
                "1:map:[0]:1000",
                "output 0:foreach_rdd:1"
            ]
        );
    }
}

//! The checkpoint side of an input source: the data a source commits with a batch (a directory
//! stream's processed files, a receiver's write-ahead-log position) and what it may forget once
//! older commits are gone.

use crate::time::Time;

/// The checkpoint side of an input source (a supertrait of every `InputSource<T>`), so that the
/// driver can commit sources of any element type, also after their inputs have closed.
pub(crate) trait SourceCheckpoint: Send + Sync {
    /// The source's checkpoint data as of the end of batch `upto`, if it has any.
    fn checkpoint(&self, _upto: Time) -> Option<Vec<u8>> {
        None
    }
    /// Batch `upto` is the oldest committed batch kept: what only earlier batches needed can go.
    fn committed(&self, _upto: Time) {}
}

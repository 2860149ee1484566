//! The socket input (`socket_text_stream`): the socket receiver stores chunks of lines (many
//! lines in one allocation), and the worker that takes a chunk cuts it into one `String` per
//! line, so that the allocations happen on the worker that will free them.

use std::sync::Arc;

use crate::checkpoint::SourceCheckpoint;
use crate::conf::Conf;
use crate::dstream::input::InputSource;
use crate::dstream::input::receiver::{Blocks, launch_receiver};
use crate::receiver::SocketReceiver;
use crate::receiver::lines::TextChunk;
use crate::receiver::socket::SocketChunks;
use crate::scheduler::runtime::Runtime;
use crate::time::Time;

/// The socket receiver's chunks of lines, turned into one `String` per line by the worker that
/// takes them.
pub(crate) struct SocketSource {
    blocks: Blocks<TextChunk>,
}

impl SocketSource {
    pub(crate) fn launch(
        receiver: SocketReceiver,
        stream_id: usize,
        rt: &Arc<Runtime>,
        conf: &Conf,
    ) -> Self {
        let blocks = launch_receiver(Box::new(SocketChunks(receiver)), stream_id, rt, conf);
        SocketSource { blocks }
    }
}

impl SourceCheckpoint for SocketSource {
    fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        self.blocks.checkpoint(upto)
    }
    fn committed(&self, upto: Time) {
        self.blocks.committed(upto)
    }
}

impl InputSource<String> for SocketSource {
    fn poll(&self, batch: Time) -> Option<Vec<String>> {
        let chunks = self.blocks.poll(batch)?;
        let mut lines = Vec::with_capacity(chunks.iter().map(|c| c.len() / 64).sum());
        for chunk in &chunks {
            chunk.lines(&mut lines);
        }
        Some(lines)
    }

    fn stop(&self) {
        self.blocks.stop();
    }
}

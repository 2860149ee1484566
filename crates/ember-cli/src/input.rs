//! `--socket HOST:PORT` or `--dir DIR`: the input of every command that reads a stream, declared
//! once so that `ember wordcount` and `ember sql` accept the same flags with the same help.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use ember::{DStream, StreamingContext};

/// Where a command's lines come from: a TCP server or the new files of a directory (exactly
/// one of the two).
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Read lines from this TCP server (`HOST:PORT`), as `socketTextStream`.
    #[arg(
        long,
        value_name = "HOST:PORT",
        conflicts_with = "dir",
        required_unless_present = "dir"
    )]
    pub socket: Option<String>,
    /// Read new files moved into this directory, as `textFileStream`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl InputArgs {
    /// Lines from the TCP server `--socket` or from the new files of directory `--dir`.
    pub fn lines(&self, ssc: &StreamingContext) -> Result<DStream<String>> {
        if let Some(addr) = &self.socket {
            let (host, port) = addr
                .rsplit_once(':')
                .with_context(|| format!("--socket {addr}: expected HOST:PORT"))?;
            let port: u16 = port
                .parse()
                .with_context(|| format!("--socket {addr}: bad port"))?;
            Ok(ssc.socket_text_stream(host, port))
        } else if let Some(dir) = &self.dir {
            if !dir.is_dir() {
                bail!("--dir {}: no such directory", dir.display());
            }
            Ok(ssc.text_file_stream(dir))
        } else {
            bail!("give --socket HOST:PORT or --dir DIR")
        }
    }
}

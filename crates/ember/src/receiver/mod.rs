//! Receivers: long-running sources that push records into the stream.

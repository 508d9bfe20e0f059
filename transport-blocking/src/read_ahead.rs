//! Read-ahead of response bodies on their own thread: receiving the next bytes of a body
//! overlaps decoding (and decompressing) the previous ones, so one split read keeps two
//! cores busy instead of alternating network and decode on one.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use bytes::{Bytes, BytesMut};

use crate::transport::ResponseBody;

/// Most bytes read from the body at a time. Large enough that most record batch
/// messages of a split (typically a few hundred KiB) arrive whole in one chunk, which the
/// decoder then slices without copying; measured against 64 KiB – 4 MiB (BENCHMARKS.md).
const CHUNK: usize = 1024 * 1024;

/// A read buffer with less room left than this is replaced by a new one of [`CHUNK`].
const MIN_READ: usize = 128 * 1024;

/// Chunks read ahead and not yet taken: with [`CHUNK`], at most 3 MiB per body in flight
/// (two queued, one being read). Deeper queues measured no faster: the bytes leave the
/// cache before the decoder gets them.
const DEPTH: usize = 2;

/// What the reading thread saw.
enum Chunk {
    Data(Bytes),
    End,
    Failed(std::io::Error),
}

/// A response body read ahead by a thread of its own. Dropping it stops the thread at
/// its next chunk (and drops the body, closing the connection if it was not read to the
/// end).
pub(crate) struct ReadAhead {
    chunks: Receiver<Chunk>,
    ended: bool,
}

impl ReadAhead {
    /// Starts reading `body` on a new thread. If no thread can be started, the first
    /// [`next`](Self::next) fails (a broken read, which the split reader retries).
    pub(crate) fn start(body: ResponseBody) -> ReadAhead {
        let (tx, rx) = sync_channel(DEPTH);
        let failed = tx.clone();
        let spawned = crate::spawn::spawn("maxstorage-read-ahead", move || pump(body, tx));
        if let Err(e) = spawned {
            let _ = failed.send(Chunk::Failed(std::io::Error::other(format!(
                "cannot start the read-ahead thread: {e}"
            ))));
        }
        ReadAhead {
            chunks: rx,
            ended: false,
        }
    }

    /// The next bytes of the body: `Ok(None)` at its end.
    pub(crate) fn next(&mut self) -> std::io::Result<Option<Bytes>> {
        if self.ended {
            return Ok(None);
        }
        match self.chunks.recv() {
            Ok(Chunk::Data(bytes)) => Ok(Some(bytes)),
            Ok(Chunk::End) => {
                self.ended = true;
                Ok(None)
            }
            Ok(Chunk::Failed(e)) => {
                self.ended = true;
                Err(e)
            }
            Err(_) => {
                self.ended = true;
                Err(std::io::Error::other(
                    "the read-ahead thread ended without finishing the body",
                ))
            }
        }
    }
}

/// The reading thread: body chunks into the channel until the end, an error, or the
/// receiver is gone.
fn pump(mut body: ResponseBody, tx: SyncSender<Chunk>) {
    // Each chunk is read into a buffer of its own that becomes the chunk: the decoder keeps
    // slices of it (zero-copy), so it cannot be reused, and copying out of a reused one
    // would cost a copy of every byte.
    let mut buf = BytesMut::new();
    loop {
        if buf.len() < MIN_READ {
            buf = BytesMut::zeroed(CHUNK);
        }
        let chunk = match body.read(&mut buf) {
            Ok(0) => Chunk::End,
            Ok(n) => Chunk::Data(buf.split_to(n).freeze()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Chunk::Failed(e),
        };
        let last = !matches!(chunk, Chunk::Data(_));
        if tx.send(chunk).is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that yields `data` in pieces of `piece` bytes, then fails when `fail`.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        piece: usize,
        fail: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "reset",
                    ))
                } else {
                    Ok(0)
                };
            }
            let n = self.piece.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn body(len: usize, fail: bool) -> (Vec<u8>, ResponseBody) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let reader = Pieces {
            data: data.clone(),
            at: 0,
            piece: 100_003,
            fail,
        };
        (data, Box::new(reader))
    }

    #[test]
    fn delivers_every_byte_in_order_then_the_end() {
        let (data, b) = body(3 * CHUNK + 17, false);
        let mut ahead = ReadAhead::start(b);
        let mut got = Vec::new();
        while let Some(chunk) = ahead.next().unwrap() {
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, data);
        assert!(ahead.next().unwrap().is_none(), "the end stays the end");
    }

    #[test]
    fn a_broken_body_is_an_error_after_its_bytes() {
        let (data, b) = body(CHUNK + 5, true);
        let mut ahead = ReadAhead::start(b);
        let mut got = Vec::new();
        let err = loop {
            match ahead.next() {
                Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                Ok(None) => panic!("a broken body must not end cleanly"),
                Err(e) => break e,
            }
        };
        assert_eq!(got, data);
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn dropping_it_stops_the_thread_and_drops_the_body() {
        /// An endless body that reports when it is dropped.
        struct Endless(std::sync::mpsc::Sender<()>);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                Ok(buf.len())
            }
        }
        impl Drop for Endless {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (dropped_tx, dropped) = std::sync::mpsc::channel();
        let mut ahead = ReadAhead::start(Box::new(Endless(dropped_tx)));
        assert!(ahead.next().unwrap().is_some());
        drop(ahead);
        dropped
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the read-ahead thread stops and drops the body");
    }
}

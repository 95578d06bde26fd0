//! A connection's queue of frames to write, bounded in frames and in bytes.
//!
//! A bound in frames alone does not bound memory: every sync step 1 a client
//! sends is answered with a frame of its own (the whole document, for an
//! empty state vector), so a client that asks a thousand times and never
//! reads would make the server hold a thousand copies of the document. The
//! byte bound closes it as a slow consumer long before. One frame larger
//! than the bound still goes through on an empty queue: the first sync of a
//! large document must reach its client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::room::CloseReason;

/// What a room sends to a connection.
#[derive(Debug)]
pub enum Outbound {
    /// One protocol message, in its own binary frame.
    Frame(Bytes),
    /// Close the socket after the frames before this one.
    Close(CloseReason),
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds its limit of frames or bytes: a slow consumer.
    Full,
    /// The connection has gone.
    Closed,
}

/// The room's end of a connection's queue.
#[derive(Debug)]
pub struct Sender {
    frames: mpsc::Sender<Outbound>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The connection's end: frames in the order they were queued.
#[derive(Debug)]
pub struct Receiver {
    frames: mpsc::Receiver<Outbound>,
    queued: Arc<AtomicUsize>,
}

/// A queue of at most `max_frames` frames and `max_bytes` bytes of frames.
pub fn channel(max_frames: usize, max_bytes: usize) -> (Sender, Receiver) {
    let (sender, receiver) = mpsc::channel(max_frames.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Sender {
            frames: sender,
            queued: queued.clone(),
            max_bytes,
        },
        Receiver {
            frames: receiver,
            queued,
        },
    )
}

impl Sender {
    /// Queues a frame, unless the queue is full (in frames, or in bytes
    /// while it holds anything) or the connection has gone.
    pub fn try_send_frame(&self, frame: Bytes) -> Result<(), Refused> {
        let len = frame.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before.saturating_add(len) > self.max_bytes {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        self.frames
            .try_send(Outbound::Frame(frame))
            .map_err(|error| {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                match error {
                    mpsc::error::TrySendError::Full(_) => Refused::Full,
                    mpsc::error::TrySendError::Closed(_) => Refused::Closed,
                }
            })
    }

    /// Queues a close behind the frames already queued.
    pub fn try_close(&self, reason: CloseReason) -> Result<(), Refused> {
        self.frames
            .try_send(Outbound::Close(reason))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            })
    }

    /// Whether the connection has gone.
    pub fn is_closed(&self) -> bool {
        self.frames.is_closed()
    }

    /// Bytes of frames queued and not yet taken by the connection.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

impl Receiver {
    fn taken(&self, outbound: &Outbound) {
        if let Outbound::Frame(frame) = outbound {
            self.queued.fetch_sub(frame.len(), Ordering::AcqRel);
        }
    }

    /// The next frame or close; `None` once the room has let go.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let outbound = self.frames.recv().await?;
        self.taken(&outbound);
        Some(outbound)
    }

    /// The next frame or close if one is queued.
    pub fn try_recv(&mut self) -> Result<Outbound, mpsc::error::TryRecvError> {
        let outbound = self.frames.try_recv()?;
        self.taken(&outbound);
        Ok(outbound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_in_bytes_but_passes_one_large_frame() {
        let (sender, mut receiver) = channel(100, 1000);
        // One frame over the bound goes through on an empty queue…
        assert_eq!(sender.try_send_frame(Bytes::from(vec![0; 5000])), Ok(()));
        // …but nothing more until it is taken.
        assert_eq!(
            sender.try_send_frame(Bytes::from(vec![0; 10])),
            Err(Refused::Full)
        );
        assert!(matches!(receiver.try_recv(), Ok(Outbound::Frame(f)) if f.len() == 5000));
        assert_eq!(sender.queued_bytes(), 0);
        for _ in 0..10 {
            assert_eq!(sender.try_send_frame(Bytes::from(vec![0; 100])), Ok(()));
        }
        assert_eq!(sender.queued_bytes(), 1000);
        assert_eq!(
            sender.try_send_frame(Bytes::from(vec![0; 1])),
            Err(Refused::Full)
        );
        assert!(receiver.try_recv().is_ok());
        assert_eq!(sender.try_send_frame(Bytes::from(vec![0; 100])), Ok(()));
    }

    #[test]
    fn the_queue_is_bounded_in_frames() {
        let (sender, receiver) = channel(2, usize::MAX);
        assert_eq!(sender.try_send_frame(Bytes::from_static(b"a")), Ok(()));
        assert_eq!(sender.try_send_frame(Bytes::from_static(b"b")), Ok(()));
        assert_eq!(
            sender.try_send_frame(Bytes::from_static(b"c")),
            Err(Refused::Full)
        );
        // A refused frame is not counted.
        assert_eq!(sender.queued_bytes(), 2);
        drop(receiver);
        assert!(sender.is_closed());
        assert_eq!(
            sender.try_send_frame(Bytes::from_static(b"d")),
            Err(Refused::Closed)
        );
    }
}

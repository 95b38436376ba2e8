//! Packet I/O behind a trait, and the worker loop.
//!
//! [`PacketIo`] is what an I/O backend provides: a batch of received frames
//! (borrowed, zero-copy where the backend allows) and batched transmit. The
//! AF_PACKET backend is [`crate::afpacket::AfPacketIo`]; an AF_XDP backend
//! would implement the same two methods over its UMEM rings.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::decide::Decider;
use crate::plane::{Dataplane, RxMeta, TxFrame};

/// A packet I/O backend.
pub trait PacketIo {
    /// Waits up to `timeout` for frames, then hands every ready frame to `f`.
    /// Returns the number of frames.
    fn recv(&mut self, timeout: Duration, f: &mut dyn FnMut(&RxMeta, &[u8])) -> io::Result<usize>;
    /// Transmits frames (each on its `ifindex`). Returns how many were sent.
    fn send(&mut self, frames: &[TxFrame]) -> io::Result<usize>;
}

/// Worker loop settings.
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    /// Longest wait for frames before running timers.
    pub poll: Duration,
    /// Interval of the periodic callback (timers, routing refresh, stats).
    pub tick: Duration,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(20),
            tick: Duration::from_millis(100),
        }
    }
}

/// Runs the data plane until `stop` is set: receive a batch, decide and
/// rewrite each frame, transmit the batch; every `tick`, run the plane's
/// timers and `periodic` (given `now`). `clock` returns monotonic time since
/// the plane started.
pub fn run<I, D, C, P>(
    io: &mut I,
    plane: &mut Dataplane<D>,
    clock: C,
    cfg: LoopConfig,
    stop: &AtomicBool,
    mut periodic: P,
) -> io::Result<()>
where
    I: PacketIo,
    D: Decider,
    C: Fn() -> Duration,
    P: FnMut(Duration, &mut Dataplane<D>),
{
    let mut out: Vec<TxFrame> = Vec::with_capacity(256);
    let mut next_tick = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        let mut now = clock();
        io.recv(cfg.poll, &mut |meta, frame| {
            plane.handle(now, meta, frame, &mut out);
        })?;
        if !out.is_empty() {
            // A full transmit queue drops frames, like a NIC would.
            let _ = io.send(&out);
            plane.recycle(out.drain(..));
        }
        now = clock();
        if now >= next_tick {
            plane.tick(now);
            periodic(now, plane);
            next_tick = now + cfg.tick;
            plane.take_pending(&mut out);
            if !out.is_empty() {
                let _ = io.send(&out);
                plane.recycle(out.drain(..));
            }
        }
    }
    Ok(())
}

//! The consumer side of a BPF ring buffer map: mmap'ed positions and data, records read in place.
//!
//! Layout (kernel `bpf_ringbuf`): page 0 holds the consumer position (mapped read-write), page 1
//! the producer position, then the data area mapped twice in a row so a record that wraps around
//! the end can be read contiguously. Each record has an 8-byte header: u32 length with the BUSY
//! (bit 31, still being written) and DISCARD (bit 30) flags, and a u32 page offset; records are
//! padded to 8 bytes.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::RuntimeError;
use crate::sys::{self, SharedMapping};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HEADER_SIZE: u64 = 8;

/// What the record callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Exit,
}

/// A mapped ring buffer being consumed.
#[derive(Debug)]
pub struct RingBufferConsumer {
    consumer_page: SharedMapping,
    producer_and_data: SharedMapping,
    page_size: usize,
    data_size: u64,
}

impl RingBufferConsumer {
    /// Maps the ring buffer map `fd` whose size (max_entries) is `data_size`.
    pub fn new(fd: BorrowedFd<'_>, data_size: u32) -> Result<RingBufferConsumer, RuntimeError> {
        let page_size = sys::page_size();
        let data_size_usize = data_size as usize;
        if !data_size.is_power_of_two() || data_size_usize < page_size {
            return Err(RuntimeError::InvalidProgram(format!(
                "ring buffer size {data_size} is not a power-of-2 number of pages"
            )));
        }
        let consumer_page = SharedMapping::new(fd, page_size, true, 0).map_err(|error| {
            RuntimeError::syscall("mapping the ring buffer consumer page", error)
        })?;
        let producer_and_data =
            SharedMapping::new(fd, page_size + 2 * data_size_usize, false, page_size)
                .map_err(|error| RuntimeError::syscall("mapping the ring buffer data", error))?;
        Ok(RingBufferConsumer {
            consumer_page,
            producer_and_data,
            page_size,
            data_size: u64::from(data_size),
        })
    }

    fn consumer_position(&self) -> &AtomicU64 {
        // SAFETY: the consumer page is page-aligned, at least 8 bytes long, lives as long as
        // self, and is only accessed atomically (the kernel reads it concurrently).
        unsafe { &*(self.consumer_page.as_ptr() as *const AtomicU64) }
    }

    fn producer_position(&self) -> &AtomicU64 {
        // SAFETY: as above; the kernel writes it concurrently, we only load it atomically.
        unsafe { &*(self.producer_and_data.as_ptr() as *const AtomicU64) }
    }

    /// Bytes produced but not yet consumed.
    pub fn pending_bytes(&self) -> u64 {
        let consumer = self.consumer_position().load(Ordering::Acquire);
        self.producer_position()
            .load(Ordering::Acquire)
            .wrapping_sub(consumer)
    }

    /// Calls `on_record` for every committed record now in the buffer, in order, and frees them.
    /// Stops early (leaving the rest) when the callback returns `Control::Exit`, or at a record
    /// still being written. Returns how many records were delivered and whether Exit was asked.
    pub fn consume(&mut self, on_record: &mut dyn FnMut(&[u8]) -> Control) -> (u64, Control) {
        let mask = self.data_size - 1;
        let data_start = self.page_size;
        let mapping_length = self.producer_and_data.len();
        let mut consumer = self.consumer_position().load(Ordering::Acquire);
        let mut delivered = 0u64;
        loop {
            let producer = self.producer_position().load(Ordering::Acquire);
            if consumer >= producer {
                return (delivered, Control::Continue);
            }
            while consumer < producer {
                let header_offset = data_start + (consumer & mask) as usize;
                if header_offset + HEADER_SIZE as usize > mapping_length {
                    return (delivered, Control::Continue);
                }
                // SAFETY: header_offset is within the mapping (checked above) and 8-byte aligned
                // (records are 8-byte padded); the kernel publishes the header with a release
                // store, so we read it atomically with acquire.
                let header = unsafe {
                    (*(self.producer_and_data.as_ptr().add(header_offset) as *const AtomicU32))
                        .load(Ordering::Acquire)
                };
                if header & BUSY_BIT != 0 {
                    // Not committed yet: come back on the next wake-up.
                    return (delivered, Control::Continue);
                }
                let length = u64::from(header & !(BUSY_BIT | DISCARD_BIT));
                let record_start = header_offset + HEADER_SIZE as usize;
                let mut control = Control::Continue;
                if header & DISCARD_BIT == 0 {
                    let record_end = record_start.saturating_add(length as usize);
                    if record_end > mapping_length {
                        return (delivered, Control::Continue);
                    }
                    // SAFETY: [record_start, record_end) lies inside the read-only data mapping
                    // (checked), which is mapped twice so a wrapped record is contiguous; the
                    // kernel does not touch a committed record until we advance past it.
                    let record = unsafe {
                        std::slice::from_raw_parts(
                            self.producer_and_data.as_ptr().add(record_start),
                            length as usize,
                        )
                    };
                    control = on_record(record);
                    delivered += 1;
                }
                consumer += (length + HEADER_SIZE).div_ceil(8) * 8;
                // Free the space right away so producers can reuse it.
                self.consumer_position().store(consumer, Ordering::Release);
                if control == Control::Exit {
                    return (delivered, Control::Exit);
                }
            }
        }
    }
}

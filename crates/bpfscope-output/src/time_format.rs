//! Local wall-clock time through the C library's `localtime_r` + `strftime`, for `time(fmt)` and `strftime()`.

/// Formats the current local time with a strftime `format`. Returns an empty string if the format
/// contains a NUL byte or expands to more than 64 KiB.
pub fn format_local_now(format: &str) -> Vec<u8> {
    // SAFETY: time(NULL) only returns the current time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    format_local_seconds(format, now)
}

/// Nanoseconds of a clock now (0 if the clock cannot be read).
fn clock_nanoseconds(clock: libc::clockid_t) -> i128 {
    // SAFETY: an all-zero timespec is valid; clock_gettime only writes it.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the call.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return 0;
    }
    i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)
}

/// `strftime(format, nsecs)`: a timestamp of the kernel's clock (`nsecs`, nanoseconds since boot)
/// as local wall-clock time, as bpftrace does: the offset between the real-time clock and the
/// boot clock is added. `%f` prints the microseconds (6 digits), which C's strftime lacks.
pub fn format_boot_timestamp(format: &str, boot_nanoseconds: u64) -> Vec<u8> {
    let offset = clock_nanoseconds(libc::CLOCK_REALTIME) - clock_nanoseconds(libc::CLOCK_BOOTTIME);
    let wall = offset + i128::from(boot_nanoseconds);
    let seconds = wall.div_euclid(1_000_000_000);
    let microseconds = wall.rem_euclid(1_000_000_000) / 1_000;
    let format = expand_microseconds(format, microseconds as u32);
    format_local_seconds(&format, seconds as libc::time_t)
}

/// Replaces `%f` (but not `%%f`) by six digits of microseconds.
fn expand_microseconds(format: &str, microseconds: u32) -> String {
    let mut out = String::with_capacity(format.len());
    let mut characters = format.chars();
    while let Some(character) = characters.next() {
        if character != '%' {
            out.push(character);
            continue;
        }
        match characters.next() {
            Some('f') => out.push_str(&format!("{microseconds:06}")),
            Some(next) => {
                out.push('%');
                out.push(next);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Formats `seconds` since the epoch as local time with a strftime `format`.
fn format_local_seconds(format: &str, now: libc::time_t) -> Vec<u8> {
    let Ok(c_format) = std::ffi::CString::new(format) else {
        return Vec::new();
    };
    if format.is_empty() {
        return Vec::new();
    }
    // SAFETY: an all-zero `tm` is a valid value for localtime_r to overwrite.
    let mut broken_down: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    if unsafe { libc::localtime_r(&now, &mut broken_down) }.is_null() {
        return Vec::new();
    }
    let mut capacity = 256usize;
    while capacity <= 65_536 {
        let mut buffer = vec![0u8; capacity];
        // SAFETY: the buffer has `capacity` writable bytes, the format is NUL-terminated and `tm` is valid.
        let written = unsafe {
            libc::strftime(
                buffer.as_mut_ptr().cast::<libc::c_char>(),
                capacity,
                c_format.as_ptr(),
                &broken_down,
            )
        };
        // strftime returns 0 both for "did not fit" and for an empty result; a bigger buffer tells them apart.
        if written > 0 {
            buffer.truncate(written);
            return buffer;
        }
        capacity *= 4;
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fixed_and_clock_fields() {
        assert_eq!(format_local_now("literal %% text"), b"literal % text");
        let clock = format_local_now("%H:%M:%S\n");
        assert_eq!(clock.len(), 9);
        assert_eq!(clock.get(2), Some(&b':'));
        assert_eq!(format_local_now("bad\0format"), b"");
    }

    #[test]
    fn boot_timestamps_become_wall_clock_with_microseconds() {
        assert_eq!(expand_microseconds("%S.%f %%f", 42), "%S.000042 %%f");
        let now = clock_nanoseconds(libc::CLOCK_BOOTTIME) as u64;
        let printed = format_boot_timestamp("%Y", now);
        assert_eq!(printed, format_local_now("%Y"));
        let micro = format_boot_timestamp("%f", 1_234_567_000);
        assert_eq!(micro.len(), 6);
    }
}

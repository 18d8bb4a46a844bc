//! Local wall-clock time through the C library's `localtime_r` + `strftime`, for `time(fmt)`.

/// Formats the current local time with a strftime `format`. Returns an empty string if the format
/// contains a NUL byte or expands to more than 64 KiB.
pub fn format_local_now(format: &str) -> Vec<u8> {
    let Ok(c_format) = std::ffi::CString::new(format) else {
        return Vec::new();
    };
    if format.is_empty() {
        return Vec::new();
    }
    // SAFETY: time(NULL) only returns the current time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
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
}

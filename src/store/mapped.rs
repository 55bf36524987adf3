//! Giving LMDB's mapped pages back after a drain (issue #11).
//!
//! LMDB reads through a shared, read-only memory map of `data.mdb`. Every page a reader
//! touches stays mapped into the process (it shows as RssFile) until the kernel needs the
//! memory: after draining a 5-million-message backlog that is gigabytes of file pages,
//! although no message is left. Once the store holds no message any more, the writer thread
//! drops those mappings with `madvise(MADV_DONTNEED)`. That is always safe for a shared file
//! mapping: the pages stay in the page cache and in the file, and a later access maps them
//! again (a minor fault), so readers holding slices into the map see the same bytes.
//!
//! The map's address is not exposed by LMDB, so it is found in `/proc/self/maps` by the data
//! file's path; elsewhere than on Linux this does nothing.
#![allow(unsafe_code)]

use std::path::Path;

use super::env::Shared;

/// Drops the data file's mapped pages from the process's resident set; returns how many
/// bytes of mapping were advised. Holds the environment shared, so the map cannot be
/// resized (moved) meanwhile.
#[cfg(target_os = "linux")]
pub(crate) fn release(shared: &Shared, data_file: &Path) -> usize {
    let guard = shared.env.read();
    if guard.is_none() {
        return 0;
    }
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let Some(path) = data_file.to_str() else {
        return 0;
    };
    let mut released = 0;
    for (start, end) in maps.lines().filter_map(|line| mapping_of(line, path)) {
        let Some(len) = end.checked_sub(start) else {
            continue;
        };
        // SAFETY: [start, end) is a mapping of LMDB's data file in this process, read from
        // /proc/self/maps while `shared.env` is held shared, so it cannot be unmapped or
        // moved (only `grow` and close do that, and they take the lock exclusively).
        // MADV_DONTNEED on a shared file mapping only drops page-table entries: the data
        // stays in the file and the page cache and is mapped again on the next access.
        let r = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if r == 0 {
            released += len;
        } else {
            tracing::debug!(error = %std::io::Error::last_os_error(), "madvise on the store map failed");
        }
    }
    drop(guard);
    released
}

/// Elsewhere the kernel is left to reclaim the pages.
#[cfg(not(target_os = "linux"))]
pub(crate) fn release(_shared: &Shared, _data_file: &Path) -> usize {
    0
}

/// The address range of a `/proc/self/maps` line if it maps `path`.
fn mapping_of(line: &str, path: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    // perms, offset, device, inode, then the path (which may contain spaces).
    let rest: Vec<&str> = fields.skip(4).collect();
    if rest.join(" ") != path {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::mapping_of;

    #[test]
    fn finds_the_data_files_mapping_only() {
        let path = "/var/lib/warren/data.mdb";
        let line = "7f12a0000000-7f12b0000000 r--s 00000000 fd:01 123 /var/lib/warren/data.mdb";
        assert_eq!(
            mapping_of(line, path),
            Some((0x7f12_a000_0000, 0x7f12_b000_0000))
        );
        let other = "7f12a0000000-7f12b0000000 r--s 00000000 fd:01 124 /var/lib/warren/lock.mdb";
        assert_eq!(mapping_of(other, path), None);
        assert_eq!(
            mapping_of("7f12a0000000-7f12b0000000 rw-p 0 00:00 0", path),
            None
        );
    }
}

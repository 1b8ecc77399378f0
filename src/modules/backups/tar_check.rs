//! A streaming check of a tar archive's structure: fed the archive in chunks of any size, it
//! checks every header's checksum, skips the entries' data by their sizes, counts the entries and
//! requires the end-of-archive marker. Nothing is buffered beyond one 512-byte header.

const BLOCK: usize = 512;

/// The state of a check in progress.
#[derive(Debug, Default)]
pub struct TarCheck {
    header: Vec<u8>,
    /// Data (and padding) bytes of the current entry still to skip.
    skip: u64,
    zero_blocks: u8,
    ended: bool,
    entries: u64,
}

impl TarCheck {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the archive.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            if self.ended {
                // Padding after the end marker (a record's rest) must be zeros.
                if data.iter().any(|&b| b != 0) {
                    return Err("data after the end of the archive".into());
                }
                return Ok(());
            }
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let take = (BLOCK - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.header.len() == BLOCK {
                let block = std::mem::take(&mut self.header);
                self.block(&block)?;
            }
        }
        Ok(())
    }

    fn block(&mut self, block: &[u8]) -> Result<(), String> {
        if block.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks == 2 {
                self.ended = true;
            }
            return Ok(());
        }
        if self.zero_blocks > 0 {
            return Err(format!(
                "a zero block before entry {} of the archive",
                self.entries + 1
            ));
        }
        let stored = octal(&block[148..156])
            .ok_or_else(|| format!("entry {}: unreadable header checksum", self.entries + 1))?;
        let sum: u64 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if sum != stored {
            return Err(format!(
                "entry {}: header checksum mismatch",
                self.entries + 1
            ));
        }
        let size = size_field(&block[124..136])
            .ok_or_else(|| format!("entry {}: unreadable size", self.entries + 1))?;
        self.skip = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        // Extended headers and GNU long names describe the next entry; they are not entries.
        if !matches!(block[156], b'x' | b'g' | b'L' | b'K') {
            self.entries += 1;
        }
        Ok(())
    }

    /// Ends the check: the number of entries (files, directories, links) when the archive was
    /// complete.
    pub fn finish(&self) -> Result<u64, String> {
        if !self.ended {
            return Err("the archive is truncated (no end-of-archive marker)".into());
        }
        Ok(self.entries)
    }
}

fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// A size: octal, or base-256 when the first byte's high bit is set (GNU, large files).
fn size_field(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    octal(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: u64, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..262].copy_from_slice(b"ustar");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn archive() -> Vec<u8> {
        let mut a = header("data/", 0, b'5');
        a.extend(header("data/a", 700, b'0'));
        a.extend(vec![7u8; 700]);
        a.extend(vec![0u8; 1024 - 700]);
        a.extend(vec![0u8; 1024]);
        a
    }

    #[test]
    fn counts_entries_whatever_the_chunk_size() {
        let a = archive();
        for chunk in [1, 7, 511, 512, 513, 4096] {
            let mut c = TarCheck::new();
            for part in a.chunks(chunk) {
                c.feed(part).unwrap();
            }
            assert_eq!(c.finish().unwrap(), 2, "chunk {chunk}");
        }
    }

    #[test]
    fn refuses_a_corrupted_header_and_a_truncated_archive() {
        let mut a = archive();
        a[600] ^= 1;
        let mut c = TarCheck::new();
        assert!(c.feed(&a).unwrap_err().contains("checksum"));
        let a = archive();
        let mut c = TarCheck::new();
        c.feed(&a[..1500]).unwrap();
        assert!(c.finish().unwrap_err().contains("truncated"));
    }
}

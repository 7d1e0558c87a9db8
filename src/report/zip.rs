//! A minimal ZIP archive (method "stored", no compression) of the CSV report, so the whole
//! report travels as one HTTP response; and its reader, for the CLI that unpacks it. CSV of a
//! few hundred kilobytes needs no compression, and the format stays readable by every unzip.

/// Errors reading an archive.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error(
        "the archive is truncated or not a stored ZIP written by jumpcloud-operator (at byte {0})"
    )]
    Malformed(usize),
    #[error("entry {0:?} does not match its CRC-32: the download is damaged")]
    Crc(String),
    #[error("entry name {0:?} is not a plain file name")]
    Name(String),
}

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
/// 1980-01-01 00:00, the earliest DOS date: the archive does not depend on the clock.
const DOS_DATE: u16 = (1 << 5) | 1;

fn u16le(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// The files as a stored ZIP, in the given order. Sizes stay far below ZIP's 4 GiB limits (a
/// CSV report is small), so no ZIP64.
pub fn write_zip(files: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, contents) in files {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(contents.as_bytes());
        let size = contents.len() as u32;
        let header = |out: &mut Vec<u8>| {
            u16le(out, 20); // version needed: 2.0
            u16le(out, 0x0800); // flags: UTF-8 names
            u16le(out, 0); // method: stored
            u16le(out, 0); // time
            u16le(out, DOS_DATE);
            u32le(out, crc);
            u32le(out, size);
            u32le(out, size);
            u16le(out, name.len() as u16);
            u16le(out, 0); // extra length
        };
        u32le(&mut out, LOCAL);
        header(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(contents.as_bytes());
        u32le(&mut central, CENTRAL);
        u16le(&mut central, 20); // made by
        header(&mut central);
        u16le(&mut central, 0); // comment length
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attributes
        u32le(&mut central, 0o100644 << 16); // external: a regular file, rw-r--r--
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    let central_size = central.len() as u32;
    out.extend_from_slice(&central);
    u32le(&mut out, END);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, files.len() as u16);
    u16le(&mut out, files.len() as u16);
    u32le(&mut out, central_size);
    u32le(&mut out, central_offset);
    u16le(&mut out, 0);
    out
}

/// The files of a stored ZIP as [`write_zip`] writes it, checked against their CRC-32. Names
/// must be plain file names (no directories, no `..`), since the CLI writes them into a
/// directory.
pub fn read_zip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(ZipError::Malformed(at))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(ZipError::Malformed(at))
    };
    let mut files = Vec::new();
    let mut at = 0;
    while u32_at(at)? == LOCAL {
        if u16_at(at + 8)? != 0 {
            return Err(ZipError::Malformed(at));
        }
        let crc = u32_at(at + 14)?;
        let size = u32_at(at + 18)? as usize;
        let name_len = u16_at(at + 26)? as usize;
        let extra_len = u16_at(at + 28)? as usize;
        let name_start = at + 30;
        let data_start = name_start + name_len + extra_len;
        let name = bytes
            .get(name_start..name_start + name_len)
            .ok_or(ZipError::Malformed(name_start))?;
        let name = String::from_utf8_lossy(name).into_owned();
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(ZipError::Name(name));
        }
        let data = bytes
            .get(data_start..data_start + size)
            .ok_or(ZipError::Malformed(data_start))?;
        if crc32fast::hash(data) != crc {
            return Err(ZipError::Crc(name));
        }
        files.push((name, data.to_vec()));
        at = data_start + size;
    }
    if u32_at(at)? != CENTRAL && u32_at(at)? != END {
        return Err(ZipError::Malformed(at));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_deterministic() {
        let files = vec![
            ("summary.csv".to_owned(), "id,status\nA,PASS\n".to_owned()),
            ("A.csv".to_owned(), String::new()),
        ];
        let zip = write_zip(&files);
        assert_eq!(zip, write_zip(&files));
        let back = read_zip(&zip).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            back[0],
            ("summary.csv".to_owned(), b"id,status\nA,PASS\n".to_vec())
        );
        assert_eq!(back[1].1, b"");
    }

    #[test]
    fn damaged_and_hostile_archives_are_refused() {
        let mut zip = write_zip(&[("a.csv".to_owned(), "x,y\n".to_owned())]);
        let data = 30 + "a.csv".len();
        zip[data] ^= 1;
        assert!(matches!(read_zip(&zip), Err(ZipError::Crc(_))));
        let hostile = write_zip(&[("../evil".to_owned(), "x".to_owned())]);
        assert!(matches!(read_zip(&hostile), Err(ZipError::Name(_))));
        assert!(matches!(read_zip(&zip[..20]), Err(ZipError::Malformed(_))));
    }
}

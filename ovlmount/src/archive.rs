//! Reading a tar archive someone else made (a layer, a `docker save` or OCI-layout
//! archive) with bounds: plain or gzip (detected by its magic), at most `max_size`
//! bytes of tar once decompressed (a gzip bomb stops there), and at most
//! [`HEADER_LIMIT`] bytes read between one entry and the next (a GNU long name or a PAX
//! record is read whole into memory by the `tar` crate: a hostile size there is refused
//! before it is allocated).
//!
//! The reader counts what the `tar` crate reads: the caller marks where an entry's own
//! data starts ([`Budget::data`]) and where it ends ([`Budget::headers`]); in between
//! entries only headers may be read, and only that much.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

/// The most bytes of headers (extension headers, padding, the entry's own header)
/// before one entry: far above any real path or PAX record (Linux's PATH_MAX is 4 KiB).
pub const HEADER_LIMIT: u64 = 1 << 20;

/// The default `--max-size`: the most bytes of tar an archive may hold once
/// decompressed.
pub const DEFAULT_MAX_SIZE: u64 = 64 << 30;

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// More than [`HEADER_LIMIT`] bytes between two entries.
    #[error("more than {} KiB of headers before one entry (a long name or PAX record that large is not a real archive)", HEADER_LIMIT >> 10)]
    Headers,
    /// More than `max_size` bytes of tar.
    #[error("larger than {} once decompressed (--max-size)", chainload::units::format_size(*.0))]
    TooLarge(u64),
}

/// The counter shared by the reader and the loop over the entries.
#[derive(Clone, Default)]
pub struct Budget(Rc<Cell<State>>);

#[derive(Clone, Copy, Default)]
struct State {
    since_entry: u64,
    in_data: bool,
    total: u64,
}

impl Budget {
    /// An entry was returned: what is read now is its data (no header limit).
    pub fn data(&self) {
        let total = self.0.get().total;
        self.0.set(State { since_entry: 0, in_data: true, total });
    }

    /// The entry is done: until the next one, only headers may be read.
    pub fn headers(&self) {
        let total = self.0.get().total;
        self.0.set(State { since_entry: 0, in_data: false, total });
    }

    /// The bytes of tar read so far.
    pub fn read(&self) -> u64 {
        self.0.get().total
    }
}

struct Bounded<R> {
    inner: R,
    budget: Budget,
    total: u64,
    max: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > self.max {
            return Err(io::Error::other(LimitError::TooLarge(self.max)));
        }
        let mut s = self.budget.0.get();
        s.since_entry += n as u64;
        s.total = self.total;
        self.budget.0.set(s);
        if !s.in_data && s.since_entry > HEADER_LIMIT {
            return Err(io::Error::other(LimitError::Headers));
        }
        Ok(n)
    }
}

/// The limit an I/O error from the archive stands for, if it is one.
pub fn limit_error(e: &io::Error) -> Option<&LimitError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<LimitError>())
}

/// Whether `file` starts with gzip's magic.
pub fn is_gzip(file: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 2];
    File::open(file).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x1f, 0x8b]
}

/// `file` as a tar archive (gunzipped if it starts with gzip's magic), bounded as the
/// module says, and the budget its entry loop must keep.
pub fn open(file: &Path, max_size: u64) -> io::Result<(tar::Archive<Box<dyn Read>>, Budget)> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(file)?);
    let gz = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn Read> = if gz { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    let budget = Budget::default();
    let bounded: Box<dyn Read> = Box::new(Bounded { inner: stream, budget: budget.clone(), total: 0, max: max_size });
    Ok((tar::Archive::new(bounded), budget))
}

/// Copy an entry's data to `out`, telling a failed read (the archive) from a failed
/// write (the disk: full, for example).
pub fn copy_entry(from: &mut impl Read, out: &mut (impl io::Write + ?Sized)) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 256 << 10];
    let mut done = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        done += n as u64;
    }
}

/// A failed [`copy_entry`].
#[derive(Debug)]
pub enum CopyError {
    /// Reading the archive.
    Read(io::Error),
    /// Writing the file.
    Write(io::Error),
}

/// `--max-size SIZE` (`64G`, `512M`, bytes): more than zero.
pub fn parse_max_size(s: &str) -> Result<u64, String> {
    match chainload::units::parse_size(s) {
        Ok(0) => Err("the size limit must be more than 0".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("'{s}': {e}")),
    }
}

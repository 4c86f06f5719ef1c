//! `ovlmount commit`: an upper directory as an OCI layer tar.
//!
//! Overlay whiteouts (a 0/0 character device, or the xattr form) become `.wh.NAME`; an
//! opaque directory gets `DIR/.wh..wh..opq`; modes, owners, mtimes, symlinks, hard
//! links, device nodes and extended attributes are kept (as PAX `SCHILY.xattr.*`),
//! overlay's own `trusted.overlay.*`/`user.overlay.*` attributes are not. Entries are
//! sorted by path and carry no user or group names, so the same upper gives the same
//! bytes. The upper may belong to a running container: it is read as a [`Tree`], never
//! through a symlink in it, and a file that changes size while it is read is an error,
//! never a corrupt layer.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::tree::{Attrs, Opened, Tree};
use crate::Error;
use chainload::error::{sys, FromIo};
use chainload::progress::Progress;

/// What was written.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Committed {
    /// sha256 of the file as written (compressed with `--gzip`).
    pub digest: String,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// Size of the file as written, in bytes.
    pub size: u64,
}

/// A writer that hashes and counts what passes through.
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing { inner, hasher: Sha256::new(), count: 0 }
    }
    fn finish(self) -> (W, String, u64) {
        let hex: String = self.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        (self.inner, format!("sha256:{hex}"), self.count)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether an xattr is overlayfs's own (never part of a layer).
pub fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

fn overlay_attr(attrs: &Attrs<'_>, attr: &str) -> Option<Vec<u8>> {
    ["trusted.overlay.", "user.overlay."].iter().find_map(|prefix| attrs.get(format!("{prefix}{attr}").as_bytes()).ok())
}

/// Whether the entry is an overlay whiteout.
pub fn is_whiteout(e: &Opened) -> bool {
    let (ft, m) = (e.meta.file_type(), &e.meta);
    (ft.is_char_device() && m.rdev() == 0)
        || (ft.is_file() && m.len() == 0 && overlay_attr(&e.attrs(), "whiteout").is_some())
}

/// Whether the directory is opaque (hides everything below it in lower layers).
pub fn is_opaque(e: &Opened) -> bool {
    overlay_attr(&e.attrs(), "opaque").is_some_and(|v| v == b"y")
}

/// A file's data, exactly `left` bytes of it: a file that shrinks or grows while it is
/// read is an error (the tar header already holds its size).
struct ExactLen {
    inner: File,
    left: u64,
}

impl io::Read for ExactLen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other("the file grew while it was committed")),
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was committed"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn header_for(m: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(m.mode() & 0o7777);
    h.set_uid(u64::from(m.uid()));
    h.set_gid(u64::from(m.gid()));
    h.set_mtime(u64::try_from(m.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

fn pax_xattrs(e: &Opened, shown: &Path) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let attrs = e.attrs();
    let names = match attrs.list() {
        Ok(n) => n,
        Err(nix::errno::Errno::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(Error::from(sys(format!("cannot list xattrs of '{}'", shown.display()))(e))),
    };
    let mut out = Vec::new();
    for n in names.into_iter().filter(|n| !is_overlay_xattr(n)) {
        let v =
            attrs.get(&n).map_err(|e| Error::from(sys(format!("cannot read xattrs of '{}'", shown.display()))(e)))?;
        out.push((format!("SCHILY.xattr.{}", String::from_utf8_lossy(&n)), v));
    }
    out.sort();
    Ok(out)
}

/// One PAX record: `LEN KEY=VALUE\n`, where LEN counts the whole record, itself included.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// A PAX extended header for the next entry, named `PaxHeaders/NAME` as GNU tar does
/// (busybox and others refuse a nameless one).
fn append_pax<W: Write>(
    b: &mut tar::Builder<W>,
    rel: &Path,
    m: &std::fs::Metadata,
    records: &[(String, Vec<u8>)],
) -> io::Result<()> {
    let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
    let mut h = tar::Header::new_ustar();
    let base = rel.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
    let mut name = b"PaxHeaders/".to_vec();
    name.extend_from_slice(&base[..base.len().min(88)]);
    if let Some(u) = h.as_ustar_mut() {
        u.name[..name.len()].copy_from_slice(&name);
    }
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(u64::try_from(m.mtime()).unwrap_or(0));
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, data.as_slice())
}

fn write_tar<X: Write>(upper: &Path, out: Hashing<X>, shown: &mut Progress) -> Result<Hashing<X>, Error> {
    let werr = |e: io::Error| Error::io("cannot write the layer", Path::new("-"), e);
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let tree = Tree::open(upper)?;
    let all = tree.walk_sorted()?;
    shown.totals(None, Some(all.len() as u64));
    for (done, rel) in all.into_iter().enumerate() {
        shown.set(b.get_ref().count, done as u64);
        let place = tree.place(&rel)?;
        let shown = place.shown();
        let entry = place.open()?;
        let m = &entry.meta;
        let ft = m.file_type();
        if is_whiteout(&entry) {
            let name = rel.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            let mut wh = std::ffi::OsString::from(".wh.");
            wh.push(name);
            let mut h = header_for(m, tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, rel.with_file_name(wh), io::empty()).map_err(werr)?;
            continue;
        }
        let xattrs = pax_xattrs(&entry, shown)?;
        if !xattrs.is_empty() {
            append_pax(&mut b, &rel, m, &xattrs).map_err(werr)?;
        }
        if ft.is_dir() {
            let mut h = header_for(m, tar::EntryType::Directory);
            b.append_data(&mut h, &rel, io::empty()).map_err(werr)?;
            if is_opaque(&entry) {
                let mut h = header_for(m, tar::EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, rel.join(".wh..wh..opq"), io::empty()).map_err(werr)?;
            }
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    let mut h = header_for(m, tar::EntryType::Link);
                    b.append_link(&mut h, &rel, first).map_err(werr)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), rel.clone());
            }
            // (The metadata is the opened file's: what is read is what is described.)
            let f = entry.file.ok_or_else(|| Error::Changed(shown.to_path_buf()))?;
            let mut h = header_for(m, tar::EntryType::Regular);
            h.set_size(m.len());
            let data = ExactLen { inner: f, left: m.len() };
            b.append_data(&mut h, &rel, data).map_err(|e| Error::io("cannot commit", shown, e))?;
        } else if ft.is_symlink() {
            let target = place.read_link()?;
            let mut h = header_for(m, tar::EntryType::Symlink);
            b.append_link(&mut h, &rel, target).map_err(werr)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = header_for(m, kind);
            if !ft.is_fifo() {
                h.set_device_major(nix::sys::stat::major(m.rdev()) as u32).map_err(werr)?;
                h.set_device_minor(nix::sys::stat::minor(m.rdev()) as u32).map_err(werr)?;
            }
            b.append_data(&mut h, &rel, io::empty()).map_err(werr)?;
        }
        // Sockets cannot be archived; a layer never needs them.
    }
    b.into_inner().map_err(werr)
}

/// Write `upper` as an OCI layer to `out` (gzip-compressed with `gzip`). The file
/// appears only when complete (written beside it, then renamed).
pub fn commit(upper: &Path, out: &Path, gzip: bool, progress: bool) -> Result<Committed, Error> {
    let meta = std::fs::metadata(upper).map_err(|e| Error::io("upper", upper, e))?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!("upper '{}' is not a directory", upper.display())));
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "layer".into());
    let tmp = out.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let mut shown = Progress::new(format!("committing {}", upper.display()), progress);
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| Error::io("cannot create", &tmp, e))?;
        let outer = Hashing::new(BufWriter::with_capacity(1 << 20, file));
        let werr = |e: io::Error| Error::io("cannot write", out, e);
        let (outer, diff_id) = if gzip {
            let gz = flate2::write::GzEncoder::new(outer, flate2::Compression::fast());
            let (gz, diff_id, _) = write_tar(upper, Hashing::new(gz), &mut shown)?.finish();
            (gz.finish().map_err(werr)?, Some(diff_id))
        } else {
            (write_tar(upper, outer, &mut shown)?, None)
        };
        let (mut buf, digest, size) = outer.finish();
        buf.flush().map_err(werr)?;
        // Uncompressed, the file is the tar: its digest is the diff_id.
        let diff_id = diff_id.unwrap_or_else(|| digest.clone());
        Ok(Committed { digest, diff_id, size })
    })();
    shown.finish();
    match result {
        Ok(c) => {
            std::fs::rename(&tmp, out).map_err(|e| Error::io("cannot write", out, e))?;
            Ok(c)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record("SCHILY.xattr.trusted.test", b"hi"), b"32 SCHILY.xattr.trusted.test=hi\n".to_vec());
        // 9 + digits: a record whose length crosses from one digit to two.
        let r = pax_record("k", b"12345");
        assert_eq!(r, b"11 k=12345\n".to_vec());
        assert_eq!(String::from_utf8(r.clone()).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap(), r.len());
    }
}

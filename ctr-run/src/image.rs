//! Images: importing a `docker save` archive (`manifest.json`) or an OCI image layout
//! archive (`index.json`), verifying every layer's sha256 digest, importing the layers
//! through `ovlmount import`, keeping the image config. An import is built in a
//! temporary directory and renamed into place, so a failed import leaves no half image.
//!
//! The archive is someone else's: it is read with `ovlmount::archive`'s bounds (headers,
//! `--max-size` once decompressed), every path its manifest names must be a plain
//! relative path inside it (never `..`, never absolute: no host file is read as a layer
//! or config), and its JSON files are at most [`MAX_JSON`] bytes.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::paths::{Root, Tools};
use crate::state::{now, Rootfs};
use crate::store;
use crate::Error;
use chainload::error::FromIo;

/// What a container takes from its image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageConfig {
    /// `Env`.
    pub env: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `WorkingDir`.
    pub workdir: String,
    /// `User`.
    pub user: String,
    /// `StopSignal`.
    #[serde(default)]
    pub stop_signal: String,
    /// `Labels`.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// An imported image, as `ROOT/images/NAME/image.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    /// Its name.
    pub name: String,
    /// Layer directories, relative to the image directory, top first.
    pub layers: Vec<String>,
    /// The uncompressed layers' digests, bottom first (the config's `rootfs.diff_ids`).
    pub diff_ids: Vec<String>,
    /// Config.
    pub config: ImageConfig,
    /// Import time (seconds since the epoch).
    pub created: u64,
}

/// Check an image name: letters, digits, `_ . : -`.
pub fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("invalid image name '{name}': use letters, digits, '_', '.', ':' and '-'")))
    }
}

fn sha256_of(r: impl Read) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn file_digest(p: &Path) -> Result<String, Error> {
    let f = File::open(p).map_err(|e| Error::io("cannot read", p, e))?;
    sha256_of(f).map_err(|e| Error::io("cannot read", p, e))
}

/// The digest of a layer's uncompressed tar (its diff_id), whether or not it is gzipped.
fn uncompressed_digest(p: &Path) -> Result<String, Error> {
    let f = File::open(p).map_err(|e| Error::io("cannot read", p, e))?;
    let result = if ovlmount::archive::is_gzip(p) { sha256_of(flate2::read::GzDecoder::new(f)) } else { sha256_of(f) };
    result.map_err(|e| Error::BadImage(format!("layer '{}' is corrupt: {e}", p.display())))
}

/// The largest manifest, index or config read.
pub const MAX_JSON: u64 = 4 << 20;

/// Unpack the archive's regular files into `dir` (only plain relative paths), reading at
/// most `max_size` bytes of tar.
fn unpack(file: &Path, dir: &Path, max_size: u64) -> Result<(), Error> {
    use ovlmount::archive::{self, CopyError};
    let (mut a, budget) = archive::open(file, max_size).map_err(|e| Error::io("cannot open image archive", file, e))?;
    let mut shown = chainload::progress::Progress::new(format!("unpacking {}", file.display()), false);
    shown.totals(std::fs::metadata(file).ok().filter(|_| !archive::is_gzip(file)).map(|m| m.len()), None);
    let mut entries = 0;
    let bad = |e: io::Error| match archive::limit_error(&e) {
        Some(limit) => Error::Limit { file: file.to_path_buf(), limit: limit.clone() },
        None => Error::BadImage(format!("'{}' is not a valid image archive: {e}", file.display())),
    };
    for entry in a.entries().map_err(bad)? {
        let mut e = entry.map_err(bad)?;
        budget.data();
        if e.header().entry_type() != tar::EntryType::Regular {
            budget.headers();
            continue;
        }
        let path = e.path().map_err(bad)?.into_owned();
        if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
            return Err(Error::BadImage(format!("image archive entry '{}' leaves the archive", path.display())));
        }
        let dest = dir.join(&path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("cannot create", parent, e))?;
        }
        let mut out = File::create(&dest).map_err(|e| Error::io("cannot create", &dest, e))?;
        archive::copy_entry(&mut e, &mut out).map_err(|err| match err {
            CopyError::Read(err) => bad(err),
            CopyError::Write(err) => Error::io("cannot write", &dest, err),
        })?;
        budget.headers();
        entries += 1;
        shown.set(budget.read(), entries);
    }
    Ok(())
}

fn read_json(p: &Path) -> Result<serde_json::Value, Error> {
    let f = File::open(p).map_err(|e| Error::io("cannot read", p, e))?;
    let mut text = String::new();
    f.take(MAX_JSON + 1).read_to_string(&mut text).map_err(|e| Error::io("cannot read", p, e))?;
    if text.len() as u64 > MAX_JSON {
        return Err(Error::BadImage(format!("'{}' is larger than {} MiB: refusing it", p.display(), MAX_JSON >> 20)));
    }
    serde_json::from_str(&text).map_err(|e| Error::BadImage(format!("'{}' is not valid JSON: {e}", p.display())))
}

/// `rel`, a path the archive's manifest names, inside the unpacked archive `raw`: a plain
/// relative path (the unpacked tree holds only directories and regular files, so it
/// cannot lead anywhere else).
fn in_archive(raw: &Path, rel: &str, what: &str) -> Result<PathBuf, Error> {
    let p = Path::new(rel);
    if rel.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(Error::BadImage(format!(
            "manifest.json names '{rel}' as {what}: a path outside the archive; refusing"
        )));
    }
    Ok(raw.join(p))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn parse_config(v: &serde_json::Value) -> (ImageConfig, Vec<String>) {
    let c = &v["config"];
    let cfg = ImageConfig {
        env: strings(&c["Env"]),
        cmd: strings(&c["Cmd"]),
        entrypoint: strings(&c["Entrypoint"]),
        workdir: c["WorkingDir"].as_str().unwrap_or("").to_string(),
        user: c["User"].as_str().unwrap_or("").to_string(),
        stop_signal: c["StopSignal"].as_str().unwrap_or("").to_string(),
        labels: c["Labels"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default(),
    };
    (cfg, strings(&v["rootfs"]["diff_ids"]))
}

fn blob(raw: &Path, digest: &str) -> Result<PathBuf, Error> {
    let hex =
        digest.strip_prefix("sha256:").ok_or_else(|| Error::BadImage(format!("unsupported digest '{digest}'")))?;
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::BadImage(format!("malformed digest '{digest}'")));
    }
    let p = raw.join("blobs/sha256").join(hex);
    let got = file_digest(&p)?;
    if got != digest {
        return Err(Error::DigestMismatch {
            what: format!("blob {}", p.display()),
            expected: digest.to_string(),
            found: got,
        });
    }
    Ok(p)
}

/// Layers (bottom first) and config of an unpacked archive, every digest verified.
fn read_archive(raw: &Path) -> Result<(Vec<PathBuf>, ImageConfig, Vec<String>), Error> {
    if raw.join("index.json").exists() {
        let index = read_json(&raw.join("index.json"))?;
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .ok_or_else(|| Error::BadImage("index.json lists no manifest".into()))?;
        let manifest = read_json(&blob(raw, digest)?)?;
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .ok_or_else(|| Error::BadImage("the manifest has no config".into()))?;
        let config = read_json(&blob(raw, config_digest)?)?;
        let layers = manifest["layers"]
            .as_array()
            .ok_or_else(|| Error::BadImage("the manifest lists no layers".into()))?
            .iter()
            .map(|l| blob(raw, l["digest"].as_str().unwrap_or("")))
            .collect::<Result<Vec<_>, _>>()?;
        let (cfg, diff_ids) = parse_config(&config);
        return Ok((layers, cfg, diff_ids));
    }
    if raw.join("manifest.json").exists() {
        let manifest = read_json(&raw.join("manifest.json"))?;
        let m = &manifest[0];
        let config_rel = m["Config"].as_str().ok_or_else(|| Error::BadImage("manifest.json names no Config".into()))?;
        let config_path = in_archive(raw, config_rel, "the config")?;
        // The config is named after its own digest (`HEX.json` or `blobs/sha256/HEX`).
        let stem = Path::new(config_rel)
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
            .unwrap_or_default();
        let got = file_digest(&config_path)?;
        if stem.len() == 64 && got != format!("sha256:{stem}") {
            return Err(Error::DigestMismatch {
                what: format!("config {config_rel}"),
                expected: format!("sha256:{stem}"),
                found: got,
            });
        }
        let (cfg, diff_ids) = parse_config(&read_json(&config_path)?);
        let layers =
            strings(&m["Layers"]).iter().map(|l| in_archive(raw, l, "a layer")).collect::<Result<Vec<_>, _>>()?;
        if layers.len() != diff_ids.len() {
            return Err(Error::BadImage(format!(
                "manifest.json lists {} layers, the config {} diff_ids",
                layers.len(),
                diff_ids.len()
            )));
        }
        for (l, want) in layers.iter().zip(&diff_ids) {
            let got = uncompressed_digest(l)?;
            if &got != want {
                return Err(Error::DigestMismatch {
                    what: format!("layer {}", l.display()),
                    expected: want.clone(),
                    found: got,
                });
            }
        }
        return Ok((layers, cfg, diff_ids));
    }
    Err(Error::BadImage("not an image archive: neither manifest.json (docker save) nor index.json (OCI layout)".into()))
}

/// `image import NAME FILE`.
pub fn import(root: &Root, tools: &Tools, name: &str, file: &Path, max_size: u64) -> Result<Image, Error> {
    check_name(name)?;
    root.ensure()?;
    let dest = root.images().join(name);
    if dest.exists() {
        return Err(Error::ImageExists(name.to_string()));
    }
    // (A user's image is imported in their user namespace: owned by the ids its
    // containers will map, root's files by the user.)
    let userns = crate::rootless::UserNs::of_caller()?;
    let tmp = root.images().join(format!(".import-{name}-{}", std::process::id()));
    // (0700: an image is its importer's; the images directory is 0700 too.)
    crate::paths::private_dir_all(&tmp)?;
    let result = (|| {
        let raw = tmp.join("raw");
        unpack(file, &raw, max_size)?;
        let (layers, config, diff_ids) = read_archive(&raw)?;
        let mut dirs = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let rel = format!("layers/{i}");
            let target = tmp.join(&rel);
            std::fs::create_dir_all(tmp.join("layers")).map_err(|e| Error::io("cannot create", &tmp, e))?;
            let max = max_size.to_string();
            store::run_ovlmount(
                tools,
                userns.as_ref(),
                &["import", "--max-size", &max, &l.to_string_lossy(), &target.to_string_lossy()],
            )?;
            dirs.push(rel);
        }
        dirs.reverse();
        std::fs::remove_dir_all(&raw).map_err(|e| Error::io("cannot remove", &raw, e))?;
        let image = Image { name: name.to_string(), layers: dirs, diff_ids, config, created: now() };
        let text = serde_json::to_string_pretty(&image)?;
        std::fs::write(tmp.join("image.json"), text).map_err(|e| Error::io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io("cannot create", &dest, e))?;
        Ok(image)
    })();
    if result.is_err() {
        let _ = crate::rootless::remove_tree(userns.as_ref(), &tmp);
    }
    result
}

/// Load image `name`, with its layer directories made absolute (top first).
pub fn load(root: &Root, name: &str) -> Result<(Image, Vec<PathBuf>), Error> {
    let dir = root.images().join(name);
    let p = dir.join("image.json");
    if !p.exists() {
        return Err(Error::NoSuchImage(name.to_string()));
    }
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io("cannot read", &p, e))?;
    let image: Image =
        serde_json::from_str(&text).map_err(|e| Error::BadImage(format!("'{}' is corrupt: {e}", p.display())))?;
    let layers = image.layers.iter().map(|l| dir.join(l)).collect();
    Ok((image, layers))
}

/// `image ls`.
pub fn list(root: &Root) -> Vec<Image> {
    let Ok(rd) = std::fs::read_dir(root.images()) else { return Vec::new() };
    let mut out: Vec<Image> = rd
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| load(root, &e.file_name().to_string_lossy()).ok().map(|(i, _)| i))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `image rm NAME`: refused while a container uses it.
pub fn remove(root: &Root, name: &str) -> Result<(), Error> {
    load(root, name)?;
    if let Some(c) = store::list(root).iter().find(|s| s.rootfs == Rootfs::Image(name.to_string())) {
        return Err(Error::WrongState(format!(
            "image '{name}' is used by container {} ({}); remove the container first",
            c.name,
            c.short_id()
        )));
    }
    let dir = root.images().join(name);
    crate::rootless::remove_tree(crate::rootless::UserNs::of_caller()?.as_ref(), &dir)
}

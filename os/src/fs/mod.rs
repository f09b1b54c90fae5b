//! Files and directories, async: std's [`std::fs`] (Go's `os` file
//! functions) with every call run on gort's blocking pool.
//!
//! The free functions have std's names and types and each makes one trip
//! to the pool; [`read_dir`] fetches entries 32 at a time; a [`File`]
//! reads and writes through a buffer, one blocking operation in flight at
//! a time (see its documentation for when a write's error shows). Errors
//! are the operating system's [`io::Error`]s, unchanged.
//!
//! ```
//! use gort::fs;
//! use gort::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
//!
//! # gort::block_on(async {
//! let dir = std::env::temp_dir().join(format!("gort-fs-doc-{}", std::process::id()));
//! fs::create_dir_all(&dir).await?;
//! fs::write(dir.join("hello.txt"), "hello").await?;
//! assert_eq!(fs::read_to_string(dir.join("hello.txt")).await?, "hello");
//!
//! let mut file = fs::File::options()
//!     .read(true)
//!     .write(true)
//!     .create(true)
//!     .truncate(true)
//!     .open(dir.join("log.txt"))
//!     .await?;
//! file.write_all(b"one\ntwo\n").await?;
//! file.flush().await?; // the write has reached the file, or its error is here
//! file.seek(SeekFrom::Start(4)).await?;
//! let mut rest = String::new();
//! file.read_to_string(&mut rest).await?;
//! assert_eq!(rest, "two\n");
//!
//! let mut names = Vec::new();
//! let mut entries = fs::read_dir(&dir).await?;
//! while let Some(entry) = entries.next_entry().await? {
//!     names.push(entry.file_name().into_string().unwrap());
//! }
//! names.sort();
//! assert_eq!(names, ["hello.txt", "log.txt"]);
//! fs::remove_dir_all(&dir).await?;
//! # Ok::<_, std::io::Error>(()) }).unwrap();
//! ```

mod dir;
mod file;
mod open_options;

use std::io;
use std::path::{Path, PathBuf};

pub use dir::{read_dir, DirEntry, ReadDir};
pub use file::File;
pub use open_options::OpenOptions;
pub use std::fs::{FileType, Metadata, Permissions};

/// Runs `f` on the blocking pool and returns its result. A closure that
/// panicked, or that its runtime dropped at shutdown, gives an
/// [`io::ErrorKind::Other`] error that says so.
pub(crate) async fn asyncify<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    gort_executor::spawn_blocking(f).await?
}

/// Reads the whole file at `path` (std's [`std::fs::read`]).
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read(path)).await
}

/// Reads the whole file at `path` as UTF-8 (std's
/// [`std::fs::read_to_string`]); invalid UTF-8 is an
/// [`io::ErrorKind::InvalidData`] error.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` as the whole file at `path`, creating or truncating
/// it (std's [`std::fs::write`]). The bytes are copied first, since the
/// write runs on another thread.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
    asyncify(move || std::fs::write(path, contents)).await
}

/// Copies the contents and permissions of the file `from` to `to`, and
/// returns the bytes copied (std's [`std::fs::copy`]).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file (std's
/// [`std::fs::rename`]).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Removes the file at `path` (std's [`std::fs::remove_file`]).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes the empty directory at `path` (std's [`std::fs::remove_dir`]).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes the directory at `path` and everything in it (std's
/// [`std::fs::remove_dir_all`]), in one trip to the pool.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Creates the directory `path`; its parent must exist (std's
/// [`std::fs::create_dir`]).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates the directory `path` and every missing parent (std's
/// [`std::fs::create_dir_all`]).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// The metadata of `path`, following symbolic links (std's
/// [`std::fs::metadata`]).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself, without following a symbolic link
/// (std's [`std::fs::symlink_metadata`]).
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// The absolute form of `path` with every symbolic link resolved (std's
/// [`std::fs::canonicalize`]).
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}

/// The target of the symbolic link `path` (std's [`std::fs::read_link`]).
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_link(path)).await
}

/// Makes `link` a new name for the file `original` (std's
/// [`std::fs::hard_link`]).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::fs::hard_link(original, link)).await
}

/// Sets the permissions of `path` (std's [`std::fs::set_permissions`]).
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// Whether `path` exists, following symbolic links: `Ok(false)` for a
/// broken link, an error when existence cannot be told (a directory on
/// the way that cannot be searched), as std's [`std::fs::exists`].
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::exists(path)).await
}

//! MemFs behaves like a POSIX file system for the calls shardlog makes, and a
//! simulated crash keeps exactly what the durability rules promise.
use super::*;
use crate::io::{read_file, write_all_at};
use io::ErrorKind::{NotFound, Other};

fn p(path: &str) -> &Path {
    Path::new(path)
}

fn bytes_of(fs: &MemFs, path: &str) -> Vec<u8> {
    read_file(fs, p(path)).expect("file must be readable")
}

fn open(fs: &MemFs, path: &str, options: OpenOptions) -> Arc<dyn FileHandle> {
    fs.open(p(path), options).expect("open must succeed")
}

/// Creates `path` with `bytes`, syncs its data and its directory.
fn durable_file(fs: &MemFs, path: &str, bytes: &[u8]) {
    let file = open(fs, path, OpenOptions::CREATE);
    write_all_at(file.as_ref(), bytes, 0).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(p(path).parent().unwrap()).unwrap();
}

/// Every file of `/` with its bytes.
fn snapshot(fs: &MemFs) -> BTreeMap<String, Vec<u8>> {
    let names = fs.list_dir(p("/")).unwrap().into_iter();
    names
        .map(|name| (name.clone(), bytes_of(fs, &format!("/{name}"))))
        .collect()
}

#[track_caller]
fn assert_errno<T: fmt::Debug>(result: io::Result<T>, errno: i32) {
    let error = result.expect_err("the call must fail");
    assert_eq!(error.raw_os_error(), Some(errno), "{error}");
}

#[track_caller]
fn assert_kind<T: fmt::Debug>(result: io::Result<T>, kind: io::ErrorKind) {
    let error = result.expect_err("the call must fail");
    assert_eq!(error.kind(), kind, "{error}");
}

/// Writes past the end zero-fill, reads stop at the end, set_len truncates and zero-extends.
#[test]
fn write_read_extend_and_set_len() {
    let fs = MemFs::new();
    let file = open(&fs, "/f", OpenOptions::CREATE);
    assert_eq!(file.write_at(b"hello", 0).unwrap(), 5);
    assert_eq!(file.write_at(b"x", 10).unwrap(), 1);
    assert_eq!(file.len().unwrap(), 11);
    assert_eq!(bytes_of(&fs, "/f"), b"hello\0\0\0\0\0x");
    let mut buf = [9u8; 4];
    assert_eq!(file.read_at(&mut buf, 9).unwrap(), 2);
    assert_eq!(&buf[..2], b"\0x");
    assert_eq!(file.read_at(&mut buf, 11).unwrap(), 0);
    assert_eq!(file.read_at(&mut buf, u64::MAX).unwrap(), 0);
    file.set_len(3).unwrap();
    assert_eq!(bytes_of(&fs, "/f"), b"hel");
    file.set_len(5).unwrap();
    assert_eq!(bytes_of(&fs, "/f"), b"hel\0\0");
    assert_errno(file.write_at(b"x", FILE_BYTES_MAX), libc::EFBIG);
}

/// Missing directories and files are NotFound; list_dir names files and subdirectories.
#[test]
fn namespace_errors_and_listing() {
    let fs = MemFs::new();
    assert_kind(fs.open(p("/d/f"), OpenOptions::CREATE), NotFound);
    fs.create_dir_all(p("/d/sub/deeper")).unwrap();
    assert_kind(fs.open(p("/d/f"), OpenOptions::WRITE), NotFound);
    open(&fs, "/d/./f", OpenOptions::CREATE);
    assert_eq!(fs.list_dir(p("/d/")).unwrap(), ["f", "sub"]);
    assert_eq!(fs.list_dir(p("/")).unwrap(), ["d"]);
    assert_kind(fs.list_dir(p("/nope")), NotFound);
    assert!(fs.exists(p("/d/sub")) && fs.exists(p("/d/f")) && !fs.exists(p("/d/g")));
    assert!(fs.create_dir_all(p("/d/f/x")).is_err());
    assert!(!fs.exists(p("/d/f/x")));
    assert_errno(fs.open(p("/d/sub"), OpenOptions::CREATE), libc::EISDIR);
    assert_kind(fs.remove_file(p("/d/g")), NotFound);
    open(&fs, "rel", OpenOptions::CREATE);
    assert_eq!(fs.list_dir(p("")).unwrap(), ["rel"]);
}

/// A removed file stays readable and writable through its handle and mapping.
#[test]
fn unlink_keeps_open_handle_and_mapping() {
    let fs = MemFs::new();
    let file = open(&fs, "/seg", OpenOptions::CREATE);
    file.write_at(b"abc", 0).unwrap();
    let map = fs.map(p("/seg")).unwrap();
    fs.remove_file(p("/seg")).unwrap();
    assert!(!fs.exists(p("/seg")));
    assert!(fs.list_dir(p("/")).unwrap().is_empty());
    assert_eq!(file.write_at(b"d", 3).unwrap(), 1);
    let mut buf = [0u8; 4];
    assert_eq!(file.read_at(&mut buf, 0).unwrap(), 4);
    assert_eq!(&buf, b"abcd");
    assert_eq!(map.bytes(), b"abc");
    assert_eq!(open(&fs, "/seg", OpenOptions::CREATE).len().unwrap(), 0);
}

/// Renaming onto an existing name replaces it; a handle on the old target keeps its inode.
#[test]
fn rename_replaces_target() {
    let fs = MemFs::new();
    fs.create_dir_all(p("/a")).unwrap();
    durable_file(&fs, "/a/new", b"new");
    durable_file(&fs, "/a/old", b"old");
    let old = open(&fs, "/a/old", OpenOptions::READ);
    fs.rename(p("/a/new"), p("/a/old")).unwrap();
    assert_eq!(bytes_of(&fs, "/a/old"), b"new");
    assert!(!fs.exists(p("/a/new")));
    let mut buf = [0u8; 3];
    assert_eq!(old.read_at(&mut buf, 0).unwrap(), 3);
    assert_eq!(&buf, b"old");
    fs.create_dir_all(p("/b")).unwrap();
    fs.rename(p("/a/old"), p("/b/moved")).unwrap();
    assert!(fs.list_dir(p("/a")).unwrap().is_empty());
    assert_eq!(bytes_of(&fs, "/b/moved"), b"new");
    assert_kind(fs.rename(p("/a/old"), p("/b/x")), NotFound);
}

/// DropUnsynced keeps synced bytes and names and nothing else; sync_count counts both syncs.
#[test]
fn drop_unsynced_keeps_exactly_the_synced_state() {
    let fs = MemFs::new();
    durable_file(&fs, "/log", b"abc");
    assert_eq!(fs.sync_count(), 2);
    let file = open(&fs, "/log", OpenOptions::WRITE);
    file.write_at(b"def", 3).unwrap();
    file.write_at(b"X", 0).unwrap();
    file.set_len(2).unwrap();
    open(&fs, "/unsynced-name", OpenOptions::CREATE);
    fs.remove_file(p("/log")).unwrap();
    fs.crash(CrashMode::DropUnsynced);
    assert_eq!(fs.list_dir(p("/")).unwrap(), ["log"]);
    assert_eq!(bytes_of(&fs, "/log"), b"abc");
    assert_eq!(fs.sync_count(), 2);
}

/// A file whose data was synced but whose directory entry was not is gone after a crash.
#[test]
fn synced_data_under_unsynced_name_disappears() {
    let fs = MemFs::new();
    fs.create_dir_all(p("/d")).unwrap();
    fs.sync_dir(p("/")).unwrap();
    durable_file(&fs, "/d/target", b"old");
    let temp = open(&fs, "/d/fresh", OpenOptions::CREATE);
    temp.write_at(b"new", 0).unwrap();
    temp.sync_data().unwrap();
    fs.rename(p("/d/target"), p("/d/renamed")).unwrap();
    fs.crash(CrashMode::DropUnsynced);
    assert!(!fs.exists(p("/d/fresh")) && !fs.exists(p("/d/renamed")));
    assert_eq!(bytes_of(&fs, "/d/target"), b"old");
}

/// The state after a Random crash of a history with unsynced writes, a set_len,
/// new names and a rename.
fn crashed_state(seed: u64) -> BTreeMap<String, Vec<u8>> {
    let fs = MemFs::new();
    durable_file(&fs, "/base", &[1u8; 3000]);
    let file = open(&fs, "/base", OpenOptions::WRITE);
    for (i, offset) in [3000u64, 4200, 100, 7000].into_iter().enumerate() {
        file.write_at(&vec![10 + i as u8; 1500], offset).unwrap();
    }
    file.set_len(8000).unwrap();
    for name in ["/a", "/b", "/c"] {
        open(&fs, name, OpenOptions::CREATE)
            .write_at(name.as_bytes(), 0)
            .unwrap();
    }
    fs.rename(p("/a"), p("/z")).unwrap();
    fs.crash(CrashMode::Random { seed });
    snapshot(&fs)
}

/// The same seed gives the same state; different seeds explore different states.
#[test]
fn random_crash_is_deterministic_per_seed() {
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..32 {
        let state = crashed_state(seed);
        assert_eq!(state, crashed_state(seed), "seed {seed}");
        distinct.insert(state);
    }
    assert!(distinct.len() > 8, "{} distinct states", distinct.len());
}

/// Synced bytes always survive; an unsynced append lands whole, not at all, or torn:
/// some of its pieces between sector boundaries, the others holes of zeros.
#[test]
fn random_crash_never_loses_synced_bytes_and_tears_at_sectors() {
    let sector = TORN_WRITE_SECTOR_BYTES;
    let (mut torn, mut reported) = (0, 0);
    for seed in 0..200 {
        let fs = MemFs::new();
        durable_file(&fs, "/log", &[1u8; 3000]);
        let file = open(&fs, "/log", OpenOptions::WRITE);
        file.write_at(&[7u8; 5000], 3000).unwrap();
        let report = fs.crash(CrashMode::Random { seed });
        let bytes = bytes_of(&fs, "/log");
        assert!(bytes[..3000].iter().all(|b| *b == 1), "seed {seed}");
        assert!([3000, sector, 8000].contains(&bytes.len()), "seed {seed}");
        let pieces = [3000..sector, sector..8000];
        let landed: Vec<bool> = pieces
            .iter()
            .filter(|piece| piece.end <= bytes.len())
            .map(|piece| {
                let piece = &bytes[piece.clone()];
                let whole = piece.iter().all(|b| *b == 7);
                assert!(whole || piece.iter().all(|b| *b == 0), "seed {seed}");
                whole
            })
            .collect();
        let complete = landed.is_empty() || landed == [true, true];
        torn += usize::from(!complete);
        reported += report.torn_writes;
    }
    assert!(torn > 10, "only {torn} torn writes in 200 crashes");
    assert!(reported >= torn as u64, "{reported} reported, {torn} seen");
}

/// A directory made by create_dir_all survives a crash only once its parent was
/// synced after it; an unsynced one takes its subtree with it, synced files included.
#[test]
fn new_directory_needs_a_sync_of_its_parent() {
    let fs = MemFs::new();
    fs.create_dir_all(p("/kept/inner")).unwrap();
    fs.sync_dir(p("/")).unwrap();
    fs.sync_dir(p("/kept")).unwrap();
    fs.create_dir_all(p("/lost/deep")).unwrap();
    fs.sync_dir(p("/lost")).unwrap();
    durable_file(&fs, "/lost/deep/file", b"synced data, unsynced name chain");
    durable_file(&fs, "/kept/inner/file", b"kept");
    let report = fs.crash(CrashMode::DropUnsynced);
    assert_eq!(report.dirs_lost, 2, "{report:?}");
    assert!(!fs.exists(p("/lost")) && !fs.exists(p("/lost/deep/file")));
    assert_eq!(fs.list_dir(p("/")).unwrap(), ["kept"]);
    assert_eq!(bytes_of(&fs, "/kept/inner/file"), b"kept");
}

/// A power cut armed for the Nth mutating operation crashes just before it: that
/// operation fails as stale, the ones before it count, and the report is kept.
#[test]
fn power_cut_fires_at_the_nth_mutating_operation() {
    let fs = MemFs::new();
    durable_file(&fs, "/log", b"abc");
    let before = fs.mutating_ops();
    assert_eq!(before, 4, "create, write, sync, sync_dir");
    let file = open(&fs, "/log", OpenOptions::WRITE);
    fs.cut_power_at(3, CrashMode::DropUnsynced);
    file.write_at(b"d", 3).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(file.read_at(&mut buf, 0).unwrap(), 4, "reads do not count");
    file.write_at(b"e", 4).unwrap();
    assert!(fs.power_cut().is_none());
    assert_kind(file.sync_data(), Other);
    let report = fs.power_cut().expect("the cut fired");
    assert_eq!(report.changes_lost, 2, "{report:?}");
    assert_eq!(fs.mutating_ops(), before + 3);
    assert_eq!(bytes_of(&fs, "/log"), b"abc");
}

/// After a failed sync the written bytes still read back (page cache) but are not
/// durable, and a later successful sync does not make them so: a crash leaves a
/// hole where they were, under bytes written and synced after them.
#[test]
fn failed_sync_loses_the_writes_it_covered() {
    let fs = MemFs::new();
    durable_file(&fs, "/log", &[1u8; 100]);
    let file = open(&fs, "/log", OpenOptions::WRITE);
    file.write_at(&[2u8; 100], 100).unwrap();
    file.sync_failed();
    let mut read = [0u8; 100];
    assert_eq!(file.read_at(&mut read, 100).unwrap(), 100);
    assert_eq!(
        read, [2u8; 100],
        "the page cache still serves the lost write"
    );
    file.write_at(&[3u8; 100], 200).unwrap();
    file.sync_data().unwrap();
    fs.crash(CrashMode::DropUnsynced);
    let bytes = bytes_of(&fs, "/log");
    assert_eq!(bytes.len(), 300);
    assert!(bytes[..100].iter().all(|b| *b == 1));
    assert!(
        bytes[100..200].iter().all(|b| *b == 0),
        "the lost write is a hole"
    );
    assert!(bytes[200..].iter().all(|b| *b == 3));
}

/// O_DIRECT handles reject unaligned offsets, lengths and addresses with EINVAL;
/// read-only handles reject writes with EBADF.
#[test]
fn open_options_are_enforced() {
    let fs = MemFs::new();
    let file = open(&fs, "/direct", OpenOptions::CREATE.with_direct(true));
    let one = DIRECT_IO_ALIGNMENT;
    let mut storage = vec![5u8; 3 * one];
    let skip = (one - storage.as_ptr() as usize % one) % one;
    let block = &mut storage[skip..skip + 2 * one];
    assert_eq!(file.write_at(&block[..one], 0).unwrap(), one);
    assert_errno(file.write_at(&block[..one], 512), libc::EINVAL);
    assert_errno(file.write_at(&block[..100], 0), libc::EINVAL);
    assert_errno(file.write_at(&block[1..one + 1], 0), libc::EINVAL);
    assert_errno(file.read_at(&mut block[..100], 0), libc::EINVAL);
    assert_errno(file.read_at(&mut block[1..one + 1], 0), libc::EINVAL);
    assert_eq!(file.read_at(&mut block[..one], 0).unwrap(), one);
    assert_eq!(file.len().unwrap(), one as u64);
    assert_eq!(
        open(&fs, "/direct", OpenOptions::WRITE)
            .write_at(b"x", 1)
            .unwrap(),
        1
    );
    let read_only = open(&fs, "/direct", OpenOptions::READ);
    assert_errno(read_only.write_at(b"x", 0), libc::EBADF);
    assert_errno(read_only.set_len(0), libc::EBADF);
    assert_eq!(read_only.len().unwrap(), one as u64);
}

/// After a crash every old handle fails every operation; new handles work.
#[test]
fn handles_opened_before_a_crash_are_stale() {
    let fs = MemFs::new();
    durable_file(&fs, "/f", b"abc");
    let old = open(&fs, "/f", OpenOptions::WRITE);
    fs.crash(CrashMode::DropUnsynced);
    let mut buf = [0u8; 3];
    assert_kind(old.read_at(&mut buf, 0), Other);
    assert_kind(old.write_at(b"x", 0), Other);
    assert_kind(old.sync_data(), Other);
    assert_kind(old.len(), Other);
    assert_kind(old.set_len(0), Other);
    assert_eq!(fs.sync_count(), 2);
    let new = open(&fs, "/f", OpenOptions::WRITE);
    assert_eq!(new.read_at(&mut buf, 0).unwrap(), 3);
    assert_eq!(&buf, b"abc");
}

/// A session ends with the crash: its path operations fail (so a sync of a
/// directory cannot succeed against the state after the power loss), while
/// the file system itself and new sessions work.
#[test]
fn a_session_ends_at_the_crash() {
    let fs = MemFs::new();
    durable_file(&fs, "/f", b"abc");
    let session = fs.session();
    session
        .open(p("/g"), OpenOptions::CREATE)
        .unwrap()
        .sync_data()
        .unwrap();
    fs.crash(CrashMode::DropUnsynced);
    assert_kind(session.sync_dir(p("/")), Other);
    assert_kind(session.open(p("/f"), OpenOptions::READ).map(|_| ()), Other);
    assert_kind(session.list_dir(p("/")).map(|_| ()), Other);
    assert_kind(session.rename(p("/f"), p("/h")), Other);
    assert!(!session.exists(p("/f")));
    // The unsynced name of /g is gone, and nothing the old session tried landed.
    assert_eq!(fs.list_dir(p("/")).unwrap(), vec!["f".to_string()]);
    let next = fs.session();
    next.sync_dir(p("/")).unwrap();
    assert!(next.exists(p("/f")));
}

/// remove_dir refuses a directory with entries or with removals not yet synced;
/// remove_dir_durably empties, syncs and removes it, and a crash keeps it gone.
#[test]
fn directories_are_removed_only_when_durably_empty() {
    let fs = MemFs::new();
    fs.create_dir_all(p("/d/sub")).unwrap();
    fs.sync_dir(p("/")).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    durable_file(&fs, "/d/sub/a", b"a");
    assert_errno(fs.remove_dir(p("/d")), libc::ENOTEMPTY);
    assert_errno(fs.remove_dir(p("/d/sub")), libc::ENOTEMPTY);
    fs.remove_file(p("/d/sub/a")).unwrap();
    assert_kind(fs.remove_dir(p("/d/sub")), Other);
    assert_kind(fs.remove_dir(p("/missing")), NotFound);
    durable_file(&fs, "/d/sub/b", b"b");
    crate::io::remove_dir_durably(fs.as_ref(), p("/d/sub")).unwrap();
    crate::io::remove_dir_durably(fs.as_ref(), p("/d")).unwrap();
    // Already gone: a retry after a failure part way is fine.
    crate::io::remove_dir_durably(fs.as_ref(), p("/d")).unwrap();
    fs.crash(CrashMode::DropUnsynced);
    assert!(!fs.exists(p("/d")) && !fs.exists(p("/d/sub")));
    assert!(fs.list_dir(p("/")).unwrap().is_empty());
}

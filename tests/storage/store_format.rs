//! Start-up refuses what it cannot read, and never writes to it.

use heed::types::Bytes as Raw;
use heed::{CommitOrAbort, EnvOpenOptions};
use warren::store::{Store, StoreError, StoreOptions};

fn snapshot(dir: &std::path::Path) -> (Vec<u8>, std::time::SystemTime) {
    let p = dir.join("data.mdb");
    (
        std::fs::read(&p).unwrap(),
        std::fs::metadata(&p).unwrap().modified().unwrap(),
    )
}

/// Opens the store's `meta` database directly.
fn with_meta<T>(
    dir: &std::path::Path,
    f: impl FnOnce(&heed::Env, heed::Database<Raw, Raw>) -> T,
) -> T {
    let env = unsafe { EnvOpenOptions::new().max_dbs(16).open(dir).unwrap() };
    let wtxn = env.write_txn().unwrap();
    let meta = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| {
            dbo.create_database::<Raw, Raw>(wtxn, Some("meta"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit();
    let out = f(&env, meta);
    env.prepare_for_closing().wait();
    out
}

fn set_format_version(dir: &std::path::Path, version: u32) {
    with_meta(dir, |env, meta| {
        let mut wtxn = env.write_txn().unwrap();
        meta.put(&mut wtxn, b"format-version", &version.to_be_bytes())
            .unwrap();
        wtxn.commit().unwrap();
    });
}

fn format_version(dir: &std::path::Path) -> u32 {
    with_meta(dir, |env, meta| {
        let rtxn = env.read_txn().unwrap();
        let v = meta.get(&rtxn, b"format-version").unwrap().unwrap();
        u32::from_be_bytes(v.try_into().unwrap())
    })
}

#[test]
fn a_format_1_directory_is_read_and_marked_as_format_2() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path(), StoreOptions::default())
        .unwrap()
        .close();
    assert_eq!(format_version(dir.path()), 2);
    set_format_version(dir.path(), 1);
    Store::open(dir.path(), StoreOptions::default())
        .unwrap()
        .close();
    assert_eq!(format_version(dir.path()), 2);
}

#[test]
fn a_future_format_version_stops_start_up_and_leaves_the_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path(), StoreOptions::default())
        .unwrap()
        .close();
    // Rewrite the version as a newer Warren would.
    set_format_version(dir.path(), 99);
    let before = snapshot(dir.path());
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::UnknownFormat {
                found: 99,
                expected: 2
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Nothing was changed"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_garbage_data_file_is_reported_corrupt_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("data.mdb"), &garbage).unwrap();
    let before = snapshot(dir.path());
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert_eq!(snapshot(dir.path()), before);
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), garbage);
}

#[test]
fn an_lmdb_file_without_warren_meta_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let env = unsafe { EnvOpenOptions::new().max_dbs(4).open(dir.path()).unwrap() };
        let wtxn = env.write_txn().unwrap();
        let db = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| {
                dbo.create_database::<Raw, Raw>(wtxn, Some("other"))
                    .map(CommitOrAbort::<_, ()>::Commit)
            })
            .unwrap()
            .unwrap_commit();
        let mut wtxn = env.write_txn().unwrap();
        db.put(&mut wtxn, b"k", b"v").unwrap();
        wtxn.commit().unwrap();
        env.prepare_for_closing().wait();
    }
    let before = snapshot(dir.path());
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt(ref s) if s.contains("no Warren meta")),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_directory_with_foreign_files_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(!dir.path().join("data.mdb").exists());
}

#[test]
fn a_missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a/b");
    let store = Store::open(&sub, StoreOptions::default()).unwrap();
    assert!(store.file_size() > 0);
}

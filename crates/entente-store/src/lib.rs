//! Durable stores behind the DSS storage boundary: the embedded redb store (default) and the etcd store a
//! pool of instances shares; and behind the USS's (`entente_uss::store`), a USS's redb store.
//!
//! Both the record codec and the group committer live here so that every backend encodes entities
//! the same way and commits in the order the DSS (or the USS) decided.

mod codec;
mod committer;
mod etcd;
mod redb_store;
mod uss;

pub use etcd::{ABANDONED_AFTER, Etcd, EtcdConfig, EtcdStore, LocalEtcd, LocalReads};
pub use redb_store::RedbStore;
pub use uss::{USS_STORE_FILE, UssRedbStore};

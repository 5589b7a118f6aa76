//! Durable stores behind the DSS storage boundary: the embedded redb store (default) and the etcd store a
//! pool of instances shares.
//!
//! Both the record codec and the group committer live here so that every backend encodes entities
//! the same way and commits in the order the DSS decided.

mod codec;
mod etcd;
mod redb_store;

pub use etcd::{ABANDONED_AFTER, Etcd, EtcdConfig, EtcdStore, LocalEtcd};
pub use redb_store::RedbStore;

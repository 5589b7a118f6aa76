//! What a USS must keep across restarts (its flights, the restricted zones it manages) on disk: one JSON line
//! per changed record, appended and synced (syncs shared by concurrent changes, `group_sync.rs`) before the change
//! is acknowledged, so a change costs in proportion
//! to itself and not to everything held; once superseded lines outnumber live ones the file is compacted into
//! a fresh one (write, sync, rename), so it stays proportional to what is live.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::group_sync::GroupSync;

/// Compaction waits for at least this many superseded lines, so small files are not rewritten on every change.
const MIN_SUPERSEDED_BEFORE_COMPACTION: usize = 1_000;

/// One line: the record as it now is, or `null` when it was removed.
#[derive(Deserialize)]
struct Line<R> {
    id: String,
    record: Option<R>,
}

/// A line as written, borrowing what it saves.
#[derive(Serialize)]
struct LineOut<'a, R> {
    id: &'a str,
    record: Option<&'a R>,
}

fn invalid(path: &Path, what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {what}", path.display()))
}

/// The records a journal held when opened, by id, in the order they were first saved.
pub(crate) type Saved<R> = Vec<(String, R)>;

/// Records of type `R` by id, on disk at `path`; without a path, nothing is kept.
pub(crate) struct Journal<R> {
    path: Option<PathBuf>,
    /// The file appended to, and its group commit.
    file: Option<(File, Arc<GroupSync>)>,
    live: HashSet<String>,
    lines: usize,
    record: PhantomData<fn() -> R>,
}

/// Bytes to put on disk, decided while the records were locked, written after.
pub(crate) enum Pending {
    Append(Vec<u8>),
    Replace(Vec<u8>),
}

impl<R: Serialize + DeserializeOwned> Journal<R> {
    /// The records saved last, by id, and the journal to save changes in. The file is compacted first, which
    /// also drops a last line torn by a crash (that change was never acknowledged).
    pub(crate) fn open(path: Option<PathBuf>) -> std::io::Result<(Journal<R>, Saved<R>)> {
        let mut journal =
            Journal { path: path.clone(), file: None, live: HashSet::new(), lines: 0, record: PhantomData };
        let Some(path) = path else { return Ok((journal, Vec::new())) };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let mut records: HashMap<String, R> = HashMap::new();
        let mut order = Vec::new();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for (n, line) in complete.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let line: Line<R> =
                serde_json::from_str(line).map_err(|e| invalid(&path, format!("line {}: {e}", n + 1)))?;
            match line.record {
                Some(record) => {
                    if records.insert(line.id.clone(), record).is_none() {
                        order.push(line.id);
                    }
                }
                None => {
                    records.remove(&line.id);
                }
            }
        }
        let records: Vec<(String, R)> =
            order.into_iter().filter_map(|id| records.remove(&id).map(|r| (id, r))).collect();
        let compacted = journal.encode_all(records.iter().map(|(id, r)| (id.as_str(), r)))?;
        journal.write(compacted)?;
        Ok((journal, records))
    }

    /// The bytes that save `changed` (a removed record as `None`); every live record from `all` instead once
    /// superseded lines outnumber live ones. `None` when nothing is kept on disk.
    pub(crate) fn encode(
        &mut self,
        changed: impl IntoIterator<Item = (String, Option<R>)>,
        all: impl FnOnce() -> Vec<(String, R)>,
    ) -> Option<std::io::Result<Pending>> {
        let path = self.path.clone()?;
        let mut bytes = Vec::new();
        for (id, record) in changed {
            match record {
                Some(_) => self.live.insert(id.clone()),
                None => self.live.remove(&id),
            };
            if let Err(e) = serde_json::to_writer(&mut bytes, &LineOut { id: &id, record: record.as_ref() }) {
                return Some(Err(invalid(&path, e.to_string())));
            }
            bytes.push(b'\n');
            self.lines += 1;
        }
        let superseded = self.lines.saturating_sub(self.live.len());
        if superseded > self.live.len().max(MIN_SUPERSEDED_BEFORE_COMPACTION) {
            let all = all();
            return Some(self.encode_all(all.iter().map(|(id, r)| (id.as_str(), r))));
        }
        Some(Ok(Pending::Append(bytes)))
    }

    fn encode_all<'a>(&mut self, records: impl Iterator<Item = (&'a str, &'a R)>) -> std::io::Result<Pending>
    where
        R: 'a,
    {
        let path = self.path.clone().unwrap_or_default();
        let mut bytes = Vec::new();
        self.live.clear();
        for (id, record) in records {
            serde_json::to_writer(&mut bytes, &LineOut { id, record: Some(record) })
                .map_err(|e| invalid(&path, e.to_string()))?;
            bytes.push(b'\n');
            self.live.insert(id.to_owned());
        }
        self.lines = self.live.len();
        Ok(Pending::Replace(bytes))
    }

    /// Puts what [`Journal::encode`] returned in the file (nothing for `None`); see [`finish`].
    pub(crate) fn write_encoded(
        &mut self,
        encoded: Option<std::io::Result<Pending>>,
    ) -> std::io::Result<Option<PendingSync>> {
        encoded.map_or(Ok(None), |pending| pending.and_then(|pending| self.write(pending)))
    }

    /// Puts `pending` in the file; the change it saves is on disk once the returned sync is done (called after
    /// the caller's lock, so that concurrent changes share syncs). `None`: nothing left to sync.
    fn write(&mut self, pending: Pending) -> std::io::Result<Option<PendingSync>> {
        let Some(path) = &self.path else { return Ok(None) };
        match pending {
            Pending::Append(bytes) => {
                if self.file.is_none() {
                    let file = OpenOptions::new().append(true).create(true).open(path)?;
                    let sync = Arc::new(GroupSync::new(&file)?);
                    self.file = Some((file, sync));
                }
                let Some((file, sync)) = &mut self.file else { return Ok(None) };
                file.write_all(&bytes)?;
                Ok(Some(PendingSync { group: sync.clone(), ticket: sync.appended() }))
            }
            Pending::Replace(bytes) => {
                let tmp = path.with_extension("tmp");
                let mut file = File::create(&tmp)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                std::fs::rename(&tmp, path)?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    File::open(dir)?.sync_all()?;
                }
                let file = OpenOptions::new().append(true).open(path)?;
                // Lines appended to the old file and not yet synced are in this one, which is synced.
                let sync = match self.file.take() {
                    Some((_, sync)) => {
                        sync.replaced(&file)?;
                        sync
                    }
                    None => Arc::new(GroupSync::new(&file)?),
                };
                self.file = Some((file, sync));
                Ok(None)
            }
        }
    }
}

/// Waits until what [`Journal::write_encoded`] wrote is on disk; called after the caller's lock, so that
/// concurrent changes share syncs.
pub(crate) fn finish(written: std::io::Result<Option<PendingSync>>) -> std::io::Result<()> {
    written?.map_or(Ok(()), PendingSync::wait)
}

/// A change appended to a journal, on disk once [`PendingSync::wait`] returns.
pub(crate) struct PendingSync {
    group: Arc<GroupSync>,
    ticket: u64,
}

impl PendingSync {
    pub(crate) fn wait(self) -> std::io::Result<()> {
        self.group.sync(self.ticket)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::Journal;

    fn open(path: &std::path::Path) -> (Journal<u32>, Vec<(String, u32)>) {
        Journal::open(Some(path.to_path_buf())).unwrap()
    }

    fn save(journal: &mut Journal<u32>, changed: Vec<(String, Option<u32>)>, all: &[(String, u32)]) {
        let pending = journal.encode(changed, || all.to_vec()).unwrap().unwrap();
        if let Some(sync) = journal.write(pending).unwrap() {
            sync.wait().unwrap();
        }
    }

    #[test]
    fn the_last_line_of_each_id_wins_and_removals_stay_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let (mut journal, loaded) = open(&path);
        assert!(loaded.is_empty());
        save(&mut journal, vec![("a".into(), Some(1)), ("b".into(), Some(2))], &[]);
        save(&mut journal, vec![("a".into(), Some(3))], &[]);
        save(&mut journal, vec![("b".into(), None), ("c".into(), Some(4))], &[]);
        drop(journal);
        let (_, loaded) = open(&path);
        assert_eq!(loaded, vec![("a".to_owned(), 3), ("c".to_owned(), 4)]);
        // Opening compacted the file to the live records.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_torn_last_line_is_dropped_but_a_corrupt_one_before_it_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let (mut journal, _) = open(&path);
        save(&mut journal, vec![("a".into(), Some(1))], &[]);
        drop(journal);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"id\":\"b\",\"rec")
            .unwrap();
        let (_, loaded) = open(&path);
        assert_eq!(loaded, vec![("a".to_owned(), 1)]);
        std::fs::write(&path, "{\"id\":\"b\",\"rec\n{\"id\":\"a\",\"record\":1}\n").unwrap();
        let err = Journal::<u32>::open(Some(path.clone())).err().unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn superseded_lines_are_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        let (mut journal, _) = open(&path);
        for i in 0..3_000 {
            save(&mut journal, vec![("a".into(), Some(i))], &[("a".to_owned(), i)]);
        }
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 1_002, "{lines} lines for one live record");
        drop(journal);
        let (_, loaded) = open(&path);
        assert_eq!(loaded, vec![("a".to_owned(), 2_999)]);
    }
}

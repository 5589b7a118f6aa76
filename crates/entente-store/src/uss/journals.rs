//! The JSONL journals a USS kept its records in before its store, read once to migrate them, by their own
//! rules: a line `{"id": …, "record": …}` per change, the last line of an id winning and a `null` record
//! removing it (lines a compaction had not yet dropped are thus superseded), and a last line without its
//! newline torn by a crash and never acknowledged, so dropped. A compaction interrupted by a crash left a
//! `<name>.tmp` beside an intact journal, which the journal's reader ignored and so does this one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use entente_uss::store::{JOURNAL_FORMAT, Record, StoreError, Table};
use serde::Deserialize;

/// The file in a USS's data folder that held `table`'s records before the store; `None` for the tables that came
/// with the store, which no journal ever held.
pub(super) fn journal_name(table: Table) -> Option<&'static str> {
    match table {
        Table::Flights => Some("flights.jsonl"),
        Table::Zones => Some("constraints.jsonl"),
        Table::Reports => Some("reports.jsonl"),
        Table::Isas => Some("rid-isas.jsonl"),
        Table::Geozones => None,
    }
}

#[derive(Deserialize)]
struct Line {
    id: String,
    /// `None` for a `null` record: removed.
    record: Option<serde_json::Value>,
}

fn journal_error(path: &Path, what: impl std::fmt::Display) -> StoreError {
    StoreError::Journal(format!("{}: {what}", path.display()))
}

/// A journal read: where it is, and its live records by id.
pub(super) struct Journal {
    pub(super) path: PathBuf,
    pub(super) records: Vec<(String, Record)>,
}

/// The live records of `table`'s journal in `dir` (ids in the order they were first written), as records of
/// [`JOURNAL_FORMAT`]; `None` when there is no such journal. A complete line that is not a journal line is an
/// error naming the file and the line.
pub(super) fn read(dir: &Path, table: Table) -> Result<Option<Journal>, StoreError> {
    let Some(name) = journal_name(table) else { return Ok(None) };
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(journal_error(&path, e)),
    };
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(&bytes[..0], |end| &bytes[..end]);
    let mut live: HashMap<String, serde_json::Value> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (n, line) in complete.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Line = serde_json::from_slice(line)
            .map_err(|e| journal_error(&path, format_args!("line {}: {e}", n + 1)))?;
        match line.record {
            Some(record) => {
                if live.insert(line.id.clone(), record).is_none() {
                    order.push(line.id);
                }
            }
            None => {
                live.remove(&line.id);
            }
        }
    }
    let mut records = Vec::with_capacity(live.len());
    for id in order {
        let Some(record) = live.remove(&id) else { continue };
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| journal_error(&path, format_args!("record {id:?}: {e}")))?;
        records.push((id, Record { format: JOURNAL_FORMAT, bytes }));
    }
    Ok(Some(Journal { path, records }))
}

/// Renames a migrated journal `<name>.migrated` (`<name>.migrated.2` … if taken), never deleting it: it is the
/// operator's data, and the way back to an older release.
pub(super) fn set_aside(journal: &Path) -> Result<(), StoreError> {
    let mut n = 1;
    let target = loop {
        let mut name = journal.as_os_str().to_owned();
        name.push(if n == 1 { ".migrated".to_owned() } else { format!(".migrated.{n}") });
        let target = PathBuf::from(name);
        if !target.exists() {
            break target;
        }
        n += 1;
    };
    std::fs::rename(journal, &target).map_err(|e| {
        journal_error(journal, format_args!("migrated, but renaming it {}: {e}", target.display()))
    })
}

/// A journal beside a store that already has its table is not read again (its records were migrated, or the
/// store came first); it is left as it is, and said so.
pub(super) fn warn_if_left(dir: &Path, table: Table) {
    let Some(name) = journal_name(table) else { return };
    let path = dir.join(name);
    if path.exists() {
        tracing::warn!(
            journal = %path.display(),
            table = table.name(),
            "a journal beside a store that already has its table is ignored"
        );
    }
}

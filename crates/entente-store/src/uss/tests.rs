//! The USS store's tests: records round trip and survive a reopening, and journals of the format before it
//! (fixtures of a real run) are migrated once, by their own rules, and set aside.

use std::path::{Path, PathBuf};

use entente_uss::store::{JOURNAL_FORMAT, Record, StoreError, Table, UssStore, Write};

use super::{USS_STORE_FILE, UssRedbStore};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uss-journals-v1")
}

/// A data folder holding a copy of the fixture journals.
fn folder_with_journals() -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    for name in ["flights.jsonl", "constraints.jsonl", "reports.jsonl", "rid-isas.jsonl"] {
        std::fs::copy(fixtures().join(name), dir.path().join(name))?;
    }
    Ok(dir)
}

fn record(byte: u8) -> Record {
    Record { format: 7, bytes: vec![byte, b'x'] }
}

fn put(table: Table, id: &str, r: Record) -> Write {
    Write { table, id: id.to_owned(), record: Some(r) }
}

fn json(r: &Record) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    assert_eq!(r.format, JOURNAL_FORMAT);
    Ok(serde_json::from_slice(&r.bytes)?)
}

fn ids(records: &[(String, Record)]) -> Vec<&str> {
    records.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn records_round_trip_and_survive_a_reopening() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = UssRedbStore::open(dir.path())?;
    let tickets = [
        store.submit(vec![put(Table::Flights, "a", record(1)), put(Table::Zones, "a", record(2))]),
        store.submit(vec![put(Table::Flights, "b", record(3)), put(Table::Reports, "r", record(4))]),
        store.submit(vec![Write { table: Table::Flights, id: "a".into(), record: None }]),
        store.submit(vec![put(Table::Isas, "i", record(5)), put(Table::Flights, "b", record(6))]),
    ];
    for ticket in tickets {
        ticket.await??;
    }
    drop(store);
    let store = UssRedbStore::open(dir.path())?;
    assert_eq!(store.load(Table::Flights)?, vec![("b".to_owned(), record(6))]);
    assert_eq!(store.load(Table::Zones)?, vec![("a".to_owned(), record(2))]);
    assert_eq!(store.load(Table::Reports)?, vec![("r".to_owned(), record(4))]);
    assert_eq!(store.load(Table::Isas)?, vec![("i".to_owned(), record(5))]);
    Ok(())
}

#[test]
fn the_journals_of_a_real_run_are_migrated_by_their_own_rules() -> Result<(), Box<dyn std::error::Error>> {
    let dir = folder_with_journals()?;
    let store = UssRedbStore::open(dir.path())?;

    // Flights: three, each as its last line left it (the ended one's history says how it got there).
    let flights = store.load(Table::Flights)?;
    assert_eq!(
        ids(&flights),
        [
            "6b03c87a-d6e4-4c00-946b-e476ea030587",
            "8009d063-21e8-4f79-8a15-e60681bad8e0",
            "eede0701-72b1-4d0f-9c07-ae558bba7da5"
        ]
    );
    let ended = json(&flights[1].1)?;
    assert_eq!(ended["state"], "Ended");
    let states: Vec<&str> =
        ended["history"].as_array().ok_or("a history")?.iter().filter_map(|c| c["state"].as_str()).collect();
    assert_eq!(states, ["Accepted", "Activated", "Contingent", "Ended"]);
    assert_eq!(json(&flights[0].1)?["state"], "Activated");

    // Zones: the lifted one is gone.
    let zones = store.load(Table::Zones)?;
    assert_eq!(ids(&zones), ["6f16d570-131c-414e-a31f-5590b5384096", "f4e73603-1a52-4daa-8a89-323e7df89a97"]);
    assert_eq!(json(&zones[1].1)?["details"]["type"], "event");

    let reports = store.load(Table::Reports)?;
    assert_eq!(
        ids(&reports),
        ["7fbea959-89b5-40ef-9bef-735aaabb5585", "93c3e388-c632-4b82-b103-3294a6e5e008"]
    );
    assert_eq!(json(&reports[0].1)?["from"], "south-uss");
    assert_eq!(json(&reports[1].1)?["report"]["exchange"]["problem"], "no answer within 1 s");

    let isas = store.load(Table::Isas)?;
    assert_eq!(ids(&isas), ["229f98e4-ec6b-4de4-97c4-74d6440321ad", "389d1c57-4c93-40fb-ac91-5c87b0ea707d"]);

    // Each journal is set aside, unchanged.
    for name in ["flights.jsonl", "constraints.jsonl", "reports.jsonl", "rid-isas.jsonl"] {
        assert!(!dir.path().join(name).exists(), "{name} still in place");
        let kept = std::fs::read(dir.path().join(format!("{name}.migrated")))?;
        assert_eq!(kept, std::fs::read(fixtures().join(name))?, "{name}");
    }
    Ok(())
}

#[test]
fn a_migration_happens_once() -> Result<(), Box<dyn std::error::Error>> {
    let dir = folder_with_journals()?;
    let store = UssRedbStore::open(dir.path())?;
    let before: Vec<_> = Table::ALL.iter().map(|t| store.load(*t)).collect::<Result<_, _>>()?;
    // A change made after the migration, then a journal put back where the migration found it: neither the
    // change is lost nor the journal read again.
    let mut writes = vec![Write {
        table: Table::Flights,
        id: "8009d063-21e8-4f79-8a15-e60681bad8e0".into(),
        record: None,
    }];
    writes.push(put(Table::Zones, "z", record(9)));
    store.submit(writes).blocking_recv()??;
    drop(store);
    std::fs::copy(fixtures().join("flights.jsonl"), dir.path().join("flights.jsonl"))?;
    let store = UssRedbStore::open(dir.path())?;
    let flights = store.load(Table::Flights)?;
    assert_eq!(flights.len(), before[0].len() - 1);
    assert_eq!(store.load(Table::Zones)?.len(), before[1].len() + 1);
    assert_eq!(store.load(Table::Reports)?, before[2]);
    assert_eq!(store.load(Table::Isas)?, before[3]);
    assert!(dir.path().join("flights.jsonl").exists(), "a journal not migrated is left in place");
    Ok(())
}

#[test]
fn a_table_the_store_lacks_is_migrated_and_a_taken_name_is_not_overwritten()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // A store from before reports were kept in it: only the flights table.
    {
        let db = redb::Database::create(dir.path().join(USS_STORE_FILE))?;
        let txn = db.begin_write()?;
        txn.open_table(super::definition(Table::Flights))?;
        txn.commit()?;
    }
    std::fs::copy(fixtures().join("reports.jsonl"), dir.path().join("reports.jsonl"))?;
    std::fs::copy(fixtures().join("flights.jsonl"), dir.path().join("flights.jsonl"))?;
    std::fs::write(dir.path().join("reports.jsonl.migrated"), "an earlier migration's\n")?;
    let store = UssRedbStore::open(dir.path())?;
    assert_eq!(store.load(Table::Reports)?.len(), 2);
    assert!(store.load(Table::Flights)?.is_empty(), "the flights table existed: its journal is not read");
    assert!(dir.path().join("flights.jsonl").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("reports.jsonl.migrated"))?,
        "an earlier migration's\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("reports.jsonl.migrated.2"))?,
        std::fs::read(fixtures().join("reports.jsonl"))?
    );
    Ok(())
}

#[test]
fn a_torn_last_line_is_dropped_and_a_corrupt_line_names_its_file_and_line()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = folder_with_journals()?;
    let isas = dir.path().join("rid-isas.jsonl");
    let mut text = std::fs::read_to_string(&isas)?;
    // A kill -9 in the middle of an append: that change was never acknowledged.
    text.push_str(r#"{"id":"0f0f0f0f-0000-4000-8000-000000000000","rec"#);
    std::fs::write(&isas, &text)?;
    let store = UssRedbStore::open(dir.path())?;
    assert_eq!(store.load(Table::Isas)?.len(), 2);
    drop(store);

    let dir = folder_with_journals()?;
    let flights = dir.path().join("flights.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&flights)?.lines().map(str::to_owned).collect();
    lines[2].truncate(40);
    std::fs::write(&flights, lines.join("\n") + "\n")?;
    let err = UssRedbStore::open(dir.path()).err().ok_or("a corrupt journal opened")?;
    assert!(matches!(err, StoreError::Journal(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("flights.jsonl: line 3:"), "{message}");
    // Nothing was migrated and nothing set aside: the next start, after a repair, tries again.
    assert!(flights.exists() && !dir.path().join("flights.jsonl.migrated").exists());
    assert!(dir.path().join("reports.jsonl").exists());
    std::fs::copy(fixtures().join("flights.jsonl"), &flights)?;
    assert_eq!(UssRedbStore::open(dir.path())?.load(Table::Flights)?.len(), 3);
    Ok(())
}

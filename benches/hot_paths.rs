//! Micro-benchmarks of the server's hot paths (issue 9):
//! - decoding a frame (`protocol::decode_frame`, and `connection::decode`,
//!   which also decodes the yrs update inside);
//! - applying an update to a document and re-encoding it for relay
//!   (`Replica::apply`, `protocol::encode_update`);
//! - a group commit of N updates on SQLite (`Store::append_updates`);
//! - loading a compacted document (`Replica::load`), and answering its
//!   clients' sync step 1 (`Replica::sync_answer`);
//! - exporting a 100-paragraph resolution in each format (`export::render`).
//!
//! `cargo bench --bench hot_paths`; results under target/criterion.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use plenary::ids::{DocumentId, Seq};
use plenary::store::{NewUpdate, StoredDocument, StoredUpdate};
use plenary::sync::connection;
use plenary::sync::crdt::{self, Replica};
use plenary::sync::protocol;
use yrs::{Doc, ReadTxn, StateVector, Text, Transact};

/// `count` keystrokes typed by one client, each as its own v1 update, like a
/// y-websocket client sends them.
fn keystrokes(client: u64, count: usize) -> Vec<Vec<u8>> {
    type_scattered(&Doc::with_client_id(client), count)
}

/// `count` keystrokes typed into `doc` at scattered places, each as its own
/// v1 update.
fn type_scattered(doc: &Doc, count: usize) -> Vec<Vec<u8>> {
    let text = doc.get_or_insert_text("body");
    (0..count)
        .map(|index| {
            let mut transaction = doc.transact_mut();
            let length = text.len(&transaction);
            let position = (index as u32 * 7919) % (length + 1);
            text.insert(&mut transaction, position, "x");
            transaction.encode_update_v1()
        })
        .collect()
}

/// A document holding `state`, as `client`.
fn doc_with(state: &[u8], client: u64) -> Doc {
    let doc = Doc::with_client_id(client);
    let update = crdt::decode_update(state).expect("valid");
    doc.transact_mut().apply_update(update).expect("applies");
    doc
}

fn full_state(updates: &[Vec<u8>]) -> Vec<u8> {
    let doc = Doc::new();
    {
        let mut transaction = doc.transact_mut();
        for update in updates {
            let update = crdt::decode_update(update).expect("valid");
            transaction.apply_update(update).expect("applies");
        }
    }
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

fn decode_frames(c: &mut Criterion) {
    let update = keystrokes(1, 1).remove(0);
    let frame = protocol::encode_update(&update);
    let mut group = c.benchmark_group("decode_frame");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("protocol::decode_frame (keystroke)", |b| {
        b.iter(|| protocol::decode_frame(black_box(&frame)).expect("valid"));
    });
    group.bench_function("connection::decode (keystroke, with yrs decode)", |b| {
        b.iter(|| connection::decode(black_box(&frame), None).expect("valid"));
    });
    let entry = protocol::AwarenessEntry {
        client: 42,
        clock: 7,
        state: Some(r##"{"user":{"name":"Delegate of Chile","color":"#30bced"}}"##.into()),
    };
    let awareness = protocol::encode_awareness([&entry]);
    group.bench_function("connection::decode (awareness)", |b| {
        b.iter(|| connection::decode(black_box(&awareness), None).expect("valid"));
    });
    group.finish();
}

/// What a room sends each client that joins: every state it holds, here a
/// thousand (a reconnect storm's last joiners), each as a stamped state is.
fn encode_awareness(c: &mut Criterion) {
    let entries: Vec<protocol::AwarenessEntry> = (0..1000u64)
        .map(|client| protocol::AwarenessEntry {
            client: 1_000_000 + client,
            clock: 3,
            state: Some(format!(
                r##"{{"user":{{"name":"Delegate {client}","color":"#30bced","role":"delegate","delegation":"Chile"}},"cursor":null}}"##
            )),
        })
        .collect();
    let mut group = c.benchmark_group("encode_awareness");
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("protocol::encode_awareness (1000 states)", |b| {
        b.iter(|| protocol::encode_awareness(black_box(&entries)));
    });
    let mut awareness = plenary::sync::awareness::Awareness::default();
    let limits = plenary::sync::awareness::AwarenessLimits {
        clients_per_connection: entries.len(),
        state_bytes: 1 << 10,
    };
    awareness
        .apply(
            plenary::ids::ConnectionId(1),
            entries.clone(),
            tokio::time::Instant::now(),
            limits,
        )
        .expect("accepted");
    group.bench_function(
        "Awareness::encode_states (a joiner's frames, 1000 states)",
        |b| {
            b.iter(|| black_box(&awareness).encode_states());
        },
    );
    group.bench_function(
        "Awareness::states, then encode_awareness (the same, copied first)",
        |b| {
            b.iter(|| protocol::encode_awareness(&black_box(&awareness).states()));
        },
    );
    group.finish();
}

fn apply_and_encode(c: &mut Criterion) {
    // A document of 2,000 characters typed by 20 writers, then one more keystroke.
    let history: Vec<Vec<u8>> = (0..20)
        .flat_map(|client| keystrokes(client + 1, 100))
        .collect();
    let state = full_state(&history);
    let next = keystrokes(99, 1).remove(0);
    let mut group = c.benchmark_group("apply_update");
    group.bench_function(
        "Replica::apply + encode_update (keystroke into 2,000 chars)",
        |b| {
            b.iter_batched(
                || {
                    let stored = StoredDocument {
                        snapshot: Some(state.clone()),
                        snapshot_seq: Seq(1),
                        updates: Vec::new(),
                    };
                    let replica = Replica::load(&stored).expect("loads");
                    let update = crdt::decode_update(&next).expect("valid");
                    (replica, update)
                },
                |(mut replica, update)| {
                    let applied = replica.apply(update, &next).expect("applies");
                    let frame = protocol::encode_update(&next);
                    black_box((applied, frame, replica))
                },
                BatchSize::SmallInput,
            );
        },
    );
    let relay: Vec<NewUpdate> = keystrokes(7, 64)
        .into_iter()
        .map(|data| NewUpdate {
            data: Bytes::from(data),
            author: None,
            delegation: None,
        })
        .collect();
    group.bench_function("merge 64 keystrokes into one relayed frame", |b| {
        b.iter(|| {
            let merged =
                yrs::merge_updates_v1(relay.iter().map(|update| &update.data[..])).expect("merges");
            protocol::encode_update(&merged)
        });
    });
    // What every client of a meeting (and the server) does most: apply
    // someone's keystroke to a long text whose writers' characters interleave
    // (each a block of its own), finding its neighbours among them.
    let long: Vec<Vec<u8>> = (0..4)
        .flat_map(|client| keystrokes(client + 1, 25_000))
        .collect();
    let long_state = full_state(&long);
    let typed = type_scattered(&doc_with(&long_state, 98), 1000);
    group.throughput(Throughput::Elements(typed.len() as u64));
    group.bench_function(
        "1,000 keystrokes applied to a text of 100,000 interleaved characters",
        |b| {
            b.iter_batched(
                || doc_with(&long_state, 99),
                |doc| {
                    for update in &typed {
                        let update = crdt::decode_update(update).expect("valid");
                        doc.transact_mut().apply_update(update).expect("applies");
                    }
                    doc
                },
                BatchSize::PerIteration,
            );
        },
    );
    group.finish();
}

fn group_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = runtime
        .block_on(plenary::store::open(&url))
        .map(|database| database.documents)
        .expect("opens the store");
    let document = DocumentId::parse("bench").expect("valid name");
    let mut group = c.benchmark_group("append_updates (SQLite, synchronous=FULL)");
    group.sample_size(20);
    let mut next_seq = 1i64;
    for count in [1usize, 16, 64, 256] {
        let updates: Vec<NewUpdate> = keystrokes(3, count)
            .into_iter()
            .map(|data| NewUpdate {
                data: Bytes::from(data),
                author: Some("bench".into()),
                delegation: None,
            })
            .collect();
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(count),
            &updates,
            |b, updates| {
                b.iter(|| {
                    let first = Seq(next_seq);
                    next_seq += updates.len() as i64;
                    runtime
                        .block_on(store.append_updates(&document, first, updates))
                        .expect("commits");
                });
            },
        );
    }
    group.finish();
}

fn load_compacted(c: &mut Criterion) {
    // 20,000 keystrokes folded into a snapshot, plus a tail of 500 in the log.
    let history: Vec<Vec<u8>> = (0..4)
        .flat_map(|client| keystrokes(client + 1, 5000))
        .collect();
    let snapshot = full_state(&history);
    let tail: Vec<StoredUpdate> = keystrokes(50, 500)
        .into_iter()
        .enumerate()
        .map(|(index, data)| StoredUpdate {
            seq: Seq(20_001 + index as i64),
            data,
            author: None,
            delegation: None,
        })
        .collect();
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    let compacted = StoredDocument {
        snapshot: Some(snapshot.clone()),
        snapshot_seq: Seq(20_000),
        updates: Vec::new(),
    };
    group.bench_function("Replica::load (snapshot of 20,000 keystrokes)", |b| {
        b.iter(|| Replica::load(black_box(&compacted)).expect("loads"));
    });
    let with_tail = StoredDocument {
        snapshot: Some(snapshot),
        snapshot_seq: Seq(20_000),
        updates: tail,
    };
    group.bench_function("Replica::load (snapshot + 500 logged updates)", |b| {
        b.iter(|| Replica::load(black_box(&with_tail)).expect("loads"));
    });
    group.bench_function("Replica::full_state after load (first sync step 2)", |b| {
        b.iter_batched(
            || Replica::load(&compacted).expect("loads"),
            |mut replica| replica.full_state().expect("encodes"),
            BatchSize::SmallInput,
        );
    });
    // A reconnect storm: every client held the whole document when it lost
    // its connection, so each asks with the same state vector. What yrs
    // takes to answer one of them, and what the replica takes (it answers
    // the second from its cache).
    let mut replica = Replica::load(&compacted).expect("loads");
    let up_to_date = replica.doc().transact().state_vector();
    group.bench_function(
        "sync step 2 for a peer holding everything, encoded by yrs",
        |b| {
            b.iter(|| {
                replica
                    .doc()
                    .transact()
                    .encode_state_as_update_v1(black_box(&up_to_date))
            });
        },
    );
    group.bench_function(
        "sync step 2 for a peer holding everything, Replica::sync_answer",
        |b| {
            b.iter(|| {
                replica
                    .sync_answer(black_box(&up_to_date))
                    .expect("encodes")
            });
        },
    );
    group.finish();
}

/// A resolution of 100 operative paragraphs (a third with (a) and (i)
/// sub-paragraphs), in Spanish, read and numbered as an export reads it.
fn long_resolution() -> plenary::export::ResolutionText {
    use plenary::amendments::Language;
    use plenary::document::{Block, BlockKind, Inline};
    use plenary::export::{Date, Heading, MeetingHeading, ResolutionText, VersionLabel};
    let mut blocks = vec![Block::new(
        BlockKind::Preamble,
        vec![
            Inline::italic("Recordando"),
            Inline::plain(
                " el Protocolo de Palermo, especialmente en lo relativo a mujeres y niñas,",
            ),
        ],
    )];
    for index in 0..100 {
        blocks.push(Block::new(
            BlockKind::Operative,
            vec![
                Inline::italic("Alienta"),
                Inline::plain(format!(
                    " a los parlamentos a intercambiar buenas prácticas sobre la identificación temprana de víctimas, la cooperación judicial y la protección de testigos ({index});"
                )),
            ],
        ));
        if index % 3 == 0 {
            blocks.push(Block::subparagraph(
                1,
                vec![Inline::plain(
                    "mediante audiencias públicas y la participación de la sociedad civil;",
                )],
            ));
            blocks.push(Block::subparagraph(
                2,
                vec![Inline::plain(
                    "con intérpretes en los cuatro idiomas de la Red;",
                )],
            ));
        }
    }
    let day = Date {
        year: 2025,
        month: 9,
        day: 10,
    };
    ResolutionText::new(
        Heading {
            id: "bench".into(),
            meeting: MeetingHeading {
                id: "meeting".into(),
                title: "7.ª Reunión Anual de la Red de Mujeres Parlamentarias de las Américas"
                    .into(),
                place: Some("Bogotá, Colombia".into()),
                starts_on: Some(day),
                ends_on: None,
            },
            title: "Trata de personas en las Américas".into(),
            sponsors: vec!["México".into(), "Perú".into()],
            phase: plenary::resolutions::Phase::Adopted,
            date: day,
            created: day,
            version: VersionLabel {
                number: Some(3),
                name: Some("Aprobada".into()),
            },
            language: Language::Es,
        },
        &blocks,
    )
}

fn export_formats(c: &mut Criterion) {
    use plenary::export::{Export, Format, render};
    let export = Export::Resolution(Box::new(long_resolution()));
    let mut group = c.benchmark_group("export (100 operative paragraphs)");
    group.sample_size(20);
    for format in [
        Format::Md,
        Format::Txt,
        Format::Html,
        Format::Pdf,
        Format::Docx,
        Format::Akn,
    ] {
        group.bench_function(format.name(), |b| {
            b.iter(|| render(black_box(&export), format).expect("renders"));
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decode_frames,
    encode_awareness,
    apply_and_encode,
    group_commit,
    load_compacted,
    export_formats
);
criterion_main!(benches);

//! The scenarios of issue 9, each a function from a [`Run`] to a JSON result.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::client::{self, ClientHandle, ClientOptions, Command, Endpoint, Report, Role, Shared};
use crate::server::{Node, Sample, Sampler, ServerSpec, proc_stat};
use crate::{Dialect, Sizes};

/// How long the end of a scenario may wait for every client to catch up.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the clients of a storm may take to be synced again.
const STORM_TIMEOUT: Duration = Duration::from_secs(120);

/// How long connecting the clients of a scenario may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(180);

/// Everything a scenario runs against.
pub struct Run {
    pub nodes: Vec<Node>,
    pub spec: ServerSpec,
    /// `ws://127.0.0.1:{port}/sync/{doc}`-style template.
    pub url_template: String,
    pub dialect: Dialect,
    pub token: Option<String>,
    pub documents: Vec<String>,
    pub awareness: bool,
    pub sizes: Sizes,
}

impl Run {
    fn endpoint(&self, node: usize, document: &str) -> Endpoint {
        let port = self.nodes[node % self.nodes.len()].port;
        let mut url = self
            .url_template
            .replace("{port}", &port.to_string())
            .replace("{doc}", document);
        if let Some(token) = &self.token {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("token=");
            url.push_str(token);
        }
        Endpoint {
            url,
            dialect: match self.dialect {
                Dialect::YWebsocket => client::Dialect::YWebsocket,
                Dialect::Hocuspocus => client::Dialect::Hocuspocus,
            },
            document: document.to_owned(),
            token: self.token.clone().unwrap_or_else(|| "load".into()),
        }
    }

    fn document(&self, index: usize) -> anyhow::Result<&str> {
        self.documents
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "this scenario needs {} documents; {} were given",
                    index + 1,
                    self.documents.len()
                )
            })
    }

    fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(Node::pid).collect()
    }

    fn sampler(&self) -> Sampler {
        Sampler::start(self.pids(), self.spec.count_comm.clone())
    }

    fn client(&self, index: usize, node: usize, document: &str, role: Role) -> ClientOptions {
        ClientOptions {
            index,
            endpoint: self.endpoint(node, document),
            role,
            awareness: self.awareness,
            connect: false,
            seed: index as u64 + 1,
        }
    }
}

fn spawn_all(options: Vec<ClientOptions>, shared: &Arc<Shared>) -> Vec<ClientHandle> {
    options
        .into_iter()
        .map(|options| client::spawn(options, shared.clone()))
        .collect()
}

/// Connects clients `batch` at a time, each batch synced before the next
/// (setting up is not what is measured). The first client of each document
/// connects before the others: y-sweet loads a document twice when two
/// sockets open it at once, and edits on the orphaned copy are lost, which
/// is not what this setup is here to measure. Returns how many never synced.
async fn connect_all(clients: &mut [ClientHandle], batch: usize) -> usize {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let mut opened = std::collections::HashSet::new();
    let (first, rest): (Vec<usize>, Vec<usize>) =
        (0..clients.len()).partition(|&index| opened.insert(clients[index].document.clone()));
    let mut failed = 0;
    for wave in [first, rest] {
        for group in wave.chunks(batch.max(1)) {
            for &index in group {
                clients[index].send(Command::Connect);
            }
            for &index in group {
                if clients[index].wait_syncs(1, deadline).await.is_none() {
                    failed += 1;
                }
            }
        }
    }
    failed
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn latency_json(histogram: &Histogram<u64>) -> Value {
    if histogram.is_empty() {
        return Value::Null;
    }
    json!({
        "count": histogram.len(),
        "p50_ms": ms(histogram.value_at_quantile(0.50)),
        "p90_ms": ms(histogram.value_at_quantile(0.90)),
        "p99_ms": ms(histogram.value_at_quantile(0.99)),
        "p999_ms": ms(histogram.value_at_quantile(0.999)),
        "max_ms": ms(histogram.max()),
        "mean_ms": histogram.mean() / 1000.0,
    })
}

fn sample_json(sample: &Sample) -> Value {
    json!({
        "seconds": sample.seconds,
        "server_cpu_s": sample.cpu_seconds,
        "db_cpu_s": sample.comm_cpu_seconds,
        "load_cpu_s": sample.own_cpu_seconds,
        "server_peak_rss_mb": sample.peak_rss_bytes as f64 / 1048576.0,
        "server_hwm_mb": sample.hwm_bytes as f64 / 1048576.0,
    })
}

/// The outcome of waiting for every client to hold every edit.
struct Convergence {
    converged: bool,
    reports: Vec<Report>,
    detail: Value,
}

/// Waits until every client holds every writer's edits (`expected`: client
/// id → clock), then compares every client's text, and a fresh client's,
/// with the first client's.
async fn converge(
    run: &Run,
    clients: &[ClientHandle],
    expected: impl Fn(usize) -> HashMap<u64, u32>,
    fresh: Option<(usize, &str)>,
) -> Convergence {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let behind = |index: usize, report: &Report| {
        expected(index)
            .iter()
            .filter(|(client, clock)| report.clocks.get(client).copied().unwrap_or(0) < **clock)
            .map(|(client, clock)| {
                u64::from(*clock - report.clocks.get(client).copied().unwrap_or(0))
            })
            .sum::<u64>()
    };
    let mut pending: Vec<usize> = (0..clients.len()).collect();
    let mut reports: Vec<Option<Report>> = (0..clients.len()).map(|_| None).collect();
    let mut missing;
    loop {
        let mut still = Vec::new();
        missing = 0;
        // All at once: a client busy reconnecting must not hold up the others.
        let answers =
            futures_util::future::join_all(pending.iter().map(|&index| clients[index].report()))
                .await;
        for (&index, answer) in pending.iter().zip(answers) {
            let Some(report) = answer else {
                still.push(index);
                continue;
            };
            let missed = behind(index, &report);
            merge_report(&mut reports[index], report);
            if missed > 0 {
                missing += missed;
                still.push(index);
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reports: Vec<Report> = reports.into_iter().flatten().collect();
    let reference = reports
        .first()
        .map(|report| report.text.clone())
        .unwrap_or_default();
    let differing = reports
        .iter()
        .filter(|report| report.text != reference)
        .count();
    let mut fresh_equal = Value::Null;
    let mut fresh_state = None;
    if let Some((node, document)) = fresh {
        let shared = Shared::new(0, 0);
        let mut options = run.client(usize::MAX / 2, node, document, Role::Reader);
        options.awareness = false;
        let mut fresh_client = client::spawn(options, shared);
        fresh_client.send(Command::Connect);
        let synced = fresh_client
            .wait_syncs(1, Instant::now() + Duration::from_secs(60))
            .await;
        fresh_equal = match (synced, fresh_client.report().await) {
            (Some(_), Some(report)) => json!(report.text == reference),
            _ => json!("the fresh client could not sync"),
        };
        if fresh_equal == json!(false) {
            fresh_state = fresh_client.state().await;
        }
        fresh_client.abort();
    }
    // A fresh client that could not sync at all fails the run too.
    let converged = pending.is_empty()
        && differing == 0
        && (fresh_equal.is_null() || fresh_equal == json!(true));
    let mut detail = json!({
        "converged": converged,
        "clients_behind": pending.len(),
        "edits_missing": missing,
        "clients_with_other_text": differing,
        "fresh_client_equal": fresh_equal,
        "text_length": reference.len(),
    });
    if differing > 0 || fresh_equal == json!(false) {
        detail["reloaded"] = reload_states(clients, &reports, fresh_state).await;
    }
    Convergence {
        converged,
        detail,
        reports,
    }
}

/// When the texts differ, tells why. Each client's document (and the fresh
/// client's) is encoded and read again into a new document: if the texts
/// read again agree where the live ones did not, the clients received the
/// same items and yrs ordered them differently while integrating them one
/// update at a time. With `PLENARY_LOAD_DUMP` set to a folder, writes each
/// document there (`client-{index}.bin`, `fresh.bin`: updates v1).
async fn reload_states(
    clients: &[ClientHandle],
    reports: &[Report],
    fresh: Option<Vec<u8>>,
) -> Value {
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, Transact};
    let dump = std::env::var_os("PLENARY_LOAD_DUMP").map(std::path::PathBuf::from);
    let mut states: Vec<(String, Option<Vec<u8>>)> =
        futures_util::future::join_all(clients.iter().map(|client| client.state()))
            .await
            .into_iter()
            .enumerate()
            .map(|(index, state)| (format!("client-{index}"), state))
            .collect();
    if fresh.is_some() {
        states.push(("fresh".into(), fresh));
    }
    let mut texts = Vec::new();
    for (name, state) in states {
        let Some(state) = state else { continue };
        if let Some(folder) = &dump {
            let _ = std::fs::create_dir_all(folder);
            let _ = std::fs::write(folder.join(format!("{name}.bin")), &state);
        }
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text(client::TEXT);
        let applied = yrs::Update::decode_v1(&state)
            .map_err(|error| error.to_string())
            .and_then(|update| {
                doc.transact_mut()
                    .apply_update(update)
                    .map_err(|error| error.to_string())
            });
        texts.push(applied.map(|()| text.get_string(&doc.transact())));
    }
    let first = texts.iter().find_map(|text| text.as_ref().ok());
    let live_first = reports.first().map(|report| &report.text);
    json!({
        "documents": texts.len(),
        "unreadable": texts.iter().filter(|text| text.is_err()).count(),
        "with_other_text": texts
            .iter()
            .filter(|text| text.as_ref().ok() != first)
            .count(),
        "first_client_changed_on_reload": first != live_first,
    })
}

fn merge_report(slot: &mut Option<Report>, report: Report) {
    match slot {
        None => *slot = Some(report),
        Some(existing) => {
            let _ = existing.latency.add(&report.latency);
            existing.delivered += report.delivered;
            existing.text = report.text;
            existing.clocks = report.clocks;
        }
    }
}

fn writer_clocks(shared: &Shared) -> HashMap<u64, u32> {
    shared
        .writers
        .iter()
        .enumerate()
        .filter_map(|(index, log)| {
            let count = log.count.load(Ordering::Acquire) as u32;
            (count > 0).then_some((shared.writer_id(index), count))
        })
        .collect()
}

/// `plenary` (and `cross-node` when the run has several nodes): 1 document,
/// N clients, W of them typing R characters a second.
pub async fn typing(run: &Run, name: &str) -> anyhow::Result<Value> {
    let sizes = &run.sizes;
    let document = run.document(0)?.to_owned();
    let interval = Duration::from_secs_f64(1.0 / sizes.typing_rate);
    let shared = Shared::new(sizes.typing_writers, 0);
    let nodes = run.nodes.len();
    let options = (0..sizes.typing_clients)
        .map(|index| {
            let role = if index < sizes.typing_writers {
                Role::Typist {
                    writer: index,
                    interval,
                    rewrite: None,
                }
            } else {
                Role::Reader
            };
            run.client(index, index % nodes, &document, role)
        })
        .collect();
    let mut clients = spawn_all(options, &shared);
    let not_synced = connect_all(&mut clients, 25).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sampler = run.sampler();
    shared.recording.store(true, Ordering::Relaxed);
    for client in &clients[..sizes.typing_writers] {
        client.send(Command::Typing(true));
    }
    tokio::time::sleep(sizes.typing_duration).await;
    for client in &clients[..sizes.typing_writers] {
        client.stop_typing().await;
    }
    let typed_for = sizes.typing_duration.as_secs_f64();
    let expected = writer_clocks(&shared);
    let convergence = converge(
        run,
        &clients,
        |_| expected.clone(),
        Some((nodes - 1, &document)),
    )
    .await;
    shared.recording.store(false, Ordering::Relaxed);
    let sample = sampler.finish().await;
    let latency = client::merge_latency(&convergence.reports);
    let sent: u64 = expected.values().map(|&clock| u64::from(clock)).sum();
    let delivered: u64 = convergence
        .reports
        .iter()
        .map(|report| report.delivered)
        .sum();
    let expected_deliveries = sent * (sizes.typing_clients as u64 - 1);
    let mut status = if convergence.converged {
        "ok"
    } else {
        "failed"
    };
    let mut note = Value::Null;
    if nodes > 1 && !convergence.converged {
        status = "unsupported";
        note = json!(
            "clients on different nodes did not all receive each other's edits: several nodes cannot serve one document yet"
        );
    }
    if not_synced > 0 {
        status = "failed";
        note = json!(format!(
            "{not_synced} clients never completed their first sync"
        ));
    }
    Ok(json!({
        "scenario": name,
        "status": status,
        "note": note,
        "params": {
            "clients": sizes.typing_clients,
            "writers": sizes.typing_writers,
            "chars_per_s": sizes.typing_rate,
            "seconds": typed_for,
            "nodes": nodes,
        },
        "latency": latency_json(&latency),
        "edits_sent": sent,
        "deliveries": delivered,
        "deliveries_expected": expected_deliveries,
        "delivered_per_s": delivered as f64 / typed_for,
        "server": sample_json(&sample),
        "convergence": convergence.detail,
    }))
}

/// `saturation`: 1 document, 20 clients, 4 writers each keeping 50 edits in
/// flight (sent, not yet received by every other client).
pub async fn saturation(run: &Run) -> anyhow::Result<Value> {
    let sizes = &run.sizes;
    let document = run.document(0)?.to_owned();
    let writers = sizes.saturation_writers;
    let clients_count = sizes.saturation_clients;
    let shared = Shared::new(writers, clients_count);
    let options = (0..clients_count)
        .map(|index| {
            let role = if index < writers {
                Role::Saturator {
                    writer: index,
                    window: sizes.saturation_window,
                }
            } else {
                Role::Reader
            };
            run.client(index, 0, &document, role)
        })
        .collect();
    let mut clients = spawn_all(options, &shared);
    let not_synced = connect_all(&mut clients, 25).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sampler = run.sampler();
    shared.recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    for client in &clients[..writers] {
        client.send(Command::Typing(true));
    }
    tokio::time::sleep(sizes.saturation_duration).await;
    // Edits every reader had at the end of the window.
    let everywhere: u64 = (0..writers)
        .map(|writer| {
            (0..clients_count)
                .filter(|&client| client != writer)
                .map(|client| shared.progress[client * writers + writer].load(Ordering::Acquire))
                .min()
                .unwrap_or(0)
        })
        .sum();
    let elapsed = started.elapsed().as_secs_f64();
    for client in &clients[..writers] {
        client.stop_typing().await;
    }
    let expected = writer_clocks(&shared);
    let convergence = converge(run, &clients, |_| expected.clone(), Some((0, &document))).await;
    shared.recording.store(false, Ordering::Relaxed);
    let sample = sampler.finish().await;
    let latency = client::merge_latency(&convergence.reports);
    let sent: u64 = expected.values().map(|&clock| u64::from(clock)).sum();
    let delivered: u64 = convergence
        .reports
        .iter()
        .map(|report| report.delivered)
        .sum();
    let status = if convergence.converged && not_synced == 0 {
        "ok"
    } else {
        "failed"
    };
    Ok(json!({
        "scenario": "saturation",
        "status": status,
        "note": if not_synced > 0 { json!(format!("{not_synced} clients never synced")) } else { Value::Null },
        "params": {
            "clients": clients_count,
            "writers": writers,
            "window": sizes.saturation_window,
            "seconds": elapsed,
        },
        "updates_to_every_reader_per_s": everywhere as f64 / elapsed,
        "edits_sent": sent,
        "deliveries": delivered,
        "delivered_per_s": delivered as f64 / elapsed,
        "latency": latency_json(&latency),
        "server": sample_json(&sample),
        "convergence": convergence.detail,
    }))
}

/// `rooms`: D documents × 2 clients, one edit per document per second.
pub async fn rooms(run: &Run) -> anyhow::Result<Value> {
    let sizes = &run.sizes;
    let documents = sizes.rooms_documents;
    run.document(documents - 1)?;
    let shared = Shared::new(documents, 0);
    let options = (0..documents * 2)
        .map(|index| {
            let document = run.documents[index / 2].clone();
            let role = if index % 2 == 0 {
                Role::Typist {
                    writer: index / 2,
                    interval: Duration::from_secs(1),
                    rewrite: None,
                }
            } else {
                Role::Reader
            };
            run.client(index, index, &document, role)
        })
        .collect();
    let mut clients = spawn_all(options, &shared);
    let setup = Instant::now();
    let not_synced = connect_all(&mut clients, 100).await;
    let setup_seconds = setup.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sampler = run.sampler();
    shared.recording.store(true, Ordering::Relaxed);
    for client in clients.iter().step_by(2) {
        client.send(Command::Typing(true));
    }
    tokio::time::sleep(sizes.rooms_duration).await;
    for client in clients.iter().step_by(2) {
        client.stop_typing().await;
    }
    let sample = sampler.finish().await;
    let expected = writer_clocks(&shared);
    // Each client holds only its own document's writer.
    let convergence = converge(
        run,
        &clients,
        |index| {
            let writer = shared.writer_id(index / 2);
            expected
                .get(&writer)
                .map(|&clock| HashMap::from([(writer, clock)]))
                .unwrap_or_default()
        },
        None,
    )
    .await;
    shared.recording.store(false, Ordering::Relaxed);
    // Each document's pair must agree with itself (texts differ across documents).
    let mut pairs_differing = 0;
    for pair in convergence.reports.chunks(2) {
        if let [a, b] = pair
            && a.text != b.text
        {
            pairs_differing += 1;
        }
    }
    let all_behind = convergence.detail["clients_behind"].as_u64().unwrap_or(0);
    let converged = all_behind == 0 && pairs_differing == 0;
    let latency = client::merge_latency(&convergence.reports);
    let sent: u64 = expected.values().map(|&clock| u64::from(clock)).sum();
    Ok(json!({
        "scenario": "rooms",
        "status": if converged && not_synced == 0 { "ok" } else { "failed" },
        "note": if not_synced > 0 { json!(format!("{not_synced} clients never synced")) } else { Value::Null },
        "params": {
            "documents": documents,
            "clients": documents * 2,
            "seconds": sizes.rooms_duration.as_secs_f64(),
        },
        "setup_seconds": setup_seconds,
        "edits_sent": sent,
        "latency": latency_json(&latency),
        "server": sample_json(&sample),
        "convergence": {
            "converged": converged,
            "clients_behind": all_behind,
            "documents_differing": pairs_differing,
        },
    }))
}

/// A fresh client's sync: seconds until synced, of which `apply` its own
/// decoding and applying of the state it was sent, and the length of the
/// text it got.
struct FreshSync {
    seconds: f64,
    apply: f64,
    length: usize,
}

/// Connects a fresh client and times its sync.
async fn time_fresh_sync(run: &Run, document: &str, index: usize) -> Option<FreshSync> {
    let shared = Shared::new(0, 0);
    let mut options = run.client(index, 0, document, Role::Reader);
    options.awareness = false;
    let started = Instant::now();
    options.connect = true;
    let mut client = client::spawn(options, shared);
    let synced = client
        .wait_syncs(1, Instant::now() + Duration::from_secs(120))
        .await?;
    let seconds = synced.duration_since(started).as_secs_f64();
    let apply = client
        .status
        .borrow()
        .sync_apply
        .map_or(0.0, |apply| apply.as_secs_f64());
    let report = client.report().await?;
    client.disconnect().await;
    Some(FreshSync {
        seconds,
        apply,
        length: report.text.len(),
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// `cold`: a document with H separate updates in its history; the time for
/// a fresh client to be synced on a warm server, and on the first load
/// after a restart.
pub async fn cold(run: &mut Run) -> anyhow::Result<Value> {
    let sizes = run.sizes.clone();
    let document = run.document(0)?.to_owned();
    let shared = Shared::new(1, 2);
    let options = vec![
        run.client(
            0,
            0,
            &document,
            Role::Saturator {
                writer: 0,
                window: 0,
            },
        ),
        run.client(1, 0, &document, Role::Reader),
    ];
    let mut clients = spawn_all(options, &shared);
    connect_all(&mut clients, 2).await;
    let writing = Instant::now();
    let (done, finished) = tokio::sync::oneshot::channel();
    clients[0].send(Command::Burst {
        count: sizes.cold_updates,
        window: 100,
        done,
    });
    if tokio::time::timeout(Duration::from_secs(600), finished)
        .await
        .is_err()
    {
        anyhow::bail!("writing the history did not finish within 10 minutes");
    }
    let write_seconds = writing.elapsed().as_secs_f64();
    let expected = sizes.cold_updates as usize;
    // Warm: the document is open (its writer is still connected).
    let mut warm = Vec::new();
    let mut warm_server = Vec::new();
    let mut applies = Vec::new();
    let mut warm_wrong = 0;
    for attempt in 0..sizes.cold_repeats {
        match time_fresh_sync(run, &document, 10 + attempt).await {
            Some(sync) => {
                if sync.length != expected {
                    warm_wrong += 1;
                }
                warm.push(sync.seconds);
                warm_server.push(sync.seconds - sync.apply);
                applies.push(sync.apply);
            }
            None => warm_wrong += 1,
        }
    }
    for client in &clients {
        client.disconnect().await;
    }
    drop(clients);
    // Give servers that save on a timer or on the last disconnect the
    // chance to (the restart below is a clean SIGINT besides).
    tokio::time::sleep(sizes.cold_settle).await;
    let mut after_restart = Vec::new();
    let mut restart_server = Vec::new();
    let mut restart_note = Value::Null;
    let mut lengths = Vec::new();
    if run.nodes[0].restartable() {
        for attempt in 0..sizes.cold_repeats {
            run.nodes[0].restart().await?;
            match time_fresh_sync(run, &document, 100 + attempt).await {
                Some(sync) => {
                    lengths.push(sync.length);
                    if sync.length == expected {
                        after_restart.push(sync.seconds);
                        restart_server.push(sync.seconds - sync.apply);
                    }
                }
                None => lengths.push(0),
            }
        }
        if after_restart.len() < sizes.cold_repeats {
            restart_note = json!(format!(
                "after a restart the document had {lengths:?} of its {expected} characters: the server does not keep (all of) it across a restart"
            ));
        }
    } else {
        restart_note =
            json!("not measured: the server was not started by the load generator (--spawn)");
    }
    let warm_median = median(&mut warm);
    let restart_median = median(&mut after_restart);
    Ok(json!({
        "scenario": "cold",
        "status": if warm_wrong == 0 { "ok" } else { "failed" },
        "note": restart_note,
        "params": { "updates": sizes.cold_updates, "repeats": sizes.cold_repeats },
        "history_write_seconds": write_seconds,
        "history_updates_per_s": sizes.cold_updates as f64 / write_seconds,
        "warm_sync_ms": warm_median.map(|s| s * 1000.0),
        "warm_sync_all_ms": warm.iter().map(|s| s * 1000.0).collect::<Vec<_>>(),
        "warm_wrong_content": warm_wrong,
        "restart_sync_ms": restart_median.map(|s| s * 1000.0),
        "restart_sync_all_ms": after_restart.iter().map(|s| s * 1000.0).collect::<Vec<_>>(),
        // The fresh clients' own share (decoding and applying the state they
        // were sent; on a warm server, as after a restart the server may be
        // building the document beside it), and each figure less its own
        // client's share: the server's and the network's.
        "client_apply_ms": median(&mut applies).map(|s| s * 1000.0),
        "warm_less_client_apply_ms": median(&mut warm_server).map(|s| s * 1000.0),
        "restart_less_client_apply_ms": median(&mut restart_server).map(|s| s * 1000.0),
    }))
}

/// Waits until the clients have received nothing for 100 ms and returns
/// when, in ms after `started`, the last frame came; `None` if none came
/// after `started`, or if they were still receiving 20 s after the call.
async fn settle(shared: &Shared, started: Instant) -> Option<f64> {
    const QUIET: Duration = Duration::from_millis(100);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = shared.last_frame_at();
        let now = Instant::now();
        if now.saturating_duration_since(last) >= QUIET {
            return (last > started).then(|| last.duration_since(started).as_secs_f64() * 1000.0);
        }
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the clients had received at a moment, to count what a wave brought.
struct Received {
    frames: u64,
    bytes: u64,
}

impl Received {
    fn now(shared: &Shared) -> Self {
        Received {
            frames: shared.frames_in.load(Ordering::Relaxed),
            bytes: shared.bytes_in.load(Ordering::Relaxed),
        }
    }

    /// Frames and megabytes received since `self`.
    fn since(self, shared: &Shared) -> Value {
        let now = Received::now(shared);
        json!({
            "frames": now.frames - self.frames,
            "mb": (now.bytes - self.bytes) as f64 / 1e6,
        })
    }
}

/// How a reconnect wave went: when each client was synced again (seconds
/// after the wave began), and what the clients that never were saw.
struct Wave {
    times: Vec<f64>,
    never: usize,
    stuck: Vec<String>,
}

impl Wave {
    /// Each client's syncs so far, to wait for one more.
    fn before(clients: &[ClientHandle]) -> Vec<u64> {
        clients
            .iter()
            .map(|client| client.status.borrow().syncs)
            .collect()
    }

    /// Waits until every client has completed one sync more than `before`
    /// says, or the storm's time is up.
    async fn wait(clients: &mut [ClientHandle], before: &[u64], started: Instant) -> Self {
        let deadline = started + STORM_TIMEOUT;
        let mut wave = Wave {
            times: Vec::with_capacity(clients.len()),
            never: 0,
            stuck: Vec::new(),
        };
        for (index, client) in clients.iter_mut().enumerate() {
            match client.wait_syncs(before[index] + 1, deadline).await {
                Some(at) => wave
                    .times
                    .push(at.saturating_duration_since(started).as_secs_f64()),
                None => {
                    wave.never += 1;
                    let status = client.status.borrow().clone();
                    if wave.stuck.len() < 5 {
                        wave.stuck.push(format!(
                            "client {}: syncs {}, connected {}, lost connections {}, failed attempts {}, last error {:?}, frames {:?}",
                            index,
                            status.syncs,
                            status.connected,
                            status.lost_connections,
                            status.failed_attempts,
                            status.last_error,
                            status.frames_seen
                        ));
                    }
                }
            }
        }
        wave.times.sort_by(f64::total_cmp);
        wave
    }

    /// The `q` quantile of the times, in milliseconds.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        (!self.times.is_empty())
            .then(|| self.times[((self.times.len() - 1) as f64 * q).round() as usize] * 1000.0)
    }

    fn all_synced_ms(&self) -> Option<f64> {
        if self.never == 0 {
            self.quantile_ms(1.0)
        } else {
            None
        }
    }

    fn note(&self, what: &str) -> Option<String> {
        (self.never > 0).then(|| {
            format!(
                "{} clients were not synced again within {STORM_TIMEOUT:?} {what}",
                self.never
            )
        })
    }
}

/// `storm`: C clients of one document reconnect at once; then, when the
/// load generator started the server, the server restarts under them and
/// they all come back (each with its own backoff, as real clients do).
pub async fn storm(run: &mut Run) -> anyhow::Result<Value> {
    let sizes = run.sizes.clone();
    let document = run.document(0)?.to_owned();
    let count = sizes.storm_clients;
    let shared = Shared::new(1, 2);
    let options = (0..count)
        .map(|index| {
            let role = if index == 0 {
                Role::Saturator {
                    writer: 0,
                    window: 0,
                }
            } else {
                Role::Reader
            };
            run.client(index, 0, &document, role)
        })
        .collect();
    let mut clients = spawn_all(options, &shared);
    connect_all(&mut clients[..2], 2).await;
    // Some content, typed as separate keystrokes, before everyone joins.
    let (done, finished) = tokio::sync::oneshot::channel();
    clients[0].send(Command::Burst {
        count: sizes.storm_content,
        window: 100,
        done,
    });
    let _ = tokio::time::timeout(Duration::from_secs(300), finished).await;
    let not_synced = connect_all(&mut clients[2..], 50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Everyone drops at once, then everyone comes back at once.
    disconnect_all(&clients).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first = measure_wave(run, &mut clients, &shared, Trigger::Reconnect).await?;
    let failed_attempts = |clients: &[ClientHandle]| -> u64 {
        clients
            .iter()
            .map(|client| client.status.borrow().failed_attempts)
            .sum()
    };
    let failed_in_wave = failed_attempts(&clients);
    // The server restarts (a clean stop) with every client connected.
    let mut restart = json!({ "note": "not measured: the server was not started by the load generator (--spawn)" });
    let mut restart_ok = true;
    if run.nodes[0].restartable() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let wave = measure_wave(run, &mut clients, &shared, Trigger::Restart).await?;
        restart_ok = wave.wave.never == 0;
        restart = wave.json(
            "after the restart",
            json!({
                // Connecting while the server is down fails, by design.
                "failed_connection_attempts": failed_attempts(&clients) - failed_in_wave,
            }),
        );
    }
    // The first wave once more with clients that send no presence state:
    // the same syncs without the presence of every client relayed to every
    // client (about a million states for 1000 clients), for a comparison
    // with a server that relays none in the first wave.
    tokio::time::sleep(Duration::from_secs(1)).await;
    disconnect_all(&clients).await;
    for client in &clients {
        client.send(Command::Presence(false));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let quiet = measure_wave(run, &mut clients, &shared, Trigger::Reconnect).await?;
    let expected = writer_clocks(&shared);
    let convergence = converge(run, &clients, |_| expected.clone(), Some((0, &document))).await;
    // The wave without presence is information beside the figure: its
    // failure is reported in its own note, not as a failure of the storm.
    let ok = first.wave.never == 0 && not_synced == 0 && restart_ok && convergence.converged;
    Ok(first.json(
        "after they all reconnected",
        json!({
            "scenario": "storm",
            "status": if ok { "ok" } else { "failed" },
            "params": { "clients": count, "content_chars": sizes.storm_content },
            "failed_connection_attempts": failed_in_wave,
            "after_restart": restart,
            "without_presence": quiet.json("after they all reconnected without presence states", json!({})),
            "convergence": convergence.detail,
        }),
    ))
}

/// Closes every client's socket, each waiting for the server's close.
async fn disconnect_all(clients: &[ClientHandle]) {
    let disconnects: Vec<_> = clients.iter().map(ClientHandle::disconnect).collect();
    futures_util::future::join_all(disconnects).await;
}

/// What sets a reconnect wave off.
enum Trigger {
    /// Every client connects again.
    Reconnect,
    /// The server restarts under its connected clients.
    Restart,
}

/// A reconnect wave, measured.
struct MeasuredWave {
    wave: Wave,
    /// When the last frame of the wave reached a client (presence states
    /// may come after the syncs).
    all_received_ms: Option<f64>,
    /// All the wave brought the clients.
    received: Value,
    sample: Sample,
}

impl MeasuredWave {
    /// Its figures, with `extra`'s fields beside them.
    fn json(&self, what: &str, extra: Value) -> Value {
        let mut figures = json!({
            "note": self.wave.note(what),
            "all_synced_ms": self.wave.all_synced_ms(),
            "synced_p50_ms": self.wave.quantile_ms(0.5),
            "synced_p99_ms": self.wave.quantile_ms(0.99),
            "not_synced_clients": self.wave.stuck,
            "all_received_ms": self.all_received_ms,
            "received_by_clients": self.received,
            "server": sample_json(&self.sample),
        });
        if let (Some(figures), Value::Object(extra)) = (figures.as_object_mut(), extra) {
            figures.extend(extra);
        }
        figures
    }
}

/// Sets a reconnect wave off and measures it: until every client has synced
/// once more, then until the clients have received the rest of the wave;
/// the server's CPU and memory over both.
async fn measure_wave(
    run: &mut Run,
    clients: &mut [ClientHandle],
    shared: &Shared,
    trigger: Trigger,
) -> anyhow::Result<MeasuredWave> {
    let received = Received::now(shared);
    let before = Wave::before(clients);
    let (started, sampler) = match trigger {
        Trigger::Reconnect => {
            let sampler = run.sampler();
            let started = Instant::now();
            for client in clients.iter() {
                client.send(Command::Connect);
            }
            (started, sampler)
        }
        Trigger::Restart => {
            let started = Instant::now();
            run.nodes[0].restart().await?;
            // The sampler follows the new process.
            (started, run.sampler())
        }
    };
    let wave = Wave::wait(clients, &before, started).await;
    let all_received_ms = settle(shared, started).await;
    let received = received.since(shared);
    let sample = sampler.finish().await;
    Ok(MeasuredWave {
        wave,
        all_received_ms,
        received,
        sample,
    })
}

/// `soak`: a meeting's mix for `soak_duration`, to show that nothing grows
/// and nothing fails over time. One plenary document with 30 clients, 6 of
/// them typing 5 characters a second; `soak_documents` committee documents
/// with a writer (one edit a second) and a reader each. Writers type at a
/// cursor and rewrite their sentence every 120 characters, so the documents
/// stop growing. Every 10 s, 5 readers of the plenary drop and rejoin;
/// every minute, 5 committees stop, leave and come back 40 s later (after
/// the server has unloaded their documents: they load again from the
/// store). The server's RSS is read every minute, and once more after every
/// client has left and every document has unloaded; at the end every client
/// of every document must hold every edit, and a fresh client of the
/// plenary the same text.
pub async fn soak(run: &Run) -> anyhow::Result<Value> {
    const SOAK_SENTENCE: u32 = 120;
    const PLENARY_CLIENTS: usize = 30;
    const TYPISTS: usize = 6;
    let sizes = &run.sizes;
    let committees = sizes.soak_documents;
    run.document(committees)?;
    let plenary = run.documents[0].clone();
    let shared = Shared::new(TYPISTS + committees, 0);
    // Typists write at a cursor and rewrite their sentence every 120
    // characters: the documents stop growing, so the server's memory
    // should stop growing too.
    let typist = |writer: usize, interval: Duration| Role::Typist {
        writer,
        interval,
        rewrite: Some(SOAK_SENTENCE),
    };
    let mut options = Vec::new();
    for index in 0..PLENARY_CLIENTS {
        let role = if index < TYPISTS {
            typist(index, Duration::from_millis(200))
        } else {
            Role::Reader
        };
        options.push(run.client(index, index, &plenary, role));
    }
    for committee in 0..committees {
        let document = run.documents[committee + 1].clone();
        let index = PLENARY_CLIENTS + committee * 2;
        options.push(run.client(
            index,
            index,
            &document,
            typist(TYPISTS + committee, Duration::from_secs(1)),
        ));
        options.push(run.client(index + 1, index + 1, &document, Role::Reader));
    }
    let mut clients = spawn_all(options, &shared);
    let not_synced = connect_all(&mut clients, 50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let writers: Vec<usize> = (0..TYPISTS)
        .chain((0..committees).map(|committee| PLENARY_CLIENTS + committee * 2))
        .collect();
    let sampler = run.sampler();
    shared.recording.store(true, Ordering::Relaxed);
    for &writer in &writers {
        clients[writer].send(Command::Typing(true));
    }
    let pid = run.pids().first().copied();
    let ticks = 100.0;
    let rss_mb = || {
        pid.and_then(|pid| proc_stat(pid, ticks))
            .map(|stat| stat.rss_bytes as f64 / 1e6)
    };
    let started = Instant::now();
    let mut timeline = Vec::new();
    let mut next_minute = started + Duration::from_secs(60);
    let mut rejoins = 0u64;
    let mut readers = (TYPISTS..PLENARY_CLIENTS).cycle();
    let mut committee_turn = (0..committees).cycle();
    // Committees that left, and when they come back.
    let mut away: Vec<(Instant, usize)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    while started.elapsed() < sizes.soak_duration {
        tick.tick().await;
        // Five plenary readers drop and rejoin at once.
        let leaving: Vec<usize> = readers.by_ref().take(5).collect();
        futures_util::future::join_all(leaving.iter().map(|&i| clients[i].disconnect())).await;
        for &index in &leaving {
            clients[index].send(Command::Connect);
        }
        rejoins += leaving.len() as u64;
        let now = Instant::now();
        for &(_, committee) in away.iter().filter(|(back, _)| *back <= now) {
            let writer = PLENARY_CLIENTS + committee * 2;
            clients[writer].send(Command::Connect);
            clients[writer + 1].send(Command::Connect);
            clients[writer].send(Command::Typing(true));
            rejoins += 2;
        }
        away.retain(|(back, _)| *back > now);
        if now >= next_minute {
            next_minute += Duration::from_secs(60);
            timeline.push(json!({
                "minute": (now - started).as_secs_f64() / 60.0,
                "rss_mb": rss_mb(),
            }));
            // Five committees stop and leave; they come back in 40 s, once
            // the server has unloaded their documents.
            for committee in committee_turn.by_ref().take(5.min(committees)) {
                let writer = PLENARY_CLIENTS + committee * 2;
                if away.iter().any(|&(_, c)| c == committee) {
                    continue;
                }
                clients[writer].stop_typing().await;
                clients[writer].disconnect().await;
                clients[writer + 1].disconnect().await;
                away.push((now + Duration::from_secs(40), committee));
            }
        }
    }
    for &writer in &writers {
        clients[writer].stop_typing().await;
    }
    for &(_, committee) in &away {
        let writer = PLENARY_CLIENTS + committee * 2;
        clients[writer].send(Command::Connect);
        clients[writer + 1].send(Command::Connect);
        rejoins += 2;
    }
    let rss_end = rss_mb();
    let sample = sampler.finish().await;
    let expected = writer_clocks(&shared);
    let expected_for = |index: usize| -> HashMap<u64, u32> {
        if index < PLENARY_CLIENTS {
            (0..TYPISTS)
                .filter_map(|writer| {
                    let id = shared.writer_id(writer);
                    expected.get(&id).map(|&clock| (id, clock))
                })
                .collect()
        } else {
            let id = shared.writer_id(TYPISTS + (index - PLENARY_CLIENTS) / 2);
            expected
                .get(&id)
                .map(|&clock| HashMap::from([(id, clock)]))
                .unwrap_or_default()
        }
    };
    let convergence = converge(run, &clients, expected_for, Some((0, &plenary))).await;
    shared.recording.store(false, Ordering::Relaxed);
    // Texts agree within each document (they differ across documents).
    let plenary_texts = &convergence.reports[..PLENARY_CLIENTS.min(convergence.reports.len())];
    let mut documents_differing = usize::from(
        plenary_texts
            .iter()
            .any(|report| report.text != plenary_texts[0].text),
    );
    for pair in convergence
        .reports
        .get(PLENARY_CLIENTS..)
        .unwrap_or_default()
        .chunks(2)
    {
        if let [a, b] = pair
            && a.text != b.text
        {
            documents_differing += 1;
        }
    }
    let behind = convergence.detail["clients_behind"].as_u64().unwrap_or(0);
    let fresh = convergence.detail["fresh_client_equal"].clone();
    let converged = behind == 0
        && documents_differing == 0
        && convergence.reports.len() == clients.len()
        && fresh == json!(true);
    let lost: u64 = clients
        .iter()
        .map(|client| client.status.borrow().lost_connections)
        .sum();
    let failed_attempts: u64 = clients
        .iter()
        .map(|client| client.status.borrow().failed_attempts)
        .sum();
    let latency = client::merge_latency(&convergence.reports);
    let sent: u64 = expected.values().map(|&clock| u64::from(clock)).sum();
    let first = timeline.first().and_then(|entry| entry["rss_mb"].as_f64());
    // Everyone leaves; once the server has unloaded every document
    // (30 s idle by default), what it still holds is its own.
    futures_util::future::join_all(clients.iter().map(ClientHandle::disconnect)).await;
    tokio::time::sleep(Duration::from_secs(45)).await;
    let rss_unloaded = rss_mb();
    let ok = converged && not_synced == 0 && lost == 0 && failed_attempts == 0;
    Ok(json!({
        "scenario": "soak",
        "status": if ok { "ok" } else { "failed" },
        "note": if not_synced > 0 { json!(format!("{not_synced} clients never synced")) } else { Value::Null },
        "params": {
            "minutes": sizes.soak_duration.as_secs_f64() / 60.0,
            "documents": committees + 1,
            "clients": clients.len(),
        },
        "edits_sent": sent,
        "rejoins": rejoins,
        "connections_lost": lost,
        "failed_connection_attempts": failed_attempts,
        "latency": latency_json(&latency),
        "rss_mb": {
            "after_first_minute": first,
            "end": rss_end,
            "after_every_document_unloaded": rss_unloaded,
            "timeline": timeline,
        },
        "server": sample_json(&sample),
        "convergence": {
            "converged": converged,
            "clients_behind": behind,
            "documents_differing": documents_differing,
            "fresh_client_equal": fresh,
        },
    }))
}

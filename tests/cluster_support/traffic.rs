//! Client traffic for the fault tests and the soak, and the total check at the end.
//!
//! Publishers send persistent messages with unique ids (the body is the id) and publisher
//! confirms to every queue in turn; consumers take each queue with manual acks inside a
//! transaction, so a delivery can come again only if a fault cut the consumer's connection
//! after it (the report also counts those whose `tx.commit-ok` had arrived). Every
//! client reconnects to the next node when its connection fails (a follower hands it to
//! the leader; a leader change closes it with 320). A [`Ledger`] per queue records what
//! was published, confirmed, nacked and delivered; [`Traffic::finish`] stops the clients,
//! drains the queues through whichever node serves and checks: lost = 0 (confirmed, never
//! delivered), unexpected = 0 (delivered, never published), and each duplicate is a
//! message delivered on a consumer connection that a fault cut (at most once per cut).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::PublisherConfirm;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::POLL;
use super::clients::connect;

/// Runs the message scenarios of one test binary one at a time (each is three `warren`
/// processes plus clients; a 2-core CI box would otherwise miss election deadlines).
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Unconfirmed publishes per publisher.
const WINDOW: usize = 32;
/// Consumer prefetch; the consumer commits its acks at half of it or when idle.
const PREFETCH: u16 = 40;
/// Bound on one confirm, one commit or one drain.
const RPC_WITHIN: Duration = Duration::from_secs(20);
/// Bound on draining after the clients stop.
const DRAIN_WITHIN: Duration = Duration::from_secs(60);

/// A queue the traffic uses.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    /// Its name.
    pub name: String,
    /// `x-queue-type = quorum` (else a durable classic queue).
    pub quorum: bool,
}

impl QueueSpec {
    /// A durable classic queue and a quorum queue named after `prefix`.
    pub fn pair(prefix: &str) -> Vec<QueueSpec> {
        vec![
            QueueSpec {
                name: format!("{prefix}.classic"),
                quorum: false,
            },
            QueueSpec {
                name: format!("{prefix}.quorum"),
                quorum: true,
            },
        ]
    }
}

/// What happened to one queue's messages.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Ids sent (confirmed or not).
    pub published: BTreeSet<u64>,
    /// Ids the broker acked.
    pub confirmed: BTreeSet<u64>,
    /// Ids the broker nacked.
    pub nacked: BTreeSet<u64>,
    /// Deliveries per id (consumers and the final drain).
    pub delivered: BTreeMap<u64, u32>,
    /// Per id, how often it was delivered on a consumer connection that a fault cut.
    pub delivered_on_cuts: BTreeMap<u64, u32>,
    /// Per id, how often it was delivered on a consumer connection that a fault cut before
    /// its ack was committed (the subset of `delivered_on_cuts` that must come again).
    pub uncommitted_at_cuts: BTreeMap<u64, u32>,
}

/// Counters across all clients.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages confirmed (acked) so far.
    pub confirmed: AtomicU64,
    /// Nacks so far.
    pub nacked: AtomicU64,
    /// Deliveries so far.
    pub delivered: AtomicU64,
    /// Connection attempts by all clients.
    pub attempts: AtomicU64,
    /// Publisher connections cut by a fault.
    pub publisher_cuts: AtomicU64,
    /// Consumer connections cut by a fault.
    pub consumer_cuts: AtomicU64,
}

type Ledgers = Arc<Mutex<BTreeMap<String, Ledger>>>;

fn lock(ledgers: &Ledgers) -> std::sync::MutexGuard<'_, BTreeMap<String, Ledger>> {
    ledgers.lock().unwrap_or_else(|e| e.into_inner())
}

/// Running publishers and consumers.
pub struct Traffic {
    uris: Vec<String>,
    queues: Vec<QueueSpec>,
    ledgers: Ledgers,
    /// Shared counters, for waiting on progress.
    pub counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The outcome of the total check.
#[derive(Debug)]
pub struct Report {
    /// Per queue: (published, confirmed, nacked, distinct delivered, duplicates).
    pub queues: BTreeMap<String, [usize; 5]>,
    /// Confirmed but never delivered, per queue.
    pub lost: BTreeMap<String, Vec<u64>>,
    /// Delivered but never published, per queue.
    pub unexpected: BTreeMap<String, Vec<u64>>,
    /// Duplicates not explained by a cut of the consumer they were delivered to, per queue.
    pub unexplained_duplicates: BTreeMap<String, Vec<u64>>,
    /// Duplicates whose ack had been committed (`tx.commit-ok`) before the cut, per queue.
    pub after_commit_ok: BTreeMap<String, usize>,
    /// Publisher and consumer connections cut by faults.
    pub cuts: (u64, u64),
}

impl Report {
    /// Fails the test unless lost = 0, unexpected = 0 and every duplicate is accounted for.
    pub fn assert_ok(&self) {
        let bad = self.lost.values().any(|v| !v.is_empty())
            || self.unexpected.values().any(|v| !v.is_empty())
            || self.unexplained_duplicates.values().any(|v| !v.is_empty());
        assert!(!bad, "total check failed: {self:#?}");
        for (q, [_, confirmed, ..]) in &self.queues {
            assert!(*confirmed > 0, "nothing was confirmed on {q}: {self:#?}");
        }
    }
}

impl Traffic {
    /// Starts `publishers` publishers over all `queues` and one consumer per queue (none if
    /// `consume` is false), connecting to `uris` in turn; each publisher sends at most
    /// `rate` messages per second.
    pub fn start(
        uris: Vec<String>,
        queues: Vec<QueueSpec>,
        publishers: usize,
        consume: bool,
        rate: u32,
    ) -> Traffic {
        let ledgers: Ledgers = Arc::new(Mutex::new(
            queues
                .iter()
                .map(|q| (q.name.clone(), Ledger::default()))
                .collect(),
        ));
        let counters = Arc::new(Counters::default());
        let (stop, _) = watch::channel(false);
        let next_id = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for p in 0..publishers {
            tasks.push(tokio::spawn(publisher(
                Client {
                    uris: uris.clone(),
                    first: p,
                    queues: queues.clone(),
                    ledgers: ledgers.clone(),
                    counters: counters.clone(),
                    stop: stop.subscribe(),
                },
                next_id.clone(),
                rate,
            )));
        }
        if consume {
            for (i, q) in queues.iter().enumerate() {
                tasks.push(tokio::spawn(consumer(
                    Client {
                        uris: uris.clone(),
                        first: i + 1,
                        queues: queues.clone(),
                        ledgers: ledgers.clone(),
                        counters: counters.clone(),
                        stop: stop.subscribe(),
                    },
                    q.name.clone(),
                )));
            }
        }
        Traffic {
            uris,
            queues,
            ledgers,
            counters,
            stop,
            tasks,
        }
    }

    /// Confirmed messages so far.
    pub fn confirmed(&self) -> u64 {
        self.counters.confirmed.load(Ordering::SeqCst)
    }

    /// Waits until `more` further messages are confirmed (the clients made progress).
    pub async fn progress(&self, more: u64, within: Duration, what: &str) {
        let target = self.confirmed() + more;
        let deadline = Instant::now() + within;
        while self.confirmed() < target {
            assert!(
                Instant::now() < deadline,
                "not within {within:?}: {more} more confirms {what}; counters {:?}",
                self.counters
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the clients have made `more` further connection attempts.
    pub async fn attempts(&self, more: u64, within: Duration) {
        let c = &self.counters.attempts;
        let target = c.load(Ordering::SeqCst) + more;
        let deadline = Instant::now() + within;
        while c.load(Ordering::SeqCst) < target {
            assert!(
                Instant::now() < deadline,
                "clients did not retry: {:?}",
                self.counters
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the clients (publishers wait for their last confirms, consumers commit their
    /// acks), drains every queue through a node that serves, and returns the total check.
    pub async fn finish(mut self) -> Report {
        self.stop_clients().await;
        self.check().await
    }

    /// Stops the clients: publishers wait for their last confirms, consumers commit their
    /// acks and close.
    pub async fn stop_clients(&mut self) {
        self.stop.send_replace(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Drains every queue through a node that serves and returns the total check (after
    /// [`Traffic::stop_clients`]).
    pub async fn check(self) -> Report {
        drain(&self.uris, &self.queues, &self.ledgers).await;
        let ledgers = lock(&self.ledgers);
        let mut report = Report {
            queues: BTreeMap::new(),
            lost: BTreeMap::new(),
            unexpected: BTreeMap::new(),
            unexplained_duplicates: BTreeMap::new(),
            after_commit_ok: BTreeMap::new(),
            cuts: (
                self.counters.publisher_cuts.load(Ordering::SeqCst),
                self.counters.consumer_cuts.load(Ordering::SeqCst),
            ),
        };
        for (name, l) in ledgers.iter() {
            let duplicates: usize = l.delivered.values().map(|&n| n as usize - 1).sum();
            report.queues.insert(
                name.clone(),
                [
                    l.published.len(),
                    l.confirmed.len(),
                    l.nacked.len(),
                    l.delivered.len(),
                    duplicates,
                ],
            );
            let lost = l
                .confirmed
                .iter()
                .filter(|id| !l.delivered.contains_key(id))
                .copied()
                .collect();
            let unexpected = l
                .delivered
                .keys()
                .filter(|id| !l.published.contains(id))
                .copied()
                .collect();
            let unexplained = l
                .delivered
                .iter()
                .filter(|(id, n)| **n - 1 > l.delivered_on_cuts.get(id).copied().unwrap_or(0))
                .map(|(id, _)| *id)
                .collect();
            let after_commit_ok = l
                .delivered
                .iter()
                .map(|(id, n)| {
                    let uncommitted = l.uncommitted_at_cuts.get(id).copied().unwrap_or(0);
                    (*n - 1).saturating_sub(uncommitted) as usize
                })
                .sum();
            report.after_commit_ok.insert(name.clone(), after_commit_ok);
            report.lost.insert(name.clone(), lost);
            report.unexpected.insert(name.clone(), unexpected);
            report
                .unexplained_duplicates
                .insert(name.clone(), unexplained);
        }
        report
    }
}

/// What every client task holds.
struct Client {
    uris: Vec<String>,
    first: usize,
    queues: Vec<QueueSpec>,
    ledgers: Ledgers,
    counters: Arc<Counters>,
    stop: watch::Receiver<bool>,
}

impl Client {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Connects to the next node in turn until one serves (or the clients stop).
    async fn connect_next(&mut self, attempt: &mut usize) -> Option<(Connection, Channel)> {
        while !self.stopped() {
            let uri = &self.uris[(self.first + *attempt) % self.uris.len()];
            *attempt += 1;
            self.counters.attempts.fetch_add(1, Ordering::SeqCst);
            if let Ok(conn) = connect(uri).await
                && let Ok(ch) = open(&conn, &self.queues).await
            {
                return Some((conn, ch));
            }
            tokio::time::sleep(POLL).await;
        }
        None
    }

    fn ledger<T>(&self, queue: &str, f: impl FnOnce(&mut Ledger) -> T) -> T {
        let mut ledgers = lock(&self.ledgers);
        f(ledgers.entry(queue.to_owned()).or_default())
    }
}

/// A channel on `conn` with every queue declared.
async fn open(conn: &Connection, queues: &[QueueSpec]) -> Result<Channel, lapin::Error> {
    let ch = conn.create_channel().await?;
    for q in queues {
        let mut args = FieldTable::default();
        if q.quorum {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        ch.queue_declare(q.name.as_str().into(), options, args)
            .await?;
    }
    Ok(ch)
}

async fn publisher(mut c: Client, next_id: Arc<AtomicU64>, rate: u32) {
    let mut attempt = 0;
    let pause = Duration::from_secs(1) / rate.max(1);
    loop {
        let Some((conn, ch)) = c.connect_next(&mut attempt).await else {
            return;
        };
        match publish_session(&c, &ch, &next_id, pause).await {
            Ok(()) => {
                let _ = conn.close(200, "done".into()).await;
                return;
            }
            Err(()) => {
                c.counters.publisher_cuts.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Publishes until stopped; `Err` when the connection failed (unconfirmed ids stay
/// indeterminate).
async fn publish_session(
    c: &Client,
    ch: &Channel,
    next_id: &AtomicU64,
    pause: Duration,
) -> Result<(), ()> {
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(drop)?;
    let mut inflight: VecDeque<(String, u64, PublisherConfirm)> = VecDeque::new();
    let mut ticker = tokio::time::interval(pause);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = c.stopped();
        if stopping && inflight.is_empty() {
            return Ok(());
        }
        if !stopping && inflight.len() < WINDOW {
            ticker.tick().await;
            let id = next_id.fetch_add(1, Ordering::SeqCst);
            let queue = c.queues[(id % c.queues.len() as u64) as usize].name.clone();
            c.ledger(&queue, |l| l.published.insert(id));
            let confirm = ch
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    id.to_string().as_bytes(),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .map_err(drop)?;
            inflight.push_back((queue, id, confirm));
            continue;
        }
        let Some((queue, id, confirm)) = inflight.pop_front() else {
            continue;
        };
        match tokio::time::timeout(RPC_WITHIN, confirm).await {
            Ok(Ok(answer)) if answer.is_ack() => {
                c.ledger(&queue, |l| l.confirmed.insert(id));
                c.counters.confirmed.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Ok(_)) => {
                c.ledger(&queue, |l| l.nacked.insert(id));
                c.counters.nacked.fetch_add(1, Ordering::SeqCst);
            }
            _ => return Err(()),
        }
    }
}

async fn consumer(mut c: Client, queue: String) {
    let mut attempt = 0;
    loop {
        let Some((conn, ch)) = c.connect_next(&mut attempt).await else {
            return;
        };
        let mut seen = Vec::new();
        let mut uncommitted = Vec::new();
        match consume_session(&mut c, &ch, &queue, &mut seen, &mut uncommitted).await {
            Ok(()) => {
                let _ = conn.close(200, "done".into()).await;
                return;
            }
            Err(()) => {
                c.counters.consumer_cuts.fetch_add(1, Ordering::SeqCst);
                c.ledger(&queue, |l| {
                    for id in seen {
                        *l.delivered_on_cuts.entry(id).or_default() += 1;
                    }
                    for id in uncommitted {
                        *l.uncommitted_at_cuts.entry(id).or_default() += 1;
                    }
                });
                drop(conn);
            }
        }
    }
}

/// Consumes `queue` until stopped, acking in transactions; `Err` when the connection
/// failed, with the ids it delivered in `seen` and those whose acks were not committed in
/// `uncommitted`.
async fn consume_session(
    c: &mut Client,
    ch: &Channel,
    queue: &str,
    seen: &mut Vec<u64>,
    uncommitted: &mut Vec<u64>,
) -> Result<(), ()> {
    ch.basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .map_err(drop)?;
    ch.tx_select().await.map_err(drop)?;
    let mut deliveries = ch
        .basic_consume(
            queue.into(),
            "traffic".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(drop)?;
    let mut stop = c.stop.clone();
    loop {
        let idle = tokio::time::sleep(Duration::from_millis(50));
        tokio::select! {
            _ = stop.changed() => {
                commit(ch, uncommitted).await?;
                return Ok(());
            }
            () = idle, if !uncommitted.is_empty() => commit(ch, uncommitted).await?,
            next = deliveries.next() => {
                let Some(Ok(d)) = next else { return Err(()) };
                let id = std::str::from_utf8(&d.data).ok().and_then(|s| s.parse::<u64>().ok());
                // A body that is not one of ours counts as unexpected.
                let id = id.unwrap_or(u64::MAX);
                c.ledger(queue, |l| *l.delivered.entry(id).or_default() += 1);
                c.counters.delivered.fetch_add(1, Ordering::SeqCst);
                seen.push(id);
                uncommitted.push(id);
                ch.basic_ack(d.delivery_tag, BasicAckOptions::default()).await.map_err(drop)?;
                if uncommitted.len() >= usize::from(PREFETCH / 2) {
                    commit(ch, uncommitted).await?;
                }
            }
        }
    }
}

async fn commit(ch: &Channel, uncommitted: &mut Vec<u64>) -> Result<(), ()> {
    match tokio::time::timeout(RPC_WITHIN, ch.tx_commit()).await {
        Ok(Ok(())) => {
            uncommitted.clear();
            Ok(())
        }
        _ => Err(()),
    }
}

/// Takes every message left in `queues` (no-ack gets) through the first node that serves,
/// recording the deliveries.
async fn drain(uris: &[String], queues: &[QueueSpec], ledgers: &Ledgers) {
    let deadline = Instant::now() + DRAIN_WITHIN;
    let mut attempt = 0;
    'retry: loop {
        assert!(
            Instant::now() < deadline,
            "no node served the drain within {DRAIN_WITHIN:?}"
        );
        let uri = &uris[attempt % uris.len()];
        attempt += 1;
        let Ok(conn) = connect(uri).await else {
            tokio::time::sleep(POLL).await;
            continue;
        };
        let Ok(ch) = open(&conn, queues).await else {
            continue;
        };
        for q in queues {
            loop {
                let got = ch
                    .basic_get(q.name.as_str().into(), BasicGetOptions { no_ack: true })
                    .await;
                match got {
                    Ok(Some(m)) => {
                        let id = std::str::from_utf8(&m.delivery.data)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                            .unwrap_or(u64::MAX);
                        let mut l = lock(ledgers);
                        *l.entry(q.name.clone())
                            .or_default()
                            .delivered
                            .entry(id)
                            .or_default() += 1;
                    }
                    Ok(None) => break,
                    Err(_) => continue 'retry,
                }
            }
        }
        let _ = conn.close(200, "drained".into()).await;
        return;
    }
}

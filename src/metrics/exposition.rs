//! Metric families collected at scrape time and encoded by prometheus-client in the
//! Prometheus text format 0.0.4 (what RabbitMQ's prometheus plugin serves by default).
//!
//! A scrape builds a [`Scrape`] (plain values read from atomics, and per-queue families
//! that read their queues' atomics as they are encoded, see [`QueueFamily`]), registers it
//! as a prometheus-client [`Collector`] in a fresh registry and encodes that registry into
//! any [`std::fmt::Write`] sink (a string, or the chunks of a streamed body). Counter names
//! are given without `_total`; the encoder adds it.

use super::queue_series::QueueFamily;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Label pairs of one sample.
pub type Labels = Vec<(String, String)>;

/// What a family's samples are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total` is appended to the name).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    /// prometheus-client's type for this kind.
    pub(super) fn metric_type(self) -> MetricType {
        match self {
            Kind::Counter => ConstCounter::new(0u64).metric_type(),
            Kind::Gauge => ConstGauge::new(0i64).metric_type(),
        }
    }
}

/// Encodes one sample's value as a `kind` (a counter below zero is 0, a value above
/// `i64::MAX` is `i64::MAX`).
pub(super) fn encode_value(kind: Kind, value: u64, sample: MetricEncoder) -> std::fmt::Result {
    encode_signed(kind, i64::try_from(value).unwrap_or(i64::MAX), sample)
}

fn encode_signed(kind: Kind, value: i64, sample: MetricEncoder) -> std::fmt::Result {
    match kind {
        Kind::Counter => ConstCounter::new(u64::try_from(value).unwrap_or(0)).encode(sample),
        Kind::Gauge => ConstGauge::new(value).encode(sample),
    }
}

/// One metric family and its samples.
#[derive(Debug)]
pub struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    samples: Vec<(Labels, i64)>,
}

impl Family {
    /// An empty family.
    pub fn new(name: &'static str, help: &'static str, kind: Kind) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    /// Adds a sample.
    pub fn push(&mut self, labels: Labels, value: i64) {
        self.samples.push((labels, value));
    }

    /// Adds a sample of an unsigned value (saturating).
    pub fn push_u64(&mut self, labels: Labels, value: u64) {
        self.push(labels, i64::try_from(value).unwrap_or(i64::MAX));
    }
}

impl Family {
    fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut metric =
            encoder.encode_descriptor(self.name, self.help, None, self.kind.metric_type())?;
        for (labels, value) in &self.samples {
            encode_signed(self.kind, *value, metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// One family of a scrape: collected samples, or a series per queue read at encoding.
#[derive(Debug)]
enum Section {
    Samples(Family),
    Queues(QueueFamily),
}

/// Every family of one scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    families: Vec<Section>,
}

impl Scrape {
    /// Adds a family.
    pub fn add(&mut self, family: Family) {
        self.families.push(Section::Samples(family));
    }

    /// Adds a family with one series per queue.
    pub fn add_queues(&mut self, family: QueueFamily) {
        self.families.push(Section::Queues(family));
    }

    /// Adds a family with one unlabelled sample.
    pub fn single(&mut self, name: &'static str, help: &'static str, kind: Kind, value: u64) {
        let mut f = Family::new(name, help, kind);
        f.push_u64(Vec::new(), value);
        self.add(f);
    }

    /// Encodes every family in the Prometheus text format 0.0.4.
    pub fn encode(self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Encodes every family in the Prometheus text format 0.0.4 into `sink`; an error
    /// from the sink stops the encoding.
    pub fn encode_into(self, sink: &mut impl std::fmt::Write) -> std::fmt::Result {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        prometheus_client::encoding::prometheus_text::encode(sink, &registry)
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            match family {
                Section::Samples(f) => f.encode(&mut encoder)?,
                Section::Queues(f) => f.encode(&mut encoder)?,
            }
        }
        Ok(())
    }
}

/// A label list from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

//! Metric families collected at scrape time and encoded by prometheus-client in the
//! Prometheus text format 0.0.4 (what RabbitMQ's prometheus plugin serves by default).
//!
//! A scrape builds a [`Scrape`] (plain values read from atomics), registers it as a
//! prometheus-client [`Collector`] in a fresh registry and encodes that registry. Counter
//! names are given without `_total`; the encoder adds it.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
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

/// Every family of one scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    families: Vec<Family>,
}

impl Scrape {
    /// Adds a family.
    pub fn add(&mut self, family: Family) {
        self.families.push(family);
    }

    /// Adds a family with one unlabelled sample.
    pub fn single(&mut self, name: &'static str, help: &'static str, kind: Kind, value: u64) {
        let mut f = Family::new(name, help, kind);
        f.push_u64(Vec::new(), value);
        self.add(f);
    }

    /// Encodes every family in the Prometheus text format 0.0.4.
    pub fn encode(self) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            let metric_type = match family.kind {
                Kind::Counter => ConstCounter::new(0u64).metric_type(),
                Kind::Gauge => ConstGauge::new(0i64).metric_type(),
            };
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, metric_type)?;
            for (labels, value) in &family.samples {
                let sample = metric.encode_family(labels)?;
                match family.kind {
                    Kind::Counter => {
                        ConstCounter::new(u64::try_from(*value).unwrap_or(0)).encode(sample)?
                    }
                    Kind::Gauge => ConstGauge::new(*value).encode(sample)?,
                }
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

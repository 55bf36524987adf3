//! Which columns each `list_*` verb offers, by rabbitmqctl's names, and where each is
//! found in the management API's objects.

use serde_json::Value;

/// A listing verb's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `list_queues`.
    Queues,
    /// `list_exchanges`.
    Exchanges,
    /// `list_bindings`.
    Bindings,
    /// `list_connections`.
    Connections,
    /// `list_channels`.
    Channels,
    /// `list_consumers`.
    Consumers,
    /// `list_users`.
    Users,
    /// `list_vhosts`.
    Vhosts,
    /// `list_permissions`.
    Permissions,
    /// `list_policies`.
    Policies,
}

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A JSON pointer into the API object.
    Field(&'static str),
    /// A fixed value.
    Const(&'static str),
}

impl Source {
    /// This column's value in `object` (`null` when absent).
    pub fn extract(&self, object: &Value) -> Value {
        match self {
            Source::Field(pointer) => object.pointer(pointer).cloned().unwrap_or(Value::Null),
            Source::Const(text) => Value::from(*text),
        }
    }
}

use Source::{Const, Field};

const QUEUES: &[(&str, Source)] = &[
    ("name", Field("/name")),
    ("vhost", Field("/vhost")),
    ("durable", Field("/durable")),
    ("auto_delete", Field("/auto_delete")),
    ("exclusive", Field("/exclusive")),
    ("arguments", Field("/arguments")),
    ("policy", Field("/policy")),
    ("pid", Field("/name")),
    ("messages", Field("/messages")),
    ("messages_ready", Field("/messages_ready")),
    ("messages_unacknowledged", Field("/messages_unacknowledged")),
    ("message_bytes", Field("/message_bytes")),
    ("consumers", Field("/consumers")),
    ("consumer_utilisation", Field("/consumer_utilisation")),
    ("exclusive_consumer_tag", Field("/exclusive_consumer_tag")),
    ("memory", Field("/memory")),
    ("state", Field("/state")),
    ("type", Field("/type")),
];

const EXCHANGES: &[(&str, Source)] = &[
    ("name", Field("/name")),
    ("type", Field("/type")),
    ("vhost", Field("/vhost")),
    ("durable", Field("/durable")),
    ("auto_delete", Field("/auto_delete")),
    ("internal", Field("/internal")),
    ("arguments", Field("/arguments")),
    ("policy", Field("/policy")),
];

const BINDINGS: &[(&str, Source)] = &[
    ("source_name", Field("/source")),
    ("source_kind", Const("exchange")),
    ("destination_name", Field("/destination")),
    ("destination_kind", Field("/destination_type")),
    ("routing_key", Field("/routing_key")),
    ("arguments", Field("/arguments")),
    ("vhost", Field("/vhost")),
];

const CONNECTIONS: &[(&str, Source)] = &[
    ("pid", Field("/name")),
    ("name", Field("/name")),
    ("user", Field("/user")),
    ("vhost", Field("/vhost")),
    ("host", Field("/host")),
    ("port", Field("/port")),
    ("peer_host", Field("/peer_host")),
    ("peer_port", Field("/peer_port")),
    ("ssl", Field("/ssl")),
    ("state", Field("/state")),
    ("channels", Field("/channels")),
    ("protocol", Field("/protocol")),
    ("auth_mechanism", Field("/auth_mechanism")),
    ("timeout", Field("/timeout")),
    ("frame_max", Field("/frame_max")),
    ("channel_max", Field("/channel_max")),
    ("client_properties", Field("/client_properties")),
    ("connected_at", Field("/connected_at")),
    ("recv_oct", Field("/recv_oct")),
    ("send_oct", Field("/send_oct")),
    ("type", Field("/type")),
];

const CHANNELS: &[(&str, Source)] = &[
    ("pid", Field("/name")),
    ("name", Field("/name")),
    ("connection", Field("/connection_details/name")),
    ("number", Field("/number")),
    ("user", Field("/user")),
    ("vhost", Field("/vhost")),
    ("transactional", Field("/transactional")),
    ("confirm", Field("/confirm")),
    ("consumer_count", Field("/consumer_count")),
    ("messages_unacknowledged", Field("/messages_unacknowledged")),
    ("messages_uncommitted", Field("/messages_uncommitted")),
    ("acks_uncommitted", Field("/acks_uncommitted")),
    ("messages_unconfirmed", Field("/messages_unconfirmed")),
    ("prefetch_count", Field("/prefetch_count")),
    ("global_prefetch_count", Field("/global_prefetch_count")),
    ("state", Field("/state")),
];

const CONSUMERS: &[(&str, Source)] = &[
    ("queue_name", Field("/queue/name")),
    ("channel_pid", Field("/channel_details/name")),
    ("consumer_tag", Field("/consumer_tag")),
    ("ack_required", Field("/ack_required")),
    ("prefetch_count", Field("/prefetch_count")),
    ("active", Field("/active")),
    ("activity_status", Field("/activity_status")),
    ("arguments", Field("/arguments")),
    ("exclusive", Field("/exclusive")),
];

const USERS: &[(&str, Source)] = &[("user", Field("/name")), ("tags", Field("/tags"))];

const VHOSTS: &[(&str, Source)] = &[
    ("name", Field("/name")),
    ("description", Field("/description")),
    ("tags", Field("/tags")),
    ("tracing", Field("/tracing")),
];

const PERMISSIONS: &[(&str, Source)] = &[
    ("user", Field("/user")),
    ("configure", Field("/configure")),
    ("write", Field("/write")),
    ("read", Field("/read")),
];

const POLICIES: &[(&str, Source)] = &[
    ("vhost", Field("/vhost")),
    ("name", Field("/name")),
    ("pattern", Field("/pattern")),
    ("apply-to", Field("/apply-to")),
    ("definition", Field("/definition")),
    ("priority", Field("/priority")),
];

impl Kind {
    /// Every column this listing offers.
    pub fn columns(self) -> &'static [(&'static str, Source)] {
        match self {
            Kind::Queues => QUEUES,
            Kind::Exchanges => EXCHANGES,
            Kind::Bindings => BINDINGS,
            Kind::Connections => CONNECTIONS,
            Kind::Channels => CHANNELS,
            Kind::Consumers => CONSUMERS,
            Kind::Users => USERS,
            Kind::Vhosts => VHOSTS,
            Kind::Permissions => PERMISSIONS,
            Kind::Policies => POLICIES,
        }
    }

    /// The columns shown when none are named, as rabbitmqctl's defaults.
    pub fn defaults(self) -> &'static [&'static str] {
        match self {
            Kind::Queues => &["name", "messages"],
            Kind::Exchanges => &["name", "type"],
            Kind::Bindings => &[
                "source_name",
                "source_kind",
                "destination_name",
                "destination_kind",
                "routing_key",
                "arguments",
            ],
            Kind::Connections => &["user", "peer_host", "peer_port", "state"],
            Kind::Channels => &["pid", "user", "consumer_count", "messages_unacknowledged"],
            Kind::Consumers => &[
                "queue_name",
                "channel_pid",
                "consumer_tag",
                "ack_required",
                "prefetch_count",
                "active",
                "activity_status",
                "arguments",
            ],
            Kind::Users => &["user", "tags"],
            Kind::Vhosts => &["name"],
            Kind::Permissions => &["user", "configure", "write", "read"],
            Kind::Policies => &[
                "vhost",
                "name",
                "pattern",
                "apply-to",
                "definition",
                "priority",
            ],
        }
    }

    /// The API path listing these objects, for `vhost` where the verb is per vhost.
    pub fn path(self, vhost: &str) -> String {
        let v = super::super::client::seg(vhost);
        match self {
            Kind::Queues => format!("/queues/{v}"),
            Kind::Exchanges => format!("/exchanges/{v}"),
            Kind::Bindings => format!("/bindings/{v}"),
            Kind::Connections => "/connections".to_string(),
            Kind::Channels => "/channels".to_string(),
            Kind::Consumers => format!("/consumers/{v}"),
            Kind::Users => "/users".to_string(),
            Kind::Vhosts => "/vhosts".to_string(),
            Kind::Permissions => format!("/vhosts/{v}/permissions"),
            Kind::Policies => format!("/policies/{v}"),
        }
    }

    /// rabbitmqctl's banner for this listing.
    pub fn banner(self, vhost: &str) -> String {
        match self {
            Kind::Queues => format!("Listing queues for vhost {vhost} ..."),
            Kind::Exchanges => format!("Listing exchanges for vhost {vhost} ..."),
            Kind::Bindings => format!("Listing bindings for vhost {vhost}..."),
            Kind::Connections => "Listing connections ...".to_string(),
            Kind::Channels => "Listing channels ...".to_string(),
            Kind::Consumers => format!("Listing consumers in vhost {vhost} ..."),
            Kind::Users => "Listing users ...".to_string(),
            Kind::Vhosts => "Listing vhosts ...".to_string(),
            Kind::Permissions => format!("Listing permissions for vhost \"{vhost}\" ..."),
            Kind::Policies => format!("Listing policies for vhost \"{vhost}\" ..."),
        }
    }
}

//! The command line: rabbitmqctl's verbs and flags where they exist (`-p/--vhost`, `-q`,
//! `-s`, `--formatter`, `--no-table-headers`), plus how to reach the management API
//! (`--host`, `--port`, `--url`, `--username`, `--password`; no short forms, since
//! rabbitmqctl's `-p` is the vhost and `delete_queue -u` is `--if-unused`).

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `warrenctl [options] <verb> [arguments]`.
#[derive(Debug, Parser)]
#[command(
    name = "warrenctl",
    version,
    about = "Manage a Warren (or RabbitMQ) broker through its management HTTP API, with rabbitmqctl's verbs"
)]
pub struct Cli {
    /// How to reach the management API.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The virtual host (as rabbitmqctl's `-p`).
    #[arg(short = 'p', long = "vhost", default_value = "/", global = true)]
    pub vhost: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Formatter::Table, global = true)]
    pub formatter: Formatter,
    /// Do not print the "Listing ..." banner.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Neither banner nor table headers (`-q --no-table-headers`).
    #[arg(short = 's', long, global = true)]
    pub silent: bool,
    /// Do not print the table's header line.
    #[arg(long = "no-table-headers", global = true)]
    pub no_table_headers: bool,
    /// The verb.
    #[command(subcommand)]
    pub verb: Verb,
}

/// Where the management API is and whom to log in as.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Management API host.
    #[arg(
        id = "api_host",
        long = "host",
        default_value = "localhost",
        global = true,
        env = "WARRENCTL_HOST"
    )]
    pub host: String,
    /// Management API port.
    #[arg(
        id = "api_port",
        long = "port",
        default_value_t = 15672,
        global = true,
        env = "WARRENCTL_PORT"
    )]
    pub port: u16,
    /// Base URL of the management API (`http://host:port`), instead of --host/--port.
    #[arg(id = "api_url", long = "url", global = true, env = "WARRENCTL_URL")]
    pub url: Option<String>,
    /// User name.
    #[arg(
        id = "api_username",
        long = "username",
        default_value = "guest",
        global = true,
        env = "WARRENCTL_USERNAME"
    )]
    pub username: String,
    /// Password.
    #[arg(
        id = "api_password",
        long = "password",
        default_value = "guest",
        global = true,
        env = "WARRENCTL_PASSWORD",
        hide_env_values = true
    )]
    pub password: String,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Formatter {
    /// rabbitmqctl's tab-separated table with a header line.
    Table,
    /// rabbitmqctl's JSON: an array of objects, one per line.
    Json,
}

/// The verbs, named as rabbitmqctl names them.
#[derive(Debug, Subcommand)]
#[command(rename_all = "snake_case")]
pub enum Verb {
    /// The node's status.
    Status,
    /// Queues in the vhost (columns as rabbitmqctl's, default `name messages`).
    ListQueues {
        /// Columns to show.
        columns: Vec<String>,
    },
    /// Exchanges in the vhost (default `name type`).
    ListExchanges {
        /// Columns to show.
        columns: Vec<String>,
    },
    /// Bindings in the vhost.
    ListBindings {
        /// Columns to show.
        columns: Vec<String>,
    },
    /// Client connections (every vhost).
    ListConnections {
        /// Columns to show.
        columns: Vec<String>,
    },
    /// Channels (every vhost).
    ListChannels {
        /// Columns to show.
        columns: Vec<String>,
    },
    /// Consumers in the vhost.
    ListConsumers {
        /// Columns to show.
        columns: Vec<String>,
    },
    /// Users and their tags.
    ListUsers,
    /// Virtual hosts.
    ListVhosts {
        /// Columns to show (default `name`).
        columns: Vec<String>,
    },
    /// Permissions in the vhost.
    ListPermissions,
    /// Policies in the vhost.
    ListPolicies,
    /// Creates a user.
    AddUser {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// Deletes a user.
    DeleteUser {
        /// User name.
        username: String,
    },
    /// Changes a user's password.
    ChangePassword {
        /// User name.
        username: String,
        /// New password.
        password: String,
    },
    /// Replaces a user's tags.
    SetUserTags {
        /// User name.
        username: String,
        /// Tags (none clears them).
        tags: Vec<String>,
    },
    /// Creates a virtual host.
    AddVhost {
        /// Its name.
        name: String,
    },
    /// Deletes a virtual host.
    DeleteVhost {
        /// Its name.
        name: String,
    },
    /// Sets a user's permissions in the vhost.
    SetPermissions {
        /// User name.
        username: String,
        /// Configure regex.
        configure: String,
        /// Write regex.
        write: String,
        /// Read regex.
        read: String,
    },
    /// Revokes a user's permissions in the vhost.
    ClearPermissions {
        /// User name.
        username: String,
    },
    /// Sets a policy in the vhost.
    SetPolicy {
        /// Policy name.
        name: String,
        /// Regex of the names it applies to.
        pattern: String,
        /// Its definition, a JSON object.
        definition: String,
        /// Priority.
        #[arg(long, default_value_t = 0)]
        priority: i64,
        /// What it applies to.
        #[arg(long = "apply-to", default_value = "all", value_parser = ["all", "queues", "exchanges", "classic_queues", "quorum_queues", "streams"])]
        apply_to: String,
    },
    /// Clears a policy in the vhost.
    ClearPolicy {
        /// Policy name.
        name: String,
    },
    /// Removes every ready message of a queue.
    PurgeQueue {
        /// Queue name.
        queue: String,
    },
    /// Deletes a queue.
    DeleteQueue {
        /// Queue name.
        queue: String,
        /// Only if it has no consumers.
        #[arg(short = 'u', long = "if-unused")]
        if_unused: bool,
        /// Only if it has no messages.
        #[arg(short = 'e', long = "if-empty")]
        if_empty: bool,
    },
    /// Closes a client connection (by its name, as the management API lists it).
    CloseConnection {
        /// Connection name (`127.0.0.1:50000 -> 127.0.0.1:5672`).
        connection: String,
        /// Reason given to the client.
        explanation: String,
    },
    /// Writes every definition to a file (`-` for standard output).
    ExportDefinitions {
        /// Target file.
        file: String,
    },
    /// Loads definitions from a file (`-` for standard input).
    ImportDefinitions {
        /// Source file.
        file: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_verbs_user_name_is_not_the_api_login() {
        let cli = Cli::try_parse_from(["warrenctl", "delete_user", "bob"]).unwrap();
        assert_eq!(cli.connection.username, "guest");
        assert!(matches!(cli.verb, Verb::DeleteUser { ref username } if username == "bob"));
        let cli = Cli::try_parse_from([
            "warrenctl",
            "add_user",
            "bob",
            "pw",
            "--username",
            "admin",
            "--password",
            "secret",
        ])
        .unwrap();
        assert_eq!(cli.connection.username, "admin");
        assert_eq!(cli.connection.password, "secret");
        assert!(
            matches!(cli.verb, Verb::AddUser { ref username, ref password } if username == "bob" && password == "pw")
        );
    }

    #[test]
    fn p_is_the_vhost_and_delete_queue_keeps_its_short_flags() {
        let cli =
            Cli::try_parse_from(["warrenctl", "delete_queue", "-p", "v", "-u", "-e", "q"]).unwrap();
        assert_eq!(cli.vhost, "v");
        assert!(matches!(
            cli.verb,
            Verb::DeleteQueue { ref queue, if_unused: true, if_empty: true } if queue == "q"
        ));
    }
}

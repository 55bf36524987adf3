//! The verbs, one module per family; [`dispatch`] runs the parsed one.

pub mod access;
pub mod columns;
pub mod connections;
pub mod definitions;
pub mod listing;
pub mod policies;
pub mod queues;
pub mod status;

use std::io::Write;

use super::args::Verb;
use super::client::Client;
use super::error::CliError;
use super::format::Output;

/// What every verb needs: the API client, the `-p` vhost and the output settings.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The management API.
    pub client: &'a Client,
    /// The vhost from `-p/--vhost`.
    pub vhost: &'a str,
    /// How to print.
    pub output: Output,
}

/// Runs one verb.
pub fn dispatch(ctx: &Context<'_>, verb: &Verb, out: &mut dyn Write) -> Result<(), CliError> {
    use columns::Kind;
    match verb {
        Verb::Status => status::status(ctx, out),
        Verb::ListQueues { columns } => listing::list(ctx, Kind::Queues, columns, out),
        Verb::ListExchanges { columns } => listing::list(ctx, Kind::Exchanges, columns, out),
        Verb::ListBindings { columns } => listing::list(ctx, Kind::Bindings, columns, out),
        Verb::ListConnections { columns } => listing::list(ctx, Kind::Connections, columns, out),
        Verb::ListChannels { columns } => listing::list(ctx, Kind::Channels, columns, out),
        Verb::ListConsumers { columns } => listing::list(ctx, Kind::Consumers, columns, out),
        Verb::ListUsers => listing::list(ctx, Kind::Users, &[], out),
        Verb::ListVhosts { columns } => listing::list(ctx, Kind::Vhosts, columns, out),
        Verb::ListPermissions => listing::list(ctx, Kind::Permissions, &[], out),
        Verb::ListPolicies => listing::list(ctx, Kind::Policies, &[], out),
        Verb::AddUser { username, password } => access::add_user(ctx, username, password, out),
        Verb::DeleteUser { username } => access::delete_user(ctx, username, out),
        Verb::ChangePassword { username, password } => {
            access::change_password(ctx, username, password, out)
        }
        Verb::SetUserTags { username, tags } => access::set_user_tags(ctx, username, tags, out),
        Verb::AddVhost { name } => access::add_vhost(ctx, name, out),
        Verb::DeleteVhost { name } => access::delete_vhost(ctx, name, out),
        Verb::SetPermissions {
            username,
            configure,
            write,
            read,
        } => access::set_permissions(ctx, username, [configure, write, read], out),
        Verb::ClearPermissions { username } => access::clear_permissions(ctx, username, out),
        Verb::SetPolicy {
            name,
            pattern,
            definition,
            priority,
            apply_to,
        } => policies::set_policy(
            ctx,
            &policies::Policy {
                name,
                pattern,
                definition,
                priority: *priority,
                apply_to,
            },
            out,
        ),
        Verb::ClearPolicy { name } => policies::clear_policy(ctx, name, out),
        Verb::PurgeQueue { queue } => queues::purge(ctx, queue, out),
        Verb::DeleteQueue {
            queue,
            if_unused,
            if_empty,
        } => queues::delete(ctx, queue, *if_unused, *if_empty, out),
        Verb::CloseConnection {
            connection,
            explanation,
        } => connections::close(ctx, connection, explanation, out),
        Verb::ExportDefinitions { file } => definitions::export(ctx, file, out),
        Verb::ImportDefinitions { file } => definitions::import(ctx, file, out),
    }
}

/// Writes one line (a banner or a result) unless it is a banner and output is quiet.
pub(crate) fn say(ctx: &Context<'_>, out: &mut dyn Write, text: &str) -> Result<(), CliError> {
    ctx.output.banner(out, text)
}

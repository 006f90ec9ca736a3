//! Which nodes to replicate from: the source itself, one node per shard of
//! a source cluster (a replica when one is healthy, unless told to use the
//! masters), or the nodes listed with `--source-nodes`.

use crate::error::CliError;
use ferry_resp::{Command, Frame};
use ferry_sink::Credentials;
use std::time::Duration;

/// How long to wait for a source node to connect and answer.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(30);

/// One node to replicate from: a shard of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceNode {
    /// `host:port`.
    pub addr: String,
    /// The master of the shard when `addr` is one of its replicas.
    pub master: Option<String>,
}

/// How the source is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One server (a master or a replica).
    Standalone,
    /// A Redis Cluster: one session per shard, database 0 only.
    Cluster,
    /// Nodes listed by the operator (Codis or twemproxy backends).
    Nodes,
}

/// Which node of a cluster shard to replicate from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// A healthy replica when the shard has one: the master does no work.
    Replica,
    /// Always the master.
    Master,
}

/// Credentials shared by every source node.
#[derive(Debug, Clone)]
pub struct SourceAuth {
    /// ACL user.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
}

impl SourceAuth {
    /// As the sink's connections take them, with the source's timeouts.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            user: self.user.clone(),
            password: self.password.clone(),
            connect_timeout: SOURCE_TIMEOUT,
            io_timeout: SOURCE_TIMEOUT,
        }
    }
}

/// One request to a source node on a connection of its own.
///
/// # Errors
/// The node cannot be reached, refuses the credentials, or answers with an
/// error.
pub async fn query(addr: &str, auth: &SourceAuth, cmd: &Command) -> Result<Frame, CliError> {
    ferry_sink::query(addr, &auth.credentials(), cmd)
        .await
        .map_err(|e| CliError::Check(format!("source {addr}: {e}")))
}

/// `INFO <section>` of a source node, as text.
///
/// # Errors
/// As [`query`].
pub async fn info(addr: &str, auth: &SourceAuth, section: &str) -> Result<String, CliError> {
    let reply = query(addr, auth, &Command::new("INFO").arg(section)).await?;
    Ok(reply
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default())
}

/// The nodes to replicate from.
///
/// # Errors
/// A node cannot be reached, or a cluster has slots no node serves.
pub async fn discover(
    addr: &str,
    listed: &[String],
    auth: &SourceAuth,
    prefer: Prefer,
) -> Result<(Layout, Vec<SourceNode>), CliError> {
    if !listed.is_empty() {
        let mut nodes = Vec::new();
        for addr in listed {
            // Reachable and answering now, rather than at the first PSYNC.
            info(addr, auth, "server").await?;
            if !nodes.iter().any(|n: &SourceNode| &n.addr == addr) {
                nodes.push(SourceNode {
                    addr: addr.clone(),
                    master: None,
                });
            }
        }
        return Ok((Layout::Nodes, nodes));
    }
    let cluster = info(addr, auth, "cluster").await?;
    if ferry_sink::info_field(&cluster, "cluster_enabled") != Some("1") {
        return Ok((
            Layout::Standalone,
            vec![SourceNode {
                addr: addr.to_owned(),
                master: None,
            }],
        ));
    }
    let reply = query(addr, auth, &Command::new("CLUSTER").arg("NODES")).await?;
    let text = reply
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let shards = parse_cluster_nodes(&text);
    if shards.is_empty() {
        return Err(CliError::Check(format!(
            "source {addr} is a cluster node, but CLUSTER NODES lists no master serving slots"
        )));
    }
    let mut nodes = Vec::with_capacity(shards.len());
    for shard in shards {
        let mut chosen = None;
        if prefer == Prefer::Replica {
            for replica in &shard.replicas {
                // A replica still loading or cut from its master would
                // hold the sync back: take it only with its link up.
                let up = match info(replica, auth, "replication").await {
                    Ok(info) => ferry_sink::info_field(&info, "master_link_status") == Some("up"),
                    Err(_) => false,
                };
                if up {
                    chosen = Some(SourceNode {
                        addr: replica.clone(),
                        master: Some(shard.master.clone()),
                    });
                    break;
                }
            }
        }
        nodes.push(chosen.unwrap_or(SourceNode {
            addr: shard.master,
            master: None,
        }));
    }
    Ok((Layout::Cluster, nodes))
}

/// A master serving slots and its healthy replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shard {
    master: String,
    replicas: Vec<String>,
}

/// Masters that serve slots, with their connected replicas, from the text
/// of `CLUSTER NODES`, in the order of their first slot.
fn parse_cluster_nodes(text: &str) -> Vec<Shard> {
    struct Node<'a> {
        id: &'a str,
        addr: String,
        flags: Vec<&'a str>,
        master_id: &'a str,
        connected: bool,
        first_slot: Option<u32>,
    }
    let nodes: Vec<Node<'_>> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            if fields.len() < 8 {
                return None;
            }
            // ip:port@cport[,hostname]
            let addr = fields[1].split(['@', ',']).next()?.to_owned();
            let first_slot = fields[8..].iter().find_map(|s| {
                if s.starts_with('[') {
                    return None; // a slot being imported or migrated
                }
                s.split('-').next()?.parse().ok()
            });
            Some(Node {
                id: fields[0],
                addr,
                flags: fields[2].split(',').collect(),
                master_id: fields[3],
                connected: fields[7] == "connected",
                first_slot,
            })
        })
        .collect();
    let healthy = |n: &Node<'_>| {
        !n.addr.starts_with(':')
            && !n
                .flags
                .iter()
                .any(|f| matches!(*f, "fail" | "fail?" | "handshake" | "noaddr"))
    };
    let mut masters: Vec<&Node<'_>> = nodes
        .iter()
        .filter(|n| n.flags.contains(&"master") && n.first_slot.is_some())
        .collect();
    masters.sort_by_key(|n| n.first_slot);
    masters
        .into_iter()
        .map(|m| Shard {
            master: m.addr.clone(),
            replicas: nodes
                .iter()
                .filter(|n| {
                    n.flags.contains(&"slave")
                        && n.master_id == m.id
                        && healthy(n)
                        && (n.connected || n.flags.contains(&"myself"))
                })
                .map(|n| n.addr.clone())
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_gives_masters_with_healthy_replicas() {
        let text = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7002@17002,host-b master - 0 1 2 connected 5461-10922 [10923->-c3]
c3 127.0.0.1:7003@17003 master - 0 1 3 connected 10923-16383
r1 127.0.0.1:7004@17004 slave a1 0 1 1 connected
r2 127.0.0.1:7005@17005 slave,fail b2 0 1 2 disconnected
r3 127.0.0.1:7006@17006 slave c3 0 1 3 connected
e0 127.0.0.1:7007@17007 master - 0 1 0 connected
";
        let shards = parse_cluster_nodes(text);
        assert_eq!(
            shards,
            vec![
                Shard {
                    master: "127.0.0.1:7001".into(),
                    replicas: vec!["127.0.0.1:7004".into()],
                },
                Shard {
                    master: "127.0.0.1:7002".into(),
                    replicas: vec![],
                },
                Shard {
                    master: "127.0.0.1:7003".into(),
                    replicas: vec!["127.0.0.1:7006".into()],
                },
            ]
        );
    }

    #[test]
    fn short_or_garbled_lines_are_ignored() {
        assert!(parse_cluster_nodes("junk\n\n a b c\n").is_empty());
    }
}

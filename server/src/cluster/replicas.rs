//! `[cluster] replicas` applied to what the chat keeps in JetStream: the names bucket and
//! the rooms' streams are made with that many replicas, a NATS that cannot keep them stops
//! the node at start with one line, and one made earlier with another count is brought to
//! it (NATS can change a stream's replicas in place) or, if NATS refuses, reported.

use async_nats::jetstream::{self, context::CreateStreamErrorKind, stream, ErrorCode};

/// JetStream's error for more than one replica on a server that is not in a cluster.
const REPLICAS_NOT_SUPPORTED: ErrorCode = ErrorCode(10074);

/// Whether NATS refused to make a stream because it cannot keep the replicas asked for: a
/// lone server asked for more than one, or a cluster with fewer servers than replicas.
/// Retrying cannot help; the node says so and stops.
pub fn is_beyond_nats(err: &jetstream::context::CreateStreamError) -> bool {
    matches!(
        err.kind(),
        CreateStreamErrorKind::JetStream(e) if [
            REPLICAS_NOT_SUPPORTED,
            ErrorCode::INSUFFICIENT_RESOURCES,
            ErrorCode::CLUSTER_NO_PEERS,
        ]
        .contains(&e.error_code())
    )
}

/// Brings `stream` (described as `what` in the log) to `wanted` replicas if it was made
/// with another count: an INFO line when NATS made the change, a WARN line naming both
/// counts when it refused, so a cluster grown from one server to three is not silently
/// left with streams only one server keeps.
pub async fn align(
    js: &jetstream::Context,
    stream: &mut stream::Stream,
    wanted: usize,
    what: &str,
) {
    let config = &stream.cached_info().config;
    let had = config.num_replicas;
    if had == wanted {
        return;
    }
    let changed = stream::Config {
        num_replicas: wanted,
        ..config.clone()
    };
    match update(js, stream, &changed).await {
        Ok(()) => tracing::info!(
            "{what} now has {wanted} replicas (it had {had}), as [cluster] replicas says"
        ),
        Err(err) => tracing::warn!(
            "{what} has {had} replicas, [cluster] replicas says {wanted}, and NATS refused the \
             change: {err}"
        ),
    }
}

/// Makes `stream` (a bucket of this node's, `what` in the log) answer reads from its leader
/// alone when it has `replicas` > 1: a bucket made with direct gets allowed (as with one
/// replica, or by an earlier version) has them turned off, since a replica just back from a
/// pause answers them from what it held before. Says so, or why NATS refused.
pub async fn leader_reads(
    js: &jetstream::Context,
    stream: &mut stream::Stream,
    replicas: usize,
    what: &str,
) {
    let config = &stream.cached_info().config;
    if replicas <= 1 || !config.allow_direct {
        return;
    }
    let changed = stream::Config {
        allow_direct: false,
        ..config.clone()
    };
    match update(js, stream, &changed).await {
        Ok(()) => tracing::info!(
            "{what} is now read from its leader alone ([cluster] replicas {replicas})"
        ),
        Err(err) => tracing::warn!(
            "{what} lets any of its {replicas} replicas answer reads, and NATS refused to change \
             that: {err}"
        ),
    }
}

/// Gives `stream` the config `changed` in NATS and reads its info again, so that what the
/// node keeps of it (a key-value store decides by it whether to use direct gets) says so.
pub async fn update(
    js: &jetstream::Context,
    stream: &mut stream::Stream,
    changed: &stream::Config,
) -> Result<(), jetstream::context::UpdateStreamError> {
    js.update_stream(changed).await?;
    let _ = stream.info().await;
    Ok(())
}

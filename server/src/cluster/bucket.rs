//! The key-value buckets the chat keeps in JetStream (names, accounts), made and opened one
//! way: one revision per key, deletes denied (a value goes by a purge that leaves nothing),
//! the replicas `[cluster] replicas` asks for, and reads from the bucket's leader.

use async_nats::jetstream::{self, kv, stream};

use super::ClusterError;

/// The stream a key-value bucket named `bucket` is, as async-nats' own
/// `create_key_value` would make it with `history` 1, `replicas` and nothing else set, but
/// for direct gets, allowed with one replica only: with more, any replica answers a direct
/// get, and one just back from a pause answers from what it held before (seen with the
/// rooms' stream), so a value is read from the bucket's leader.
fn stream_config(bucket: &str, description: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(description.to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: replicas == 1,
        num_replicas: replicas,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// Opens the bucket `bucket` (`description` says what it holds), creating it with `replicas`
/// when no node has yet, or bringing it to `replicas` if it was made with another count.
///
/// The bucket's stream is made here rather than with async-nats' `create_key_value`,
/// which first reads the account's JetStream limits in a form nats-server 2.9 (Debian's)
/// does not send. Two nodes making it at once is fine: the same config is accepted twice.
pub async fn open(
    js: &jetstream::Context,
    bucket: &'static str,
    description: &str,
    replicas: usize,
) -> Result<kv::Store, ClusterError> {
    let mut kv = match js.get_key_value(bucket).await {
        Ok(kv) => kv,
        Err(_) => {
            js.get_or_create_stream(stream_config(bucket, description, replicas))
                .await
                .map_err(|source| ClusterError::BucketCreate { bucket, source })?;
            js.get_key_value(bucket)
                .await
                .map_err(|source| ClusterError::BucketOpen { bucket, source })?
        }
    };
    let what = format!("The bucket {bucket}");
    super::replicas::align(js, &mut kv.stream, replicas, &what).await;
    super::replicas::leader_reads(js, &mut kv.stream, replicas, &what).await;
    Ok(kv)
}

/// Removes `key`'s value in `kv` if it is at `revision` (or older), leaving no delete
/// marker: its subject is purged below `revision + 1`, so a value written since stays.
/// Whether anything was removed.
pub async fn remove(kv: &kv::Store, key: &str, revision: u64) -> Result<bool, stream::PurgeError> {
    let purged = kv
        .stream
        .purge()
        .filter(format!("{}{key}", kv.prefix))
        .sequence(revision + 1)
        .await?;
    Ok(purged.purged > 0)
}

//! Enhanced fan-out: the registered stream consumer that SubscribeToShard reads through
//! (its own 2 MB/s per shard, records pushed as they arrive).

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::ConsumerStatus;

use super::{Shared, Stream, described};
use crate::aws::{Failure, classify};

/// The stream's ARN and the ARN of the consumer `name`, registered when missing and
/// waited for until active.
pub async fn consumer(
    client: &Client,
    stream: &Stream,
    shared: &Shared,
    name: &str,
) -> Result<(String, String), String> {
    let stream_arn = match &stream.arn {
        Some(arn) => arn.clone(),
        None => {
            let summary = client
                .describe_stream_summary()
                .stream_name(&stream.name)
                .send()
                .await;
            match summary {
                Ok(out) => out
                    .stream_description_summary()
                    .map(|s| s.stream_arn().to_string())
                    .ok_or_else(|| {
                        format!(
                            "Kinesis stream {:?}: no ARN in DescribeStreamSummary",
                            stream.name
                        )
                    })?,
                Err(e) => {
                    return Err(described(
                        stream,
                        shared,
                        "DescribeStreamSummary",
                        classify(&e),
                        &e,
                    )
                    .await);
                }
            }
        }
    };
    let registered = client
        .register_stream_consumer()
        .stream_arn(&stream_arn)
        .consumer_name(name)
        .send()
        .await;
    match registered {
        Ok(_) => {
            tracing::info!(stream = %stream.name, consumer = name, "Registered an enhanced fan-out consumer.")
        }
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ResourceInUseException") => {
        }
        Err(e) => {
            let failure = classify(&e);
            if matches!(
                failure,
                Failure::AccessDenied | Failure::NotFound | Failure::Fatal
            ) {
                return Err(described(stream, shared, "RegisterStreamConsumer", failure, &e).await);
            }
        }
    }
    for _ in 0..120 {
        let described_consumer = client
            .describe_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(name)
            .send()
            .await;
        match described_consumer {
            Ok(out) => {
                if let Some(consumer) = out.consumer_description()
                    && *consumer.consumer_status() == ConsumerStatus::Active
                {
                    return Ok((stream_arn, consumer.consumer_arn().to_string()));
                }
            }
            Err(e) if matches!(classify(&e), Failure::Transient | Failure::Throttled) => {}
            Err(e) => {
                return Err(
                    described(stream, shared, "DescribeStreamConsumer", classify(&e), &e).await,
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "Kinesis stream {:?}: enhanced fan-out consumer {name:?} did not become active within a minute",
        stream.name
    ))
}

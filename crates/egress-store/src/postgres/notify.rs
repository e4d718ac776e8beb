//! Learning of new revisions as they commit: LISTEN on a connection of its own.

use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::revisions::{latest_number, CHANNEL};
use crate::error::StoreError;

/// Waits on `client` (the store's listening connection) until a revision newer than `after`
/// exists, for at most `timeout`.
///
/// LISTEN comes before reading the latest number, so a revision committed after that read is
/// always notified; one committed before it is seen by the read. The connection stops listening
/// before it returns, so notifications never pile up for a replica that stopped waiting.
pub(super) fn wait_for_newer(
    client: &mut Client,
    after: u64,
    timeout: Duration,
) -> Result<Option<u64>, StoreError> {
    let sql_error = |source| StoreError::Postgres {
        operation: "wait for a newer revision",
        source,
    };
    let deadline = Instant::now() + timeout;
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(sql_error)?;
    let found = wait(client, after, deadline).map_err(sql_error);
    let unlisten = client.batch_execute(&format!("UNLISTEN {CHANNEL}"));
    let found = found?;
    unlisten.map_err(sql_error)?;
    Ok(found)
}

fn wait(
    client: &mut Client,
    after: u64,
    deadline: Instant,
) -> Result<Option<u64>, postgres::Error> {
    let latest = latest_number(client)?;
    if latest > after {
        return Ok(Some(latest));
    }
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        let Some(notification) = client.notifications().timeout_iter(remaining).next()? else {
            return Ok(None);
        };
        if notification.channel() != CHANNEL {
            continue;
        }
        match notification.payload().parse::<u64>() {
            Ok(number) if number > after => return Ok(Some(number)),
            Ok(_) => {}
            // Not one of ours (someone else sent on the channel): ask the table instead.
            Err(_) => {
                let latest = latest_number(client)?;
                if latest > after {
                    return Ok(Some(latest));
                }
            }
        }
    }
}

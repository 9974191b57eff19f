//! How part statuses add up to a delivery status, and deliveries to a message status. Pure, so
//! every rule is tested without a database.

use notify_core::{DeliveryStatus, PartOp, PartStatus};

/// The delivery status its parts imply. Statuses set by other events (cancelled, expired,
/// awaiting an agent, not recallable) are kept.
pub fn delivery_status(current: DeliveryStatus, parts: &[(PartOp, PartStatus)]) -> DeliveryStatus {
    use DeliveryStatus as D;
    use PartStatus as P;
    if matches!(
        current,
        D::Cancelled | D::Expired | D::AwaitingAgent | D::NotRecallable
    ) {
        return current;
    }
    let sends: Vec<PartStatus> = parts
        .iter()
        .filter(|(op, _)| matches!(op, PartOp::Send | PartOp::Upload))
        .map(|(_, s)| *s)
        .collect();
    // No calls of its own (a Juzi message an agent's sidebar reported): the reported status
    // stands.
    if sends.is_empty() {
        return current;
    }
    if sends.contains(&P::Failed) {
        return D::Failed;
    }
    let all_sent = !sends.is_empty()
        && sends.iter().all(|s| matches!(s, P::Done | P::Cancelled))
        && sends.contains(&P::Done);
    if all_sent {
        let recalls: Vec<PartStatus> = parts
            .iter()
            .filter(|(op, _)| *op == PartOp::Recall)
            .map(|(_, s)| *s)
            .collect();
        if recalls.is_empty() {
            return D::Sent;
        }
        if recalls
            .iter()
            .any(|s| matches!(s, P::Queued | P::Sending | P::Blocked))
        {
            return D::Recalling;
        }
        if recalls.contains(&P::Failed) {
            return D::RecallFailed;
        }
        return D::Recalled;
    }
    if sends.contains(&P::Sending) {
        D::Sending
    } else {
        D::Queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus as D;
    use PartOp::*;
    use PartStatus as P;

    #[test]
    fn a_delivery_without_calls_keeps_its_reported_status() {
        // A Juzi message the sidebar reported: a recall's roll-up must not requeue it.
        assert_eq!(delivery_status(D::Sent, &[]), D::Sent);
        assert_eq!(delivery_status(D::Failed, &[]), D::Failed);
    }

    #[test]
    fn sends_roll_up() {
        assert_eq!(
            delivery_status(D::Queued, &[(Send, P::Done), (Send, P::Queued)]),
            D::Queued
        );
        assert_eq!(
            delivery_status(D::Queued, &[(Send, P::Done), (Send, P::Sending)]),
            D::Sending
        );
        assert_eq!(
            delivery_status(D::Queued, &[(Upload, P::Done), (Send, P::Done)]),
            D::Sent
        );
        assert_eq!(
            delivery_status(D::Queued, &[(Send, P::Done), (Send, P::Failed)]),
            D::Failed
        );
    }

    #[test]
    fn recalls_roll_up_after_the_sends() {
        let sent = [(Send, P::Done)];
        let with = |r: PartStatus| {
            let mut v = sent.to_vec();
            v.push((Recall, r));
            delivery_status(D::Sent, &v)
        };
        assert_eq!(with(P::Queued), D::Recalling);
        assert_eq!(with(P::Done), D::Recalled);
        assert_eq!(with(P::Failed), D::RecallFailed);
    }

    #[test]
    fn event_statuses_are_kept() {
        assert_eq!(
            delivery_status(D::Cancelled, &[(Send, P::Cancelled)]),
            D::Cancelled
        );
        assert_eq!(
            delivery_status(D::Expired, &[(Send, P::Cancelled)]),
            D::Expired
        );
    }

    #[test]
    fn state_parts_do_not_change_a_sent_delivery() {
        assert_eq!(
            delivery_status(D::Sent, &[(Send, P::Done), (State, P::Failed)]),
            D::Sent
        );
    }
}

//! How part statuses add up to a delivery status, and deliveries to a message status. Pure, so
//! every rule is tested without a database.

use notify_core::{DeliveryStatus, MessageStatus, PartOp, PartStatus};

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

/// One delivery of a message as the message's status sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Its status.
    pub status: DeliveryStatus,
    /// An escalation step cancelled by an event (the alert was acknowledged or resolved):
    /// `cancel_reason` is set.
    pub stood_down_step: bool,
    /// Its fallback is due and not planned yet (a `pending_fallbacks` row).
    pub awaiting_fallback: bool,
    /// A fallback delivery stands in for it (`fallback_of` names it).
    pub replaced: bool,
}

/// The message status its deliveries imply: the one rule every roll-up follows.
///
/// - An escalation step cancelled because the alert was acknowledged or resolved never had to
///   go out: it does not count (the message is `sent` when its own targets were). A step still
///   pending keeps the message `accepted` until it fires or is cancelled.
/// - A delivery waiting for its fallback is not final yet: the message stays `accepted`.
/// - One that failed or expired and has a fallback delivery counts through that delivery
///   alone (it stands in for it).
pub fn message_status(deliveries: &[Standing]) -> MessageStatus {
    if deliveries.iter().any(|d| d.awaiting_fallback) {
        return MessageStatus::Accepted;
    }
    let counted: Vec<DeliveryStatus> = deliveries
        .iter()
        .filter(|d| !(d.stood_down_step && d.status == DeliveryStatus::Cancelled))
        .filter(|d| {
            !(d.replaced && matches!(d.status, DeliveryStatus::Failed | DeliveryStatus::Expired))
        })
        .map(|d| d.status)
        .collect();
    MessageStatus::of(&counted)
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

    fn standing(status: DeliveryStatus) -> Standing {
        Standing {
            status,
            stood_down_step: false,
            awaiting_fallback: false,
            replaced: false,
        }
    }

    #[test]
    fn a_step_stood_down_by_an_event_does_not_count() {
        let step = Standing {
            stood_down_step: true,
            ..standing(D::Cancelled)
        };
        assert_eq!(
            message_status(&[standing(D::Sent), step]),
            MessageStatus::Sent
        );
        // A pending step keeps the message open.
        assert_eq!(
            message_status(&[standing(D::Sent), standing(D::Queued)]),
            MessageStatus::Accepted
        );
        // A delivery cancelled otherwise (a recall) still counts.
        assert_eq!(
            message_status(&[standing(D::Sent), standing(D::Cancelled)]),
            MessageStatus::PartiallySent
        );
    }

    #[test]
    fn a_fallback_stands_in_for_its_primary() {
        let waiting = Standing {
            awaiting_fallback: true,
            ..standing(D::Failed)
        };
        assert_eq!(message_status(&[waiting]), MessageStatus::Accepted);
        let replaced = Standing {
            replaced: true,
            ..standing(D::Failed)
        };
        assert_eq!(
            message_status(&[replaced, standing(D::Sent)]),
            MessageStatus::Sent
        );
        // A sent primary whose refused people got a fallback still counts as sent.
        let sent_replaced = Standing {
            replaced: true,
            ..standing(D::Sent)
        };
        assert_eq!(
            message_status(&[sent_replaced, standing(D::Failed)]),
            MessageStatus::PartiallySent
        );
    }
}

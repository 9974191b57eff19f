//! Escalation and acknowledgement (contract §7): the checks of a message's `escalation`, the
//! acknowledge link's token, and the link put into the message before it is planned. The steps
//! themselves are deliveries planned at ingress (`ingress::plan`); acknowledging is
//! `routes::ack` and the link's page `routes::ack_page`.

pub mod link;
pub mod token;

use notify_core::{EscalationStep, FieldError};

/// Most steps a message may have.
pub const MAX_STEPS: usize = 10;
/// Shortest `after`: 1 s.
pub const MIN_AFTER_MS: i64 = 1_000;
/// Longest `after`: 7 days.
pub const MAX_AFTER_MS: i64 = 7 * 24 * 3_600_000;

/// The delay of each step, in ms after acceptance: 422 `escalation` for an empty or too long
/// list, `escalation[i].after` for a bad delay, `escalation[i].targets` for a step without
/// targets.
pub fn step_delays(steps: &[EscalationStep]) -> Result<Vec<i64>, FieldError> {
    if steps.is_empty() || steps.len() > MAX_STEPS {
        return Err(FieldError::new(
            "escalation",
            "bad_length",
            format!("escalation takes 1 to {MAX_STEPS} steps"),
        ));
    }
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.targets.is_empty() {
                return Err(FieldError::new(
                    format!("escalation[{i}].targets"),
                    "required",
                    "an escalation step needs at least one target",
                ));
            }
            notify_core::duration::parse_ms(&s.after, MIN_AFTER_MS, MAX_AFTER_MS)
                .map_err(|e| e.under(&format!("escalation[{i}].after")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_core::TargetInput;

    fn step(after: &str, targets: usize) -> EscalationStep {
        EscalationStep {
            after: after.into(),
            targets: (0..targets)
                .map(|_| TargetInput {
                    channel: "logch".into(),
                    ..TargetInput::default()
                })
                .collect(),
        }
    }

    #[test]
    fn delays_are_checked_and_named() {
        assert_eq!(
            step_delays(&[step("5m", 1), step("1h", 2)]).unwrap(),
            vec![300_000, 3_600_000]
        );
        let field = |s: &[EscalationStep]| step_delays(s).unwrap_err().field;
        assert_eq!(field(&[]), "escalation");
        assert_eq!(field(&vec![step("1m", 1); 11]), "escalation");
        assert_eq!(
            field(&[step("5m", 1), step("0s", 1)]),
            "escalation[1].after"
        );
        assert_eq!(field(&[step("8d", 1)]), "escalation[0].after");
        assert_eq!(field(&[step("soon", 1)]), "escalation[0].after");
        assert_eq!(field(&[step("5m", 0)]), "escalation[0].targets");
    }
}

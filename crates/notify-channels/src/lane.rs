//! Lane naming and recall planning: the one place where a channel's planned calls get their
//! lane, used alike by the API (ingress, recall, state) and the dispatcher (a recall asked for
//! during a send).

use notify_core::{LaneInfo, PartPlan};

use crate::{ChannelHandle, RecallPlan};

/// A planned call with the lane it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct LanedPlan {
    /// Where it is claimed from.
    pub lane: LaneInfo,
    /// The call.
    pub plan: PartPlan,
}

/// The recall of a delivery's sent parts.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallParts {
    /// One recall call per recallable sent part (never empty).
    pub calls: Vec<LanedPlan>,
    /// Why some sent part cannot be recalled, when one cannot.
    pub refusal: Option<String>,
}

impl ChannelHandle {
    /// The lane of a call on `interface`: the channel's credential × the interface, owned per
    /// egress group for kinds whose host caps calls per IP and per lane otherwise.
    pub fn lane(&self, interface: &str) -> LaneInfo {
        let credential = self.adapter.credential();
        let unit = match self.egress_group() {
            Some(g) => format!("egress:{g}"),
            None => format!("{credential}|{interface}"),
        };
        LaneInfo::new(&self.name, &credential, interface, &unit)
    }

    /// `plan` with its lane.
    pub fn laned(&self, plan: PartPlan) -> LanedPlan {
        LanedPlan {
            lane: self.lane(&plan.interface),
            plan,
        }
    }

    /// Plans the recall of a delivery's sent parts, given their upstream ids and the
    /// delivery's context. `Err` says why nothing can be recalled (the last refusal, or
    /// "nothing to recall" when no part was sent).
    pub fn plan_recall_parts<'a>(
        &self,
        upstream_ids: impl IntoIterator<Item = &'a str>,
        context: &serde_json::Value,
    ) -> Result<RecallParts, String> {
        let mut calls = Vec::new();
        let mut refusal = None;
        for upstream_id in upstream_ids {
            match self.adapter.plan_recall(upstream_id, context) {
                RecallPlan::Call(p) => calls.push(self.laned(p)),
                RecallPlan::NotRecallable(reason) => refusal = Some(reason),
            }
        }
        if calls.is_empty() {
            return Err(refusal.unwrap_or_else(|| "nothing to recall".into()));
        }
        Ok(RecallParts { calls, refusal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_channel, ChannelConfig};
    use notify_core::{ChannelKind, Secret};

    fn welink(egress: Option<&str>) -> ChannelHandle {
        let mut c = ChannelConfig::of_kind(ChannelKind::Welink);
        c.client_id = Some("id1".into());
        c.client_secret = Some(Secret::new("s"));
        c.egress_group = egress.map(str::to_string);
        build_channel("wl", &c).unwrap()
    }

    #[test]
    fn welink_host_lanes_are_owned_per_egress_group() {
        let l = welink(None).lane("/messages/v1/send");
        assert_eq!(l.lane, "welink:id1|/messages/v1/send");
        assert_eq!(l.unit, "egress:default");
        assert_eq!(welink(Some("dc2")).lane("x").unit, "egress:dc2");
    }

    #[test]
    fn other_lanes_are_their_own_unit() {
        let log = build_channel("log", &ChannelConfig::of_kind(ChannelKind::Log)).unwrap();
        let l = log.lane("log");
        assert_eq!(l.lane, "log:log|log");
        assert_eq!(l.unit, l.lane);
        assert_eq!(l.channel, "log");
    }

    #[test]
    fn a_recall_of_nothing_says_so() {
        let e = welink(None)
            .plan_recall_parts([], &serde_json::Value::Null)
            .unwrap_err();
        assert_eq!(e, "nothing to recall");
    }
}

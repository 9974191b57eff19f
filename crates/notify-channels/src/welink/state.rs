//! Operations on a sent WeLink message: the state update (000_… lines 1329–1430) and the recall
//! (lines 1431–1518). What they need from the send is kept in the delivery's context.

use notify_core::{PartOp, PartPlan, StateColor};
use serde_json::{json, Map, Value};

use crate::support::fit::cn_en;
use crate::{RecallPlan, StateUpdate};

/// `POST /messages/v1/update` (line 1345).
pub const UPDATE: &str = "/messages/v1/update";
/// `POST /messages/v1/recall` (line 1449).
pub const RECALL: &str = "/messages/v1/recall";
/// `toUserList` of an update: at most 1000 users (line 1362).
const UPDATE_USERS_MAX: usize = 1000;

/// What a delivery keeps for later operations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// `publicAccID` of the send, which the update must repeat (line 1366).
    pub public_acc_id: Option<String>,
    /// The users it was sent to (the update's `toUserList`).
    pub users: Vec<String>,
    /// Sent with an initial state (only those can be updated: 51107, line 1422).
    pub has_state: bool,
    /// Some calls went to departments or roles.
    pub by_group: bool,
}

impl Context {
    /// As stored in [`notify_core::Plan::context`].
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(p) = &self.public_acc_id {
            m.insert("public_acc_id".into(), p.as_str().into());
        }
        m.insert("users".into(), json!(self.users));
        m.insert("has_state".into(), self.has_state.into());
        m.insert("by_group".into(), self.by_group.into());
        Value::Object(m)
    }

    /// Reads a stored context; missing keys are empty.
    pub fn from_value(v: &Value) -> Self {
        Self {
            public_acc_id: v
                .get("public_acc_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            users: v
                .get("users")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            has_state: v.get("has_state").and_then(Value::as_bool).unwrap_or(false),
            by_group: v.get("by_group").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

/// Update-time colours: 0 gray, 1 yellow, 2 green (line 1365).
fn update_color(c: StateColor) -> Result<&'static str, String> {
    match c {
        StateColor::Gray => Ok("0"),
        StateColor::Yellow => Ok("1"),
        StateColor::Green => Ok("2"),
        StateColor::Blue | StateColor::Orange => {
            Err("a state update's colour is gray, yellow or green".into())
        }
    }
}

/// The update of the card `item_id`, sent to `recipients` (empty: the delivery's users), or
/// why it cannot take one.
pub fn plan_state(
    item_id: &str,
    recipients: &[String],
    context: &Value,
    update: &StateUpdate,
) -> Result<PartPlan, String> {
    let ctx = Context::from_value(context);
    if !ctx.has_state {
        return Err(
            "this WeLink message was sent without a state; WeLink refuses to update stateless messages (51107)"
                .into(),
        );
    }
    if ctx.by_group {
        return Err(
            "this WeLink card was addressed by department or role; a state update names its users (toUserList), so it cannot take one"
                .into(),
        );
    }
    // Each sent call is updated with the users it went to: a card to more than 1000 users was
    // sent in several calls (one itemId each), and an update names at most 1000 (51018).
    let users = if recipients.is_empty() {
        ctx.users
    } else {
        recipients.to_vec()
    };
    if users.is_empty() {
        return Err("this WeLink card has no users to update".into());
    }
    if users.len() > UPDATE_USERS_MAX {
        return Err(format!(
            "a WeLink state update reaches at most {UPDATE_USERS_MAX} users (toUserList); this call went to {}",
            users.len()
        ));
    }
    let state = notify_core::Bilingual {
        zh: Some(update.zh.clone()),
        en: Some(update.en.clone()),
    };
    notify_core::validate::check_state_text(&state).map_err(|e| e.message)?;
    let mut body = Map::new();
    body.insert("toUserList".into(), json!(users));
    body.insert("itemId".into(), item_id.into());
    body.insert("messageStatus".into(), cn_en(&update.zh, &update.en).into());
    body.insert("statusColor".into(), update_color(update.color)?.into());
    if let Some(p) = ctx.public_acc_id {
        body.insert("publicAccID".into(), p.into());
    }
    Ok(PartPlan {
        op: PartOp::State,
        interface: UPDATE.into(),
        body: Value::Object(body),
        recipients: users,
        depends_on: None,
    })
}

/// The recall of `item_id` (line 1468: `itemId` alone).
pub fn plan_recall(item_id: &str) -> RecallPlan {
    if item_id.trim().is_empty() {
        return RecallPlan::NotRecallable("WeLink returned no itemId for this call".into());
    }
    RecallPlan::call(RECALL, json!({"itemId": item_id}))
}

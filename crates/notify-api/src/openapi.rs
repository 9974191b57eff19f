//! The OpenAPI 3 document (`GET /openapi.json`), built from the handlers' annotations and the
//! types themselves: the message and its targets (`notify-core`), the views (`notify-store`),
//! one target schema per channel kind (`notify_channels::targets`) and every error code.

use notify_channels::targets;
use notify_core::ChannelKind;
use utoipa::openapi::schema::{
    AdditionalProperties, Array, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail, ERROR_CODES};
use crate::routes::{
    ack, ack_page, actions, admin, alerts, batch, directory, docs, hooks, messages, system,
};
use crate::views::{AcceptedDelivery, AcceptedMessage, ActionAnswer, DeliveryAction};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "notify-gateway", description = "One API for WeLink, Xiaowei, WeCom and Juzi notifications. A guide with an example message per channel kind and type: docs/api.md in the repository."),
    paths(
        messages::create,
        batch::create_batch,
        messages::list,
        messages::get_one,
        actions::recall,
        actions::state,
        ack::ack,
        actions::retry,
        alerts::list,
        alerts::get_one,
        directory::put_person,
        directory::get_person,
        directory::delete_person,
        directory::list_people,
        directory::put_group,
        directory::get_group,
        directory::delete_group,
        directory::list_groups,
        admin::channels,
        admin::stats,
        hooks::receive,
        hooks::preview,
        system::healthz,
        system::readyz,
        system::metrics,
        system::openapi,
        docs::docs,
        ack_page::show,
        ack_page::submit,
    ),
    components(schemas(
        notify_core::MessageInput,
        notify_core::TargetInput,
        notify_store::MessageView,
        notify_store::MessageAlert,
        notify_store::AlertView,
        notify_store::AlertMessage,
        alerts::AlertPage,
        ErrorBody,
        ErrorDetail,
        AcceptedMessage,
        AcceptedDelivery,
        ActionAnswer,
        DeliveryAction,
        messages::MessagePage,
        batch::BatchRequest,
        batch::BatchAnswer,
        batch::BatchItem,
        batch::BatchStatus,
        actions::StateRequest,
        actions::RetryAnswer,
        ack::AckRequest,
        ack::AckAnswer,
        ack_page::AckForm,
        notify_store::StepView,
        directory::PersonBody,
        directory::PersonView,
        directory::PeopleAnswer,
        directory::GroupBody,
        directory::GroupView,
        directory::GroupsAnswer,
        admin::ChannelsAnswer,
        admin::ChannelStatus,
        admin::LaneStatus,
        admin::TokenStatus,
        admin::QuotaStatus,
        admin::StatsAnswer,
        system::Health,
        hooks::HookAnswer,
        hooks::HookMessage,
        crate::hooks::preview::HookPreview,
        crate::hooks::preview::PreviewMessage,
        crate::hooks::preview::PreviewTarget,
        crate::hooks::preview::PreviewStateUpdate,
        crate::hooks::preview::PreviewPart,
    )),
    modifiers(&Security, &TargetsPerKind, &ErrorCodes),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Access-Key",
                "With X-Timestamp (unix ms) and X-Signature = base64(HMAC-SHA256(secret_key, access_key \\n timestamp \\n METHOD \\n path_and_query \\n hex(sha256(body))))",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "hook_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The hook's own token ([hooks.NAME].token): Authorization: Bearer <token>, or the password of HTTP basic auth",
                    ))
                    .build(),
            ),
        );
    }
}

/// The schema name of a kind's targets: `wecom_workid` → `WecomWorkidTarget`.
pub fn target_schema_name(kind: notify_core::ChannelKind) -> String {
    let mut name: String = kind
        .as_str()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str("Target");
    name
}

/// One target schema per channel kind, cut from `TargetInput` with the fields the kind's
/// adapter accepts (`notify_channels::targets`) and its `type` names as an enum.
struct TargetsPerKind;

impl Modify for TargetsPerKind {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let Some(RefOr::T(Schema::Object(general))) = components.schemas.get("TargetInput") else {
            return;
        };
        let general = general.clone();
        let mut description = general.description.clone().unwrap_or_default();
        description.push_str("\n\nPer kind:\n");
        for kind in targets::KINDS {
            let spec = targets::spec(kind);
            let fields: Vec<String> = spec.fields.iter().map(|f| format!("`{f}`")).collect();
            description.push_str(&format!("\n- `{kind}`: {}", fields.join(", ")));
            if !spec.types.is_empty() {
                description.push_str(&format!("; `type` {}", spec.types.join(", ")));
            }
        }
        if let Some(RefOr::T(Schema::Object(t))) = components.schemas.get_mut("TargetInput") {
            t.description = Some(description);
        }
        for kind in targets::KINDS {
            let spec = targets::spec(kind);
            let mut b = ObjectBuilder::new()
                .description(Some(format!(
                    "A target on a channel of kind `{kind}`; any other field is refused (422 `not_supported`)."
                )))
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
            let fields = std::iter::once("channel").chain(spec.fields.iter().copied());
            for field in fields {
                if let Some(p) = general.properties.get(field) {
                    b = b.property(field, p.clone());
                }
            }
            if spec.fields.contains(&"raw") {
                b = b.property("raw", raw_schema(kind));
            }
            b = b.required("channel");
            if !spec.types.is_empty() {
                b = b.property(
                    "type",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(spec.types.iter().copied()))
                        .description(Some(
                            "The native message type; picked from the content when absent.",
                        )),
                );
            }
            components.schemas.insert(
                target_schema_name(kind),
                RefOr::T(Schema::Object(b.build())),
            );
        }
    }
}

/// `raw` on a kind's target: the upstream's own body, an object; Juzi also takes a list of
/// `SendParams`, one message each.
fn raw_schema(kind: ChannelKind) -> RefOr<Schema> {
    let native = || ObjectBuilder::new().schema_type(Type::Object);
    if let Some(list) = targets::spec(kind).raw_list {
        OneOfBuilder::new()
            .item(native())
            .item(Array::new(native()))
            .description(Some(list))
            .into()
    } else {
        native()
            .description(Some(format!(
                "The {kind} upstream's own body, sent as it is but for recipients and credentials."
            )))
            .into()
    }
}

/// Every error code with its status and meaning, on `ErrorDetail.code`.
struct ErrorCodes;

impl Modify for ErrorCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let Some(RefOr::T(Schema::Object(detail))) = components.schemas.get_mut("ErrorDetail")
        else {
            return;
        };
        let mut text = String::from("snake_case machine code. By status:\n");
        for (status, code, meaning) in ERROR_CODES {
            text.push_str(&format!("\n- {status} `{code}`: {meaning}"));
        }
        for (code, meaning) in notify_core::error::FIELD_CODES {
            text.push_str(&format!("\n- 422 `{code}`: {meaning}"));
        }
        if let Some(RefOr::T(Schema::Object(code))) = detail.properties.get_mut("code") {
            code.description = Some(text);
        }
    }
}

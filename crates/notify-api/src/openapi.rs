//! The OpenAPI 3 document (`GET /openapi.json`), built from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{actions, admin, batch, docs, messages, system};
use crate::views::{AcceptedDelivery, AcceptedMessage, ActionAnswer, DeliveryAction};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "notify-gateway", description = "One API for WeLink, Xiaowei, WeCom and Juzi notifications (see crates/notify-api/README.md)."),
    paths(
        messages::create,
        batch::create_batch,
        messages::list,
        messages::get_one,
        actions::recall,
        actions::state,
        actions::retry,
        admin::channels,
        admin::stats,
        system::healthz,
        system::readyz,
        system::metrics,
        system::openapi,
        docs::docs,
    ),
    components(schemas(
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
        admin::ChannelsAnswer,
        admin::ChannelStatus,
        admin::LaneStatus,
        admin::TokenStatus,
        admin::QuotaStatus,
        admin::StatsAnswer,
        system::Health,
    )),
    modifiers(&Security),
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
    }
}

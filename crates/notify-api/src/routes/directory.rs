//! The people-and-groups directory over the API (scope `admin`, contract §7):
//! `PUT/GET/DELETE /v1/people/{id}`, `GET /v1/people`, `PUT/GET/DELETE /v1/groups/{name}`,
//! `GET /v1/groups`. Each tenant has its own directory, which the messages of its callers use;
//! an admin edits its own tenant's, or another's with `?tenant=NAME`. The config file seeds
//! every configured caller's tenant.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use notify_core::FieldError;
use notify_store::directory::{DirectoryRefusal, Person};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{parse_json, ApiPath, ApiQuery, RawBody};
use crate::state::AppState;

/// The keys of a person, as in the config's `[people.ID]`.
pub const PERSON_KEYS: [&str; 4] = ["name", "welink", "wecom", "workid"];

/// `?tenant=`: whose directory (default: the caller's tenant).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// The tenant whose directory to read or edit (default: the caller's).
    pub tenant: Option<String>,
}

impl TenantQuery {
    /// The tenant meant.
    fn of(self, caller: &Caller) -> String {
        self.tenant.unwrap_or_else(|| caller.tenant.clone())
    }
}

/// Longest person id or group name, in bytes.
const MAX_NAME: usize = 128;

/// A person's ids on the channel kinds (`PUT /v1/people/{id}`), the keys of `[people.ID]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PersonBody {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// WeLink user id, also used for Xiaowei.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welink: Option<String>,
    /// WeCom app user id (`wecom_app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom: Option<String>,
    /// WeCom work ID (`wecom_workid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workid: Option<String>,
}

/// A person as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonView {
    /// The person's id in the directory (what targets' `people` name).
    pub id: String,
    /// Their ids.
    #[serde(flatten)]
    pub person: PersonBody,
}

/// `GET /v1/people`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeopleAnswer {
    /// Every person of the caller's tenant, by id.
    pub people: Vec<PersonView>,
}

/// A group's members (`PUT /v1/groups/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// Person ids, each already in the directory.
    pub members: Vec<String>,
}

/// A group as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    /// The group's name (what targets' `groups` name).
    pub name: String,
    /// Person ids.
    pub members: Vec<String>,
}

/// `GET /v1/groups`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupsAnswer {
    /// Every group of the caller's tenant, by name.
    pub groups: Vec<GroupView>,
}

impl From<Person> for PersonBody {
    fn from(p: Person) -> Self {
        Self {
            name: p.name,
            welink: p.welink,
            wecom: p.wecom,
            workid: p.workid,
        }
    }
}

impl From<PersonBody> for Person {
    fn from(p: PersonBody) -> Self {
        Self {
            name: p.name,
            welink: p.welink,
            wecom: p.wecom,
            workid: p.workid,
        }
    }
}

/// Reads a person body: an object of [`PERSON_KEYS`] with string values; any other key is a
/// 422 naming it.
pub fn parse_person(bytes: &[u8]) -> Result<PersonBody, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = parse_json(bytes)?;
    if let Some(key) = map.keys().find(|k| !PERSON_KEYS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            key.clone(),
            "invalid",
            format!(
                "unknown key {key:?}; a person takes {}",
                PERSON_KEYS.join(", ")
            ),
        ));
    }
    let person: PersonBody = parse_json(bytes)?;
    for (key, value) in [
        ("welink", &person.welink),
        ("wecom", &person.wecom),
        ("workid", &person.workid),
    ] {
        if let Some(v) = value {
            check_name(v).map_err(|e| ApiError::Invalid(e.under(key)))?;
        }
    }
    Ok(person)
}

/// A person id, group name or native id: 1 to 128 bytes without control characters.
fn check_name(name: &str) -> Result<(), FieldError> {
    if name.trim().is_empty() || name.len() > MAX_NAME {
        return Err(FieldError::new(
            "",
            "bad_length",
            format!("takes 1 to {MAX_NAME} bytes, not blank"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "",
            "invalid",
            "cannot hold control characters",
        ));
    }
    Ok(())
}

/// Creates or replaces a person of the caller's tenant.
#[utoipa::path(
    put,
    path = "/v1/people/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "The person's id (what targets' `people` name)"), TenantQuery),
    request_body(content = PersonBody, description = "The keys of `[people.ID]`; any other key is a 422 naming it", content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = PersonView),
        (status = 200, description = "Replaced", body = PersonView),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 422, description = "Unknown key or bad id, naming it", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn put_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
    ApiPath(id): ApiPath<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    check_name(&id).map_err(|e| ApiError::Invalid(e.under("id")))?;
    let person = parse_person(&body)?;
    let created = state
        .store()
        .people()
        .put_person(&tenant, &id, &person.clone().into())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(PersonView { id, person })).into_response())
}

/// One person of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/people/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "The person's id"), TenantQuery),
    responses(
        (status = 200, description = "The person", body = PersonView),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn get_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PersonView>, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    match state.store().people().person(&tenant, &id).await? {
        Some(p) => Ok(Json(PersonView {
            id,
            person: p.into(),
        })),
        None => Err(ApiError::NotFound(format!("no person {id:?}"))),
    }
}

/// Deletes a person of the caller's tenant; refused while a group names them.
#[utoipa::path(
    delete,
    path = "/v1/people/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "The person's id"), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "A group names the person (`person_in_group`)", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn delete_person(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    match state.store().people().delete_person(&tenant, &id).await? {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound(format!("no person {id:?}"))),
        Err(DirectoryRefusal::InGroups(groups)) => Err(ApiError::Conflict {
            code: "person_in_group",
            message: format!(
                "groups {} name {id:?}; take them out of the groups first",
                groups.join(", ")
            ),
        }),
        Err(DirectoryRefusal::UnknownMembers(_)) => {
            Err(ApiError::Internal("unexpected refusal".into()))
        }
    }
}

/// Every person of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/people",
    tag = "directory",
    params(TenantQuery),
    responses(
        (status = 200, description = "The people, by id", body = PeopleAnswer),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn list_people(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
) -> Result<Json<PeopleAnswer>, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    let people = state
        .store()
        .people()
        .list_people(&tenant)
        .await?
        .into_iter()
        .map(|(id, p)| PersonView {
            id,
            person: p.into(),
        })
        .collect();
    Ok(Json(PeopleAnswer { people }))
}

/// Creates or replaces a group of the caller's tenant; every member must be a person of it.
#[utoipa::path(
    put,
    path = "/v1/groups/{name}",
    tag = "directory",
    params(("name" = String, Path, description = "The group's name (what targets' `groups` name)"), TenantQuery),
    request_body(content = GroupBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = GroupView),
        (status = 200, description = "Replaced", body = GroupView),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 422, description = "An unknown member (`members[j]`, `unknown_person`) or key", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn put_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
    ApiPath(name): ApiPath<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    check_name(&name).map_err(|e| ApiError::Invalid(e.under("name")))?;
    let mut group: GroupBody = parse_json(&body)?;
    // Duplicates add nothing; the first place of each is kept.
    let mut seen = std::collections::HashSet::new();
    group.members.retain(|m| seen.insert(m.clone()));
    match state
        .store()
        .people()
        .put_group(&tenant, &name, &group.members)
        .await?
    {
        Ok(created) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let view = GroupView {
                name,
                members: group.members,
            };
            Ok((status, Json(view)).into_response())
        }
        Err(DirectoryRefusal::UnknownMembers(unknown)) => {
            let j = group
                .members
                .iter()
                .position(|m| unknown.contains(m))
                .unwrap_or(0);
            Err(ApiError::invalid(
                format!("members[{j}]"),
                "unknown_person",
                format!("the directory holds no person {:?}", group.members[j]),
            ))
        }
        Err(DirectoryRefusal::InGroups(_)) => Err(ApiError::Internal("unexpected refusal".into())),
    }
}

/// One group of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/groups/{name}",
    tag = "directory",
    params(("name" = String, Path, description = "The group's name"), TenantQuery),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<GroupView>, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    match state.store().people().group(&tenant, &name).await? {
        Some(members) => Ok(Json(GroupView { name, members })),
        None => Err(ApiError::NotFound(format!("no group {name:?}"))),
    }
}

/// Deletes a group of the caller's tenant.
#[utoipa::path(
    delete,
    path = "/v1/groups/{name}",
    tag = "directory",
    params(("name" = String, Path, description = "The group's name"), TenantQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    if state.store().people().delete_group(&tenant, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no group {name:?}")))
    }
}

/// Every group of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/groups",
    tag = "directory",
    params(TenantQuery),
    responses(
        (status = 200, description = "The groups, by name", body = GroupsAnswer),
        (status = 401, description = "Missing or bad credentials", body = ErrorBody),
        (status = 403, description = "Missing the admin scope", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    )
)]
pub async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TenantQuery>,
) -> Result<Json<GroupsAnswer>, ApiError> {
    caller.require("admin")?;
    let tenant = q.of(&caller);
    let groups = state
        .store()
        .people()
        .list_groups(&tenant)
        .await?
        .into_iter()
        .map(|(name, members)| GroupView { name, members })
        .collect();
    Ok(Json(GroupsAnswer { groups }))
}

//! The people-and-groups directory (contract §7): a person's id on each channel kind and named
//! groups of people, one directory per tenant. Ingress reads a tenant's whole directory for a
//! message that names people or groups (directories are small: people, not customers), so a
//! change affects only messages accepted after it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, StoreError};

/// The directory role ([`Store::people`]): a tenant's people and groups, read whole by ingress
/// and edited one by one by `/v1/directory`, and the seed from config. Named `People` so it
/// does not clash with the [`Directory`] value that [`People::directory`] returns. Used by
/// `notify-api` (ingress and the directory routes) and `notify-gateway` (the seed at start).
#[derive(Debug, Clone, Copy)]
pub struct People<'s> {
    pub(crate) store: &'s Store,
}

/// A person: their ids on the channel kinds (each optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Display name.
    pub name: Option<String>,
    /// WeLink user id (also Xiaowei's).
    pub welink: Option<String>,
    /// WeCom app user id.
    pub wecom: Option<String>,
    /// WeCom work ID.
    pub workid: Option<String>,
}

/// One tenant's directory as ingress reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// People by id.
    pub people: BTreeMap<String, Person>,
    /// Group name → member person ids, in the order they were given.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// Why a directory write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryRefusal {
    /// A group names people the directory does not hold (their ids).
    UnknownMembers(Vec<String>),
    /// The person is a member of these groups, so deleting them would break the groups.
    InGroups(Vec<String>),
}

impl People<'_> {
    /// The whole directory of `tenant`.
    pub async fn directory(self, tenant: &str) -> Result<Directory, StoreError> {
        Ok(Directory {
            people: self.list_people(tenant).await?.into_iter().collect(),
            groups: self.list_groups(tenant).await?.into_iter().collect(),
        })
    }

    /// The people of `tenant`, by id.
    pub async fn list_people(self, tenant: &str) -> Result<Vec<(String, Person)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, welink, wecom, workid FROM directory_people WHERE tenant = $1 ORDER BY id",
        )
        .bind(tenant)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    Person {
                        name: r.try_get(1)?,
                        welink: r.try_get(2)?,
                        wecom: r.try_get(3)?,
                        workid: r.try_get(4)?,
                    },
                ))
            })
            .collect()
    }

    /// One person of `tenant`.
    pub async fn person(self, tenant: &str, id: &str) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query(
            "SELECT name, welink, wecom, workid FROM directory_people WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        row.map(|r| {
            Ok(Person {
                name: r.try_get(0)?,
                welink: r.try_get(1)?,
                wecom: r.try_get(2)?,
                workid: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Creates or replaces a person. Returns true when the person is new.
    pub async fn put_person(
        self,
        tenant: &str,
        id: &str,
        person: &Person,
    ) -> Result<bool, StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        let existed: Option<String> =
            sqlx::query_scalar("SELECT id FROM directory_people WHERE tenant = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO directory_people (tenant, id, name, welink, wecom, workid, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, welink = excluded.welink, \
             wecom = excluded.wecom, workid = excluded.workid, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(id)
        .bind(&person.name)
        .bind(&person.welink)
        .bind(&person.wecom)
        .bind(&person.workid)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    /// Deletes a person unless a group names them. `Ok(Ok(false))`: there was no such person.
    pub async fn delete_person(
        self,
        tenant: &str,
        id: &str,
    ) -> Result<Result<bool, DirectoryRefusal>, StoreError> {
        let mut tx = self.store.begin_tx().await?;
        let in_groups: Vec<String> = groups_rows(&mut tx, tenant)
            .await?
            .into_iter()
            .filter(|(_, members)| members.iter().any(|m| m == id))
            .map(|(name, _)| name)
            .collect();
        if !in_groups.is_empty() {
            return Ok(Err(DirectoryRefusal::InGroups(in_groups)));
        }
        let n = sqlx::query("DELETE FROM directory_people WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Ok(n > 0))
    }

    /// The groups of `tenant`, by name.
    pub async fn list_groups(self, tenant: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut conn = self.store.pool.acquire().await?;
        groups_rows(&mut conn, tenant).await
    }

    /// One group's members.
    pub async fn group(self, tenant: &str, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        let members: Option<String> = sqlx::query_scalar(
            "SELECT members FROM directory_groups WHERE tenant = $1 AND name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_optional(&self.store.pool)
        .await?;
        members.map(|m| members_of(name, &m)).transpose()
    }

    /// Creates or replaces a group, if every member is a person of the tenant. Returns true
    /// when the group is new.
    pub async fn put_group(
        self,
        tenant: &str,
        name: &str,
        members: &[String],
    ) -> Result<Result<bool, DirectoryRefusal>, StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        let known: Vec<String> =
            sqlx::query_scalar("SELECT id FROM directory_people WHERE tenant = $1")
                .bind(tenant)
                .fetch_all(&mut *tx)
                .await?;
        let unknown: Vec<String> = members
            .iter()
            .filter(|m| !known.contains(m))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Ok(Err(DirectoryRefusal::UnknownMembers(unknown)));
        }
        let existed: Option<String> =
            sqlx::query_scalar("SELECT name FROM directory_groups WHERE tenant = $1 AND name = $2")
                .bind(tenant)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO directory_groups (tenant, name, members, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, name) DO UPDATE SET members = excluded.members, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(name)
        .bind(serde_json::to_string(members).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(existed.is_none()))
    }

    /// Deletes a group. Returns false when there was no such group.
    pub async fn delete_group(self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM directory_groups WHERE tenant = $1 AND name = $2")
            .bind(tenant)
            .bind(name)
            .execute(&self.store.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Writes the configured directory into `tenant` in one transaction: each configured
    /// person and group replaces the stored one of the same id (the config file wins at every
    /// start); people and groups only the API created are kept.
    pub async fn seed_directory(self, tenant: &str, seed: &Directory) -> Result<(), StoreError> {
        let now = self.store.now_ms();
        let mut tx = self.store.begin_tx().await?;
        for (id, p) in &seed.people {
            sqlx::query(
                "INSERT INTO directory_people (tenant, id, name, welink, wecom, workid, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, \
                 welink = excluded.welink, wecom = excluded.wecom, workid = excluded.workid, \
                 updated_at = excluded.updated_at",
            )
            .bind(tenant)
            .bind(id)
            .bind(&p.name)
            .bind(&p.welink)
            .bind(&p.wecom)
            .bind(&p.workid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for (name, members) in &seed.groups {
            sqlx::query(
                "INSERT INTO directory_groups (tenant, name, members, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant, name) DO UPDATE SET members = excluded.members, \
                 updated_at = excluded.updated_at",
            )
            .bind(tenant)
            .bind(name)
            .bind(serde_json::to_string(members).unwrap_or_else(|_| "[]".into()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn groups_rows(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let rows =
        sqlx::query("SELECT name, members FROM directory_groups WHERE tenant = $1 ORDER BY name")
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let members: String = r.try_get(1)?;
            let members = members_of(&name, &members)?;
            Ok((name, members))
        })
        .collect()
}

fn members_of(name: &str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt_json(format!("members of group {name:?}"), e))
}

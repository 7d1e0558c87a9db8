//! Who the key is: its organizations, the selected one, and its own administrator.

use serde::{Deserialize, Serialize};

use super::{CredentialKind, JumpCloudClient, JumpCloudError, ListRequest};

const LABEL: &str = "identity";

/// An organization the key can reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
}

/// The administrator the key belongs to, or the service account a token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Administrator {
    pub id: String,
    /// Empty for a service account.
    pub email: String,
    pub role_name: Option<String>,
    pub key_expires_at: Option<jiff::Timestamp>,
    /// A service account's name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub service_account: bool,
}

/// What `identify` learned about the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub organizations: Vec<Org>,
    /// The organization this client acts on.
    pub org: Org,
    /// `None` when `GET /api/users/getSelf` (undocumented) is not available.
    pub administrator: Option<Administrator>,
}

#[derive(Deserialize)]
struct OrgRecord {
    #[serde(rename = "_id", default)]
    underscore_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct SelfRecord {
    #[serde(rename = "_id", default)]
    underscore_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(rename = "roleName", default)]
    role_name: Option<String>,
    #[serde(rename = "apiKeyHash", default)]
    api_key_hash: Option<ApiKeyHash>,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "serviceAccount", default)]
    service_account: Option<bool>,
}

#[derive(Deserialize)]
struct ApiKeyHash {
    #[serde(rename = "expireAt", default)]
    expire_at: Option<String>,
}

/// Chooses the organization to act on. Pure.
pub fn select_org(organizations: &[Org], org_id: Option<&str>) -> Result<Org, JumpCloudError> {
    match (org_id, organizations) {
        (_, []) => Err(JumpCloudError::NoOrganization),
        (Some(wanted), orgs) => orgs
            .iter()
            .find(|org| org.id == wanted)
            .cloned()
            .ok_or_else(|| JumpCloudError::OrgNotAccessible {
                org_id: wanted.to_owned(),
            }),
        (None, [only]) => Ok(only.clone()),
        (None, orgs) => Err(JumpCloudError::OrgIdRequired { count: orgs.len() }),
    }
}

fn parse_org(parsed: OrgRecord) -> Result<Org, JumpCloudError> {
    let malformed = |detail: String| JumpCloudError::MalformedResponse {
        endpoint: "/api/organizations".to_owned(),
        offset: 0,
        detail,
    };
    let id = parsed
        .underscore_id
        .or(parsed.id)
        .ok_or_else(|| malformed("an organization has no _id".to_owned()))?;
    let name = parsed.display_name.or(parsed.name).unwrap_or_default();
    Ok(Org { id, name })
}

fn parse_admin(record: SelfRecord) -> Option<Administrator> {
    let id = record.underscore_id.or(record.id)?;
    let key_expires_at = record
        .api_key_hash
        .and_then(|hash| hash.expire_at)
        .and_then(|text| text.parse::<jiff::Timestamp>().ok());
    Some(Administrator {
        id,
        email: record.email.unwrap_or_default(),
        role_name: record.role_name,
        key_expires_at,
        name: record.name,
        service_account: record.service_account == Some(true),
    })
}

/// Everything `identify` learns but the selection: what the key reaches and whose it is. The
/// same for every `orgId` (neither request carries `x-org-id`), so one answer serves all the
/// connections of a multi-tenant key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReach {
    pub organizations: Vec<Org>,
    pub administrator: Option<Administrator>,
}

impl KeyReach {
    /// The identity for `org_id` (see [`select_org`]). Pure.
    pub fn select(&self, org_id: Option<&str>) -> Result<Identity, JumpCloudError> {
        let org = select_org(&self.organizations, org_id)?;
        Ok(Identity {
            organizations: self.organizations.clone(),
            org,
            administrator: self.administrator.clone(),
        })
    }
}

impl JumpCloudClient {
    /// Identifies the key: [`JumpCloudClient::reach`], then the selection of this client's
    /// organization.
    pub async fn identify(&self) -> Result<Identity, JumpCloudError> {
        self.reach().await?.select(self.org_id())
    }

    /// `GET /api/organizations` (never with `x-org-id`) and the undocumented
    /// `GET /api/users/getSelf` (its absence is tolerated). Fails as [`KeyReach::select`] would
    /// for this client's organization, before asking getSelf: one request less when the
    /// selection cannot succeed.
    pub async fn reach(&self) -> Result<KeyReach, JumpCloudError> {
        let records: Vec<OrgRecord> = self
            .list_all(ListRequest::v1(LABEL, "/api/organizations"))
            .await?;
        let organizations = records
            .into_iter()
            .map(parse_org)
            .collect::<Result<Vec<_>, _>>()?;
        select_org(&organizations, self.org_id())?;
        let administrator = match self
            .get_json::<SelfRecord>(LABEL, "/api/users/getSelf", &[])
            .await
        {
            Ok(record) => parse_admin(record),
            // Undocumented route: missing, or answering in a shape we do not know.
            Err(JumpCloudError::NotFound { .. } | JumpCloudError::MalformedResponse { .. }) => None,
            Err(JumpCloudError::BadRequest { status: 405, .. }) => None,
            // JumpCloud does not document getSelf for service accounts; the organization
            // listing just accepted the token, so a refusal here says nothing about it.
            Err(JumpCloudError::TokenRefused { .. } | JumpCloudError::Forbidden { .. })
                if self.credential_kind() == CredentialKind::ServiceAccount =>
            {
                None
            }
            Err(error) => return Err(error),
        };
        Ok(KeyReach {
            organizations,
            administrator,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> Org {
        Org {
            id: id.to_owned(),
            name: format!("Org {id}"),
        }
    }

    #[test]
    fn selects_the_single_org_or_the_requested_one() {
        assert_eq!(select_org(&[org("a")], None).unwrap(), org("a"));
        assert_eq!(select_org(&[org("a")], Some("a")).unwrap(), org("a"));
        assert_eq!(
            select_org(&[org("a"), org("b")], Some("b")).unwrap(),
            org("b")
        );
    }

    #[test]
    fn multi_tenant_without_org_id_is_a_typed_error() {
        let error = select_org(&[org("a"), org("b")], None).unwrap_err();
        assert_eq!(error, JumpCloudError::OrgIdRequired { count: 2 });
        assert!(error.to_string().contains("--org-id"));
        assert!(!error.to_string().contains("Org a"));
        assert_eq!(
            select_org(&[org("a")], Some("z")).unwrap_err().reason(),
            "OrgNotAccessible"
        );
        assert_eq!(
            select_org(&[], None).unwrap_err().reason(),
            "NoOrganization"
        );
    }

    #[test]
    fn parses_org_and_admin_records_leniently() {
        let record: OrgRecord =
            serde_json::from_str(r#"{"_id":"o1","displayName":"Acme","logoUrl":""}"#).unwrap();
        assert_eq!(
            parse_org(record).unwrap(),
            Org {
                id: "o1".into(),
                name: "Acme".into()
            }
        );
        let record: SelfRecord = serde_json::from_str(
            r#"{"_id":"u1","email":"a@b.c","roleName":"Read Only",
                "apiKeyHash":{"prefix":"jca_x","expireAt":"2027-01-01T00:00:00Z"}}"#,
        )
        .unwrap();
        let admin = parse_admin(record).unwrap();
        assert_eq!(admin.role_name.as_deref(), Some("Read Only"));
        assert_eq!(
            admin.key_expires_at.unwrap().to_string(),
            "2027-01-01T00:00:00Z"
        );
        let account: SelfRecord = serde_json::from_str(
            r#"{"_id":"s1","name":"evidence","roleName":"Read Only","serviceAccount":true}"#,
        )
        .unwrap();
        let account = parse_admin(account).unwrap();
        assert!(account.service_account);
        assert_eq!(account.name.as_deref(), Some("evidence"));
        assert_eq!(account.email, "");
        let bare: SelfRecord = serde_json::from_str(r#"{"id":"u2"}"#).unwrap();
        assert_eq!(parse_admin(bare).unwrap().key_expires_at, None);
    }

    /// JumpCloud leaves absent values out; other servers send `null`. Both read the same.
    #[test]
    fn an_absent_field_and_a_null_one_read_alike() {
        let org = |text: &str| parse_org(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(
            org(r#"{"_id":"o1"}"#),
            org(r#"{"_id":"o1","id":null,"displayName":null,"name":null,"accountType":null}"#)
        );
        let admin = |text: &str| parse_admin(serde_json::from_str(text).unwrap());
        let absent = admin(r#"{"_id":"u1"}"#);
        assert_eq!(
            absent,
            admin(
                r#"{"_id":"u1","id":null,"email":null,"roleName":null,"apiKeyHash":null,
                    "name":null,"serviceAccount":null}"#
            )
        );
        assert_eq!(
            absent,
            admin(r#"{"_id":"u1","apiKeyHash":{"prefix":null,"expireAt":null}}"#)
        );
        assert_eq!(absent.unwrap().role_name, None);
        // An organization without an id is refused whichever way it is missing.
        for text in [r#"{"displayName":"Acme"}"#, r#"{"_id":null,"id":null}"#] {
            let record: OrgRecord = serde_json::from_str(text).unwrap();
            assert_eq!(parse_org(record).unwrap_err().reason(), "MalformedResponse");
        }
    }
}

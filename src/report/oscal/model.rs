//! The subset of the OSCAL 1.1.2 model the assessment plan and results use, as serde types
//! named and nested as in the OSCAL JSON schema (kebab-case keys, empty lists left out).

use serde::Serialize;

/// `metadata` of a document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    pub title: String,
    pub last_modified: jiff::Timestamp,
    pub version: String,
    pub oscal_version: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Prop>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<Party>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
}

/// `import-ap` of the results, `import-ssp` of the plan: the document imported.
#[derive(Debug, Serialize)]
pub struct Import {
    pub href: String,
    pub remarks: String,
}

/// A `prop`. OSCAL refuses a blank, space-padded or multi-line `value`; [`Prop::ours`]
/// normalises the spaces and leaves blank ones out.
#[derive(Debug, Clone, Serialize)]
pub struct Prop {
    pub name: &'static str,
    pub ns: &'static str,
    pub value: String,
    #[serde(rename = "class", skip_serializing_if = "Option::is_none")]
    pub class: Option<&'static str>,
}

impl Prop {
    /// A prop in our namespace, or none when the value is blank.
    pub fn ours(name: &'static str, value: impl Into<String>) -> Option<Prop> {
        let value = value
            .into()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        (!value.is_empty()).then_some(Prop {
            name,
            ns: super::NS,
            value,
            class: None,
        })
    }

    pub fn with_class(mut self, class: &'static str) -> Prop {
        self.class = Some(class);
        self
    }
}

/// A `party` of the metadata (the JumpCloud organization).
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Party {
    pub uuid: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Prop>,
}

/// `reviewed-controls`: which controls an assessment covers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReviewedControls {
    pub description: String,
    pub control_selections: Vec<ControlSelection>,
}

/// One `control-selections` entry: here always one control, so that it carries that control's
/// framework references as props.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ControlSelection {
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Prop>,
    pub include_controls: Vec<SelectControl>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SelectControl {
    pub control_id: String,
}

#[derive(Debug, Serialize)]
pub struct BackMatter {
    pub resources: Vec<Resource>,
}

/// A `back-matter` resource: a document or blob, located by `rlinks` with its hashes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Resource {
    pub uuid: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Prop>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rlinks: Vec<Rlink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<Base64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Rlink {
    pub href: String,
    pub media_type: &'static str,
    pub hashes: Vec<Hash>,
}

#[derive(Debug, Serialize)]
pub struct Hash {
    pub algorithm: &'static str,
    pub value: String,
}

impl Hash {
    pub fn sha256(hex: &str) -> Hash {
        Hash {
            algorithm: "SHA-256",
            value: hex.to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Base64 {
    pub filename: &'static str,
    pub media_type: &'static str,
    pub value: String,
}

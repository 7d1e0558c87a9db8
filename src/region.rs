//! JumpCloud regions: part of the public contract (which host answers for which org), not of the
//! client's implementation. The simulator crate has its own copy of the three names (it cannot
//! depend on this crate); the conversions below are the only bridge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A JumpCloud region. Each org lives in exactly one; a key sent to another region's host is
/// rejected with 401 as if it did not exist.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Us,
    Eu,
    In,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Us, Region::Eu, Region::In];

    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::In => "in",
        }
    }

    /// Console host (v1 and v2 APIs live under `/api` and `/api/v2`).
    pub fn console_base(self) -> &'static str {
        match self {
            Region::Us => "https://console.jumpcloud.com",
            Region::Eu => "https://console.eu.jumpcloud.com",
            Region::In => "https://console.in.jumpcloud.com",
        }
    }

    /// The OAuth 2.0 token endpoint of service accounts. JumpCloud documents the US and EU
    /// hosts; for India none is published, so a connection there names it (`tokenUrl`) rather
    /// than have the client guess where to send a client secret.
    pub fn token_url(self) -> Option<&'static str> {
        match self {
            Region::Us => Some("https://admin-oauth.id.jumpcloud.com/oauth2/token"),
            Region::Eu => Some("https://admin-oauth.id.eu.jumpcloud.com/oauth2/token"),
            Region::In => None,
        }
    }

    /// Directory Insights base URL (events API).
    pub fn insights_base(self) -> &'static str {
        match self {
            Region::Us => "https://api.jumpcloud.com/insights/directory/v1",
            Region::Eu => "https://api.eu.jumpcloud.com/insights/directory/v1",
            Region::In => "https://api.in.jumpcloud.com/insights/directory/v1",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Region> for jumpcloud_simulator::Region {
    fn from(region: Region) -> Self {
        match region {
            Region::Us => jumpcloud_simulator::Region::Us,
            Region::Eu => jumpcloud_simulator::Region::Eu,
            Region::In => jumpcloud_simulator::Region::In,
        }
    }
}

impl From<jumpcloud_simulator::Region> for Region {
    fn from(region: jumpcloud_simulator::Region) -> Self {
        match region {
            jumpcloud_simulator::Region::Us => Region::Us,
            jumpcloud_simulator::Region::Eu => Region::Eu,
            jumpcloud_simulator::Region::In => Region::In,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown region {0:?}: expected one of us, eu, in")]
pub struct UnknownRegion(String);

impl FromStr for Region {
    type Err = UnknownRegion;

    // Exact match only: a loose substring match once routed other hosts to India
    // (jcapi-powershell PR #97).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            "in" => Ok(Region::In),
            _ => Err(UnknownRegion(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_region_names_only() {
        assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
        assert_eq!(" in ".parse::<Region>().unwrap(), Region::In);
        assert!("india".parse::<Region>().is_err());
        assert!("console.in.jumpcloud.com".parse::<Region>().is_err());
    }

    #[test]
    fn every_region_has_distinct_hosts() {
        let consoles: std::collections::HashSet<_> =
            Region::ALL.iter().map(|r| r.console_base()).collect();
        let insights: std::collections::HashSet<_> =
            Region::ALL.iter().map(|r| r.insights_base()).collect();
        assert_eq!(consoles.len(), 3);
        assert_eq!(insights.len(), 3);
    }

    #[test]
    fn converts_to_and_from_the_simulators_region_by_name() {
        for region in Region::ALL {
            let simulated = jumpcloud_simulator::Region::from(region);
            assert_eq!(simulated.as_str(), region.as_str());
            assert_eq!(Region::from(simulated), region);
        }
    }
}

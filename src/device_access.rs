//! Whether the `device_access` evidence kind is collected: the setting the CRD
//! (`spec.evidence.deviceAccess`, `deviceAccessMaxDevices`), `collect --device-access` and the
//! collector share, and the pure decision over an org's device count. The kind costs one
//! request per device (`GET /api/v2/systems/{id}/users`), so by default a large org skips it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most devices for which `auto` collects device access: 1,000 devices are 1,000 more requests,
/// about a minute at JumpCloud's usual pace, which a sync every few hours affords.
pub const DEFAULT_MAX_DEVICES: u32 = 1_000;

/// When device access is collected (who may log in to each device, with sudo:
/// `GET /api/v2/systems/{id}/users`, one request per device): `auto` (default) when the org has
/// at most deviceAccessMaxDevices devices, `always`, or `never`. A skipped kind is recorded in
/// the manifest (status `skipped`, with the reason) and the controls that need it report an
/// error.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "camelCase")]
pub enum DeviceAccessMode {
    /// Collected when the org has at most `deviceAccessMaxDevices` devices (default 1000).
    #[default]
    Auto,
    /// Always collected, one request per device.
    Always,
    /// Never collected: the manifest records the kind as skipped.
    Never,
}

impl DeviceAccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceAccessMode::Auto => "auto",
            DeviceAccessMode::Always => "always",
            DeviceAccessMode::Never => "never",
        }
    }
}

/// The setting in effect for one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAccess {
    pub mode: DeviceAccessMode,
    /// The most devices `auto` collects for.
    pub max_devices: u32,
}

impl Default for DeviceAccess {
    fn default() -> Self {
        DeviceAccess {
            mode: DeviceAccessMode::Auto,
            max_devices: DEFAULT_MAX_DEVICES,
        }
    }
}

impl DeviceAccess {
    /// `None` to collect for an org of `devices` devices; otherwise why it is skipped, naming
    /// the setting, the count and the fix (recorded as the kind's reason in the manifest).
    pub fn skip_reason(&self, devices: u64) -> Option<String> {
        match self.mode {
            DeviceAccessMode::Always => None,
            DeviceAccessMode::Auto if devices <= u64::from(self.max_devices) => None,
            DeviceAccessMode::Auto => Some(format!(
                "skipped: device access costs one request per device and the org has {devices} devices, more than deviceAccessMaxDevices ({}) with deviceAccess auto; set spec.evidence.deviceAccess (collect --device-access) to always, or raise spec.evidence.deviceAccessMaxDevices (collect --device-access-max-devices), to collect it",
                self.max_devices
            )),
            DeviceAccessMode::Never => Some(format!(
                "skipped: deviceAccess is never ({devices} devices); set spec.evidence.deviceAccess (collect --device-access) to auto or always to collect it"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_collects_up_to_the_threshold_always_and_never_ignore_it() {
        let auto = DeviceAccess {
            mode: DeviceAccessMode::Auto,
            max_devices: 10,
        };
        assert_eq!(auto.skip_reason(10), None);
        let reason = auto.skip_reason(11).unwrap();
        assert!(
            reason.contains("11 devices") && reason.contains("deviceAccessMaxDevices (10)"),
            "{reason}"
        );
        assert!(reason.contains("always"), "{reason}");
        let always = DeviceAccess {
            mode: DeviceAccessMode::Always,
            ..auto
        };
        assert_eq!(always.skip_reason(1_000_000), None);
        let never = DeviceAccess {
            mode: DeviceAccessMode::Never,
            ..auto
        };
        let reason = never.skip_reason(0).unwrap();
        assert!(reason.contains("deviceAccess is never"), "{reason}");
        assert_eq!(DeviceAccess::default().max_devices, DEFAULT_MAX_DEVICES);
    }

    #[test]
    fn the_mode_reads_only_its_three_names() {
        for (text, mode) in [
            ("\"auto\"", DeviceAccessMode::Auto),
            ("\"always\"", DeviceAccessMode::Always),
            ("\"never\"", DeviceAccessMode::Never),
        ] {
            assert_eq!(
                serde_json::from_str::<DeviceAccessMode>(text).unwrap(),
                mode
            );
            assert_eq!(format!("\"{}\"", mode.as_str()), text);
        }
        assert!(serde_json::from_str::<DeviceAccessMode>("\"sometimes\"").is_err());
    }
}

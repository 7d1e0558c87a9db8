//! Evidence kind names, as `collect` writes them, for the controls that read them.

pub const ORGANIZATION: &str = "organization";
pub const ADMINISTRATORS: &str = "administrators";
pub const USERS: &str = "users";
pub const DEVICES: &str = "devices";
pub const SI_DISK_ENCRYPTION: &str = "system_insights_disk_encryption";
pub const SI_BITLOCKER: &str = "system_insights_bitlocker_info";
pub const SI_ALF: &str = "system_insights_alf";
pub const SI_SECURITY_CENTER: &str = "system_insights_windows_security_center";
pub const SI_SECURITY_PRODUCTS: &str = "system_insights_windows_security_products";
pub const SI_OS_VERSION: &str = "system_insights_os_version";
pub const POLICY_DETAILS: &str = "policy_details";
pub const POLICY_STATUSES: &str = "policy_statuses";
pub const APPLICATIONS: &str = "applications";
pub const USER_GROUPS: &str = "user_groups";
pub const USER_GROUP_MEMBERS: &str = "user_group_members";
pub const DEVICE_GROUP_MEMBERS: &str = "device_group_members";
pub const SUSPENDED_USER_SYSTEMS: &str = "suspended_user_systems";
pub const SUSPENDED_USER_APPLICATIONS: &str = "suspended_user_applications";
pub const SUSPENDED_USER_GROUPS: &str = "suspended_user_groups";
pub const AUTHN_POLICIES: &str = "authn_policies";
pub const DI_EVENTS: &str = "directory_insights_events";
pub const DEVICE_ACCESS: &str = "device_access";
pub const POLICY_RESULTS_HISTORY: &str = "policy_results_history";

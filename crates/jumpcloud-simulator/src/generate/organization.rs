//! The organization's own record (`/api/organizations/{id}`): settings, features, password policy.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::draw::{days, fmt_ts};

pub(super) fn org_record(
    id: &str,
    name: &str,
    domain: &str,
    created: Timestamp,
    users: usize,
    now: Timestamp,
) -> Value {
    let password_policy = json!({
        "minLength": 10, "enableMinLength": true,
        "needsLowercase": true, "needsUppercase": true, "needsNumeric": true, "needsSymbolic": false,
        "passwordExpirationInDays": 90, "enablePasswordExpirationInDays": true,
        "maxHistory": 5, "enableMaxHistory": true,
        "maxLoginAttempts": 10, "enableMaxLoginAttempts": true,
        "lockoutTimeInSeconds": 600, "enableLockoutTimeInSeconds": true,
        "resetLockoutCounterMinutes": 10, "enableResetLockoutCounter": true,
        "minChangePeriodInDays": 1, "enableMinChangePeriodInDays": true,
        "disallowCommonlyUsedPasswords": true, "disallowSequentialOrRepetitiveChars": true,
        "allowUsernameSubstring": false, "daysBeforeExpirationToForceReset": 7,
        "enableDaysBeforeExpirationToForceReset": true,
        "allowUnenrolledMFAPasswordReset": false, "enableRecoveryEmail": true,
        "effectiveDate": fmt_ts(created + days(30)), "gracePeriodDate": fmt_ts(created + days(44)),
    });
    json!({
        "_id": id, "id": id, "displayName": name, "logoUrl": "", "created": fmt_ts(created),
        // No `accountType`: JumpCloud returns it only when asked for through `fields`, and
        // `standard` is not one of its documented values.
        "provider": Value::Null, "hasStripeCustomerId": true,
        "entitlement": {"billingModel": "per_user", "isManuallyBilled": false, "pricePerUserSum": 0,
                        "entitlementProducts": [{"name": "Platform Prime", "productCategory": "directory", "committedUsers": users.max(10), "maxUserCount": users.max(10) * 2, "pricePerUser": 0}]},
        "settings": {
            "name": name, "contactName": "IT Team", "contactEmail": format!("it@{domain}"),
            "emailDisclaimer": "", "logo": "", "pendingDelete": false,
            "requireAdminMFA": true, "passwordCompliance": "custom", "systemUserPasswordExpirationInDays": 90,
            "systemUsersCanEdit": true, "systemUsersCap": 0, "disableLdap": false, "enableGoogleApps": false,
            "userPortal": {"idleSessionDurationMinutes": 60, "cookieExpirationType": "session"},
            "features": {
                "systemInsights": {"enabled": true, "enableNewDarwin": true, "enableNewWindows": true, "enableNewLinux": true,
                                   "createdAt": fmt_ts(created), "updatedAt": fmt_ts(now - days(200))},
                "directoryInsights": {"enabled": true},
                "directoryInsightsPremium": {"enabled": false},
            },
            "windowsMDM": {"enabled": true, "autoEnroll": false},
            "newSystemUserStateDefaults": {"applicationImport": "STAGED", "csvImport": "STAGED", "manualEntry": "ACTIVATED"},
            "passwordPolicy": password_policy,
        },
    })
}

//! The settings a profile and a user entry share — `licenses`, `disabled_plans`, `mailbox`,
//! `usage_location`, `sign_in` — declared in one place: their TOML shape in both tables (and
//! so the JSON schema), their validation with file:line:column and a hint, inheritance (the
//! entry's value over the profile's) and the check that a profile still contributes.
//!
//! A new setting starts with a line in `settings_list!` and a field of [`Settings`]. Every
//! step here names every field (no `..`), so the compiler points at each of them in turn and
//! then at the consumers that must decide something per setting: the resolver (which
//! destructures [`Inherited`] and [`Settings`]), the planner (which destructures
//! `DesiredUser`) and `export` (which matches [`Setting`]).

use super::load::{Builder, Source};
use super::raw::{RawDisabledPlans, RawLicenses};
use super::suggest;
use super::{Config, DisabledPlans, LicenseList, Located, MailboxIntent};
use crate::diag::Diagnostic;
use crate::tenant::MailboxType;
use crate::tenant::ops::SignIn;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;

/// Declares the closed list of settings: the [`Setting`] enum, its keys and `Setting::ALL`.
macro_rules! settings_list {
    ($($variant:ident = $key:literal),* $(,)?) => {
        /// One setting of a profile or user entry, by its TOML key: what consumers that decide
        /// something per setting match on exhaustively.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Setting {
            $(
                #[doc = concat!("`", $key, "`.")]
                $variant,
            )*
        }

        impl Setting {
            /// Every setting, in the order messages list them.
            pub const ALL: &'static [Setting] = &[$(Setting::$variant),*];

            /// The TOML key.
            pub fn key(self) -> &'static str {
                match self {
                    $(Setting::$variant => $key,)*
                }
            }
        }
    };
}

settings_list! {
    Licenses = "licenses",
    Mailbox = "mailbox",
    UsageLocation = "usage_location",
    SignIn = "sign_in",
    DisabledPlans = "disabled_plans",
}

/// `[profiles.NAME]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// Exactly these managed SKUs (direct assignments), or "keep". Omitted = not managed.
    pub licenses: Option<RawLicenses>,
    /// Service plan names to disable, per SKU alias. A SKU left out = its disabled plans are not managed.
    #[schemars(with = "Option<BTreeMap<String, Vec<String>>>")]
    pub disabled_plans: Option<Spanned<RawDisabledPlans>>,
    /// Mailbox type: `user`, `shared`, `room` or `equipment`; or `delete` to accept that a user
    /// mailbox loses its last Exchange licence (deleted after 30 days). Omitted = not managed.
    #[schemars(with = "Option<String>", extend("enum" = MailboxIntent::names()))]
    pub mailbox: Option<Spanned<String>>,
    /// Sign-in to the account: `blocked` (`accountEnabled` false; Microsoft recommends it for
    /// a shared mailbox's account) or `allowed`. Omitted = not managed.
    #[schemars(with = "Option<String>", extend("enum" = SignIn::NAMES))]
    pub sign_in: Option<Spanned<String>>,
    /// ISO 3166-1 alpha-2 usage location; overrides `[defaults]`.
    #[schemars(with = "Option<String>")]
    pub usage_location: Option<Spanned<String>>,
}

/// `[users."upn"]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    /// Profile to apply; the fields below override it.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Exactly these managed SKUs, or "keep"; replaces the profile's list. Omitted = the profile's (or not managed).
    pub licenses: Option<RawLicenses>,
    /// Disabled service plans per SKU, merged over the profile's per SKU.
    #[schemars(with = "Option<BTreeMap<String, Vec<String>>>")]
    pub disabled_plans: Option<Spanned<RawDisabledPlans>>,
    /// ISO 3166-1 alpha-2 usage location.
    #[schemars(with = "Option<String>")]
    pub usage_location: Option<Spanned<String>>,
    /// Mailbox type: `user`, `shared`, `room` or `equipment`; or `delete` to accept that a user
    /// mailbox loses its last Exchange licence (deleted after 30 days).
    #[schemars(with = "Option<String>", extend("enum" = MailboxIntent::names()))]
    pub mailbox: Option<Spanned<String>>,
    /// Sign-in to the account: `blocked` (`accountEnabled` false; Microsoft recommends it for
    /// a shared mailbox's account) or `allowed`. Omitted = not managed.
    #[schemars(with = "Option<String>", extend("enum" = SignIn::NAMES))]
    pub sign_in: Option<Spanned<String>>,
}

/// The fields a profile and a user entry share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `licenses`; `None` = not set here.
    pub licenses: Option<LicenseList>,
    /// `disabled_plans` keyed by part number; `None` = not set here.
    pub disabled_plans: Option<BTreeMap<String, DisabledPlans>>,
    /// `mailbox`.
    pub mailbox: Option<Located<MailboxIntent>>,
    /// `usage_location`, validated.
    pub usage_location: Option<Located<String>>,
    /// `sign_in`.
    pub sign_in: Option<Located<SignIn>>,
}

/// No setting set: what a user without an entry (or a profile) contributes.
static UNSET: Settings = Settings {
    licenses: None,
    disabled_plans: None,
    mailbox: None,
    usage_location: None,
    sign_in: None,
};

impl Settings {
    /// The settings set here, in `Setting::ALL` order.
    pub(super) fn set(&self) -> Vec<Setting> {
        let Settings {
            licenses,
            disabled_plans,
            mailbox,
            usage_location,
            sign_in,
        } = self;
        Setting::ALL
            .iter()
            .copied()
            .filter(|setting| match setting {
                Setting::Licenses => licenses.is_some(),
                Setting::Mailbox => mailbox.is_some(),
                Setting::UsageLocation => usage_location.is_some(),
                Setting::SignIn => sign_in.is_some(),
                Setting::DisabledPlans => disabled_plans.is_some(),
            })
            .collect()
    }
}

/// A user's settings after inheritance: each one the entry sets, else the profile's.
/// `disabled_plans` keeps both (the profile's, then the entry's): the resolver merges them per
/// SKU and needs to know which applied.
pub(crate) struct Inherited<'a> {
    /// `licenses`.
    pub licenses: Option<&'a LicenseList>,
    /// `disabled_plans` of the profile and of the entry.
    pub disabled_plans: [Option<&'a BTreeMap<String, DisabledPlans>>; 2],
    /// `mailbox`.
    pub mailbox: Option<MailboxIntent>,
    /// `usage_location`.
    pub usage_location: Option<&'a String>,
    /// `sign_in`.
    pub sign_in: Option<SignIn>,
}

/// Inheritance: the entry's value of each setting wins over its profile's.
pub(crate) fn inherit<'a>(
    entry: Option<&'a Settings>,
    profile: Option<&'a Settings>,
) -> Inherited<'a> {
    let Settings {
        licenses: entry_licenses,
        disabled_plans: entry_disabled,
        mailbox: entry_mailbox,
        usage_location: entry_location,
        sign_in: entry_sign_in,
    } = entry.unwrap_or(&UNSET);
    let Settings {
        licenses: profile_licenses,
        disabled_plans: profile_disabled,
        mailbox: profile_mailbox,
        usage_location: profile_location,
        sign_in: profile_sign_in,
    } = profile.unwrap_or(&UNSET);
    Inherited {
        licenses: entry_licenses.as_ref().or(profile_licenses.as_ref()),
        disabled_plans: [profile_disabled.as_ref(), entry_disabled.as_ref()],
        mailbox: entry_mailbox
            .as_ref()
            .or(profile_mailbox.as_ref())
            .map(|m| m.value),
        usage_location: entry_location
            .as_ref()
            .or(profile_location.as_ref())
            .map(|l| &l.value),
        sign_in: entry_sign_in
            .as_ref()
            .or(profile_sign_in.as_ref())
            .map(|s| s.value),
    }
}

/// The raw settings of a profile or a user entry, as written.
pub(super) struct RawSettings<'a> {
    licenses: Option<&'a RawLicenses>,
    disabled_plans: Option<&'a Spanned<RawDisabledPlans>>,
    mailbox: Option<&'a Spanned<String>>,
    usage_location: Option<&'a Spanned<String>>,
    sign_in: Option<&'a Spanned<String>>,
}

impl RawProfile {
    /// Its settings (every field of a profile is one).
    pub(super) fn settings(&self) -> RawSettings<'_> {
        let RawProfile {
            licenses,
            disabled_plans,
            mailbox,
            sign_in,
            usage_location,
        } = self;
        RawSettings {
            licenses: licenses.as_ref(),
            disabled_plans: disabled_plans.as_ref(),
            mailbox: mailbox.as_ref(),
            usage_location: usage_location.as_ref(),
            sign_in: sign_in.as_ref(),
        }
    }
}

impl RawUser {
    /// Its settings (every field but `profile`).
    pub(super) fn settings(&self) -> RawSettings<'_> {
        let RawUser {
            profile: _,
            licenses,
            disabled_plans,
            usage_location,
            mailbox,
            sign_in,
        } = self;
        RawSettings {
            licenses: licenses.as_ref(),
            disabled_plans: disabled_plans.as_ref(),
            mailbox: mailbox.as_ref(),
            usage_location: usage_location.as_ref(),
            sign_in: sign_in.as_ref(),
        }
    }
}

impl Builder {
    /// Validates the settings of a profile or an entry: each one at its place.
    pub(super) fn settings(&mut self, src: &Source, raw: RawSettings<'_>) -> Settings {
        let RawSettings {
            licenses,
            disabled_plans,
            mailbox,
            usage_location,
            sign_in,
        } = raw;
        let settings = Settings {
            licenses: licenses.and_then(|l| self.licenses(src, l)),
            disabled_plans: disabled_plans.map(|d| self.disabled_plans(src, d.get_ref())),
            mailbox: mailbox.and_then(|m| {
                self.word(
                    src,
                    m,
                    "mailbox type",
                    "mailbox types",
                    &MailboxIntent::names(),
                    MailboxIntent::parse,
                )
            }),
            usage_location: usage_location.and_then(|u| self.country(src, u)),
            sign_in: sign_in.and_then(|s| {
                self.word(
                    src,
                    s,
                    "sign_in",
                    "sign-in states",
                    &SignIn::NAMES,
                    SignIn::parse,
                )
            }),
        };
        self.check_resource_mailbox(&settings);
        settings
    }

    /// A value from a closed list of words: `invalid WHAT `x`` at its place, with the
    /// closest word (or the list) as the hint.
    fn word<T>(
        &mut self,
        src: &Source,
        s: &Spanned<String>,
        what: &str,
        plural: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Option<Located<T>> {
        let origin = src.origin(s.span());
        let Some(value) = parse(s.get_ref()) else {
            let other = s.get_ref();
            let hint = suggest::hint(other, plural, names);
            self.error(format!("invalid {what} `{other}`"), origin, hint);
            return None;
        };
        Some(Located { value, origin })
    }

    /// A room or equipment mailbox never gets user licences: `plan` refuses such an entry
    /// whatever the tenant holds, so the offline `validate` refuses it too.
    fn check_resource_mailbox(&mut self, settings: &Settings) {
        if let (Some(mailbox), Some(LicenseList::Exactly(skus))) =
            (&settings.mailbox, &settings.licenses)
            && let MailboxIntent::Kind(kind @ (MailboxType::Room | MailboxType::Equipment)) =
                mailbox.value
            && !skus.is_empty()
        {
            self.error(
                format!("a {} mailbox never gets user licences", kind.as_str()),
                mailbox.origin.clone(),
                "use licenses = [] with a resource mailbox, or mailbox = \"user\" or \"shared\"",
            );
        }
    }
}

/// Warnings for user entries whose own fields override everything their profile sets: the
/// profile changes nothing (`profile = "leaver"` added to an entry that also lists its
/// licences and mailbox would otherwise do nothing, silently).
pub(super) fn ineffective_profiles(config: &Config) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for entry in config.users.values() {
        let Some(name) = &entry.profile else {
            continue;
        };
        let Some(profile) = config.profiles.get(&name.value) else {
            continue;
        };
        let (p, e) = (&profile.settings, &entry.settings);
        let entry_sets = e.set();
        let profile_sets = p.set();
        let contributes = profile_sets.iter().any(|setting| match setting {
            // Merged per SKU: the profile contributes any SKU the entry leaves out.
            Setting::DisabledPlans => p.disabled_plans.as_ref().is_some_and(|plans| {
                plans.keys().any(|sku| {
                    !e.disabled_plans
                        .as_ref()
                        .is_some_and(|d| d.contains_key(sku))
                })
            }),
            Setting::Licenses | Setting::Mailbox | Setting::UsageLocation | Setting::SignIn => {
                !entry_sets.contains(setting)
            }
        });
        if !profile_sets.is_empty() && !contributes {
            let keys: Vec<&str> = Setting::ALL.iter().map(|s| s.key()).collect();
            warnings.push(
                Diagnostic::warning(
                    format!(
                        "profile `{}` changes nothing for {}: the entry sets every field the profile sets",
                        name.value, entry.upn
                    ),
                    Some(name.origin.clone()),
                )
                .with_hint(format!(
                    "remove the entry's own {} to let the profile decide",
                    keys.join(" / ")
                )),
            );
        }
    }
    warnings
}

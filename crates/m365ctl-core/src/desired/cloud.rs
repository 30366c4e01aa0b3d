//! Microsoft's national clouds: where credentials may be sent.
//!
//! The token endpoint receives the client secret, the certificate assertion or the federated
//! OIDC token; the Graph and Exchange hosts receive bearer tokens. A config (possibly from an
//! unreviewed pull request) may therefore only choose among Microsoft's own hosts, over
//! https. Hosts per cloud, from Microsoft's national-cloud documentation (cited in
//! research/graph-api.md §7 and §5.2): entra-docs `authentication-national-cloud.md`,
//! microsoft-graph-docs `concepts/deployments.md` and the ExchangeOnlineManagement
//! `Connect-ExchangeOnline` ConnectionUri list. Anything else (the fake server on loopback, a
//! proxy) is an override from the command line or the environment, never from TOML.

/// The three hosts a cloud uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudHosts {
    /// Entra token endpoint host.
    pub authority: &'static str,
    /// Microsoft Graph host.
    pub graph: &'static str,
    /// Exchange Online admin API host.
    pub exchange: &'static str,
}

/// Microsoft's national clouds, `cloud = "…"` in the config: the one list the language, the
/// schema, the hints and the docs' tests derive names and hosts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// The global service (and GCC).
    Global,
    /// US Government GCC High.
    UsGov,
    /// US Government DoD.
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// Every cloud, in the order docs and hints list them.
    pub const ALL: [Cloud; 4] = [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];

    /// The name the config uses.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    /// The cloud a config name names.
    pub fn parse(name: &str) -> Option<Cloud> {
        Cloud::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Every config name.
    pub fn names() -> Vec<&'static str> {
        Cloud::ALL.map(Cloud::name).to_vec()
    }

    /// The cloud's default hosts.
    pub fn hosts(self) -> CloudHosts {
        match self {
            Cloud::Global => CloudHosts {
                authority: "login.microsoftonline.com",
                graph: "graph.microsoft.com",
                exchange: "outlook.office365.com",
            },
            Cloud::UsGov => CloudHosts {
                authority: "login.microsoftonline.us",
                graph: "graph.microsoft.us",
                exchange: "outlook.office365.us",
            },
            Cloud::UsGovDod => CloudHosts {
                authority: "login.microsoftonline.us",
                graph: "dod-graph.microsoft.us",
                exchange: "outlook-dod.office365.us",
            },
            Cloud::China => CloudHosts {
                authority: "login.chinacloudapi.cn",
                graph: "microsoftgraph.chinacloudapi.cn",
                exchange: "partner.outlook.cn",
            },
        }
    }
}

/// Which of the three endpoints a host setting configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRole {
    /// `authority_host`.
    Authority,
    /// `graph_host`.
    Graph,
    /// `exchange_host`.
    Exchange,
}

impl HostRole {
    /// Every Microsoft host allowed for this role across the national clouds, including the
    /// documented alternatives (21Vianet's newer `login.partner.microsoftonline.cn`, DoD's
    /// `webmail.apps.mil` Exchange endpoint).
    pub fn allowed(self) -> Vec<&'static str> {
        let extra: &[&str] = match self {
            HostRole::Authority => &["login.partner.microsoftonline.cn"],
            HostRole::Graph => &[],
            HostRole::Exchange => &["webmail.apps.mil"],
        };
        let mut hosts: Vec<&str> = Cloud::ALL.iter().map(|c| self.of(&c.hosts())).collect();
        hosts.extend(extra);
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// This role's host in `hosts`.
    pub fn of(self, hosts: &CloudHosts) -> &'static str {
        match self {
            HostRole::Authority => hosts.authority,
            HostRole::Graph => hosts.graph,
            HostRole::Exchange => hosts.exchange,
        }
    }

    /// The TOML key.
    pub fn key(self) -> &'static str {
        match self {
            HostRole::Authority => "authority_host",
            HostRole::Graph => "graph_host",
            HostRole::Exchange => "exchange_host",
        }
    }
}

/// `https://host` for a configured host (`host` or `https://host`, optionally with a trailing
/// `/`), or why it is refused: another scheme, a port, a path, credentials, or a host that is
/// not one of Microsoft's for this role.
pub fn configured_host(role: HostRole, value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "{} must use https, not {scheme}: credentials are sent there",
                role.key()
            ));
        }
        None => value,
    };
    let host = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
    if role.allowed().contains(&host.as_str()) {
        Ok(format!("https://{host}"))
    } else {
        Err(format!(
            "{} `{}` is not a Microsoft {} host: credentials and tokens go only to Microsoft's national clouds",
            role.key(),
            value.chars().take(100).collect::<String>(),
            match role {
                HostRole::Authority => "sign-in",
                HostRole::Graph => "Graph",
                HostRole::Exchange => "Exchange Online",
            }
        ))
    }
}

/// The hint for a refused host: the allowed ones and how to reach anything else.
pub fn host_hint(role: HostRole) -> String {
    format!(
        "use `cloud = {}` (allowed {}: {}); to point m365ctl elsewhere (e.g. `m365ctl sim serve`), set {} in the environment instead",
        Cloud::ALL.map(|c| format!("\"{}\"", c.name())).join(" | "),
        role.key(),
        role.allowed().join(", "),
        env_override(role)
    )
}

/// The environment variable that overrides a host outside the config (tests, the fake).
pub fn env_override(role: HostRole) -> &'static str {
    match role {
        HostRole::Authority => "M365CTL_AUTHORITY_HOST",
        HostRole::Graph => "M365CTL_GRAPH_HOST",
        HostRole::Exchange => "M365CTL_EXCHANGE_HOST",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_microsoft_hosts_over_https() {
        assert_eq!(
            configured_host(HostRole::Graph, "https://graph.microsoft.us/").unwrap(),
            "https://graph.microsoft.us"
        );
        assert_eq!(
            configured_host(HostRole::Authority, "LOGIN.microsoftonline.com").unwrap(),
            "https://login.microsoftonline.com"
        );
        for bad in [
            "http://login.microsoftonline.com",
            "http://127.0.0.1:8080",
            "https://127.0.0.1",
            "https://login.microsoftonline.com.evil.com",
            "https://login.microsoftonline.com:444",
            "https://login.microsoftonline.com/x",
            "https://user@login.microsoftonline.com",
            "graph.microsoft.com",
        ] {
            assert!(configured_host(HostRole::Authority, bad).is_err(), "{bad}");
        }
    }
}

//! The snapshot file format: a JSON `Tenant`, parsed and validated like a config, and
//! rendered canonically. A snapshot is input (hand-edited, exported by another version, or
//! crafted), and the planner and the fake trust the model's invariants. A duplicate object
//! id, for instance, made apply report success forever while plan kept showing the change.
//! Every problem is named with its JSON path and line:column.

use crate::tenant::Tenant;
use std::collections::{HashMap, HashSet};

/// Parses snapshot JSON into a validated, normalised tenant (seat counts recomputed from
/// assignments); every problem is named with its JSON path and line:column.
pub fn parse_snapshot(text: &str) -> Result<Tenant, String> {
    let mut tenant: Tenant = serde_json::from_str(text).map_err(|e| {
        format!(
            "invalid snapshot JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let problems = problems(&tenant, text);
    if !problems.is_empty() {
        return Err(format!(
            "invalid snapshot, {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    tighten(&mut tenant);
    tenant.recount_consumed();
    tenant.normalize();
    Ok(tenant)
}

/// Drops the room deserialisation left in the user list (grown by doubling). Each user's
/// licence assignments are read at their exact length already (`User::licenses`).
pub fn tighten(tenant: &mut Tenant) {
    tenant.users.shrink_to_fit();
}

/// Serialises a tenant as canonical, pretty snapshot JSON (trailing newline included).
pub fn render_snapshot(tenant: &Tenant) -> String {
    let mut tenant = tenant.clone();
    tenant.normalize();
    let mut text = serde_json::to_string_pretty(&tenant).expect("tenant serialises");
    text.push('\n');
    text
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(&'static str),
    Index(usize),
}

/// A problem at a JSON path.
struct Problem {
    path: Vec<Step>,
    message: String,
}

/// Every problem of `tenant` (as parsed from `text`, before normalisation, so indexes are the
/// file's), one line each: `line L column C ($.users[3].id): message`. Empty when valid.
pub fn problems(tenant: &Tenant, text: &str) -> Vec<String> {
    let all = collect(tenant);
    let total = all.len();
    let mut lines: Vec<String> = all
        .into_iter()
        .take(MAX_SHOWN)
        .map(|p| {
            let path = render_path(&p.path);
            match locate(text, &p.path) {
                Some(offset) => {
                    let (line, column) = line_column(text, offset);
                    format!("line {line} column {column} ({path}): {}", p.message)
                }
                None => format!("{path}: {}", p.message),
            }
        })
        .collect();
    if total > MAX_SHOWN {
        lines.push(format!("… and {} more", total - MAX_SHOWN));
    }
    lines
}

/// Problems listed in full (each is located by a scan of the text); the rest are counted.
const MAX_SHOWN: usize = 50;

/// A value for a message: quoted, and cut after 80 characters (a 1 MB value would otherwise
/// be echoed whole).
fn shown(value: &str) -> String {
    const MAX: usize = 80;
    match value.char_indices().nth(MAX) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &value[..cut], value.len()),
    }
}

/// What is wrong with one licence, user's or group's, as (field, message): a SKU the
/// snapshot does not list (`plans` is `None`), or disabled plans that are not the SKU's.
fn sku_problems(
    plans: Option<&HashSet<&str>>,
    sku_id: &str,
    disabled_plans: &[String],
) -> Vec<(&'static str, String)> {
    let Some(plans) = plans else {
        return vec![("sku_id", format!("SKU {} is not in skus", shown(sku_id)))];
    };
    disabled_plans
        .iter()
        .filter(|plan| !plans.contains(plan.as_str()))
        .map(|plan| {
            (
                "disabled_plans",
                format!("service plan {} is not a plan of this SKU", shown(plan)),
            )
        })
        .collect()
}

/// Whether `problems` would report anything, without needing the text to locate it.
pub fn has_problems(tenant: &Tenant) -> bool {
    !collect(tenant).is_empty()
}

fn collect(tenant: &Tenant) -> Vec<Problem> {
    use Step::{Index, Key};
    let mut out = Vec::new();
    let mut problem = |path: Vec<Step>, message: String| out.push(Problem { path, message });

    let mut sku_ids: HashMap<&str, usize> = HashMap::new();
    let mut sku_parts: HashMap<String, usize> = HashMap::new();
    for (i, sku) in tenant.skus.iter().enumerate() {
        if let Some(first) = sku_ids.insert(&sku.sku_id, i) {
            problem(
                vec![Key("skus"), Index(i), Key("sku_id")],
                format!(
                    "duplicate SKU id {} (also skus[{first}])",
                    shown(&sku.sku_id)
                ),
            );
        }
        if let Some(first) = sku_parts.insert(sku.sku_part_number.to_ascii_uppercase(), i) {
            problem(
                vec![Key("skus"), Index(i), Key("sku_part_number")],
                format!(
                    "duplicate SKU part number {} (also skus[{first}])",
                    shown(&sku.sku_part_number)
                ),
            );
        }
    }
    // Each SKU's plan ids, collected once: a set per licence was most of the validation's
    // time on a 1,000,000-user snapshot.
    let sku_plans: Vec<HashSet<&str>> = tenant
        .skus
        .iter()
        .map(|sku| {
            sku.service_plans
                .iter()
                .map(|p| p.service_plan_id.as_str())
                .collect()
        })
        .collect();
    let plans_of =
        |sku_id: &str| -> Option<&HashSet<&str>> { sku_ids.get(sku_id).map(|&i| &sku_plans[i]) };

    let mut group_ids: HashMap<&str, usize> = HashMap::new();
    // Display names may repeat (Graph allows it); a config naming an ambiguous group is the
    // resolver's concern, not the snapshot's.
    for (i, group) in tenant.groups.iter().enumerate() {
        if group.id.is_empty() {
            problem(
                vec![Key("groups"), Index(i), Key("id")],
                "empty group id".into(),
            );
        }
        if let Some(first) = group_ids.insert(&group.id, i) {
            problem(
                vec![Key("groups"), Index(i), Key("id")],
                format!(
                    "duplicate object id {} (also groups[{first}])",
                    shown(&group.id)
                ),
            );
        }
    }

    let mut user_ids: HashMap<&str, usize> = HashMap::new();
    let mut upns: HashMap<Caseless<'_>, usize> = HashMap::with_capacity(tenant.users.len());
    user_ids.reserve(tenant.users.len());
    for (i, user) in tenant.users.iter().enumerate() {
        let at = |key| vec![Key("users"), Index(i), Key(key)];
        if user.id.is_empty() {
            problem(at("id"), "empty user id".into());
        }
        if let Some(first) = user_ids.insert(&user.id, i) {
            problem(
                at("id"),
                format!(
                    "duplicate object id {} (also users[{first}])",
                    shown(&user.id)
                ),
            );
        }
        if group_ids.contains_key(user.id.as_str()) {
            problem(
                at("id"),
                format!("object id {} is also a group's", shown(&user.id)),
            );
        }
        if user.user_principal_name.is_empty() {
            problem(at("user_principal_name"), "empty userPrincipalName".into());
        }
        if let Some(first) = upns.insert(Caseless::of(&user.user_principal_name), i) {
            problem(
                at("user_principal_name"),
                format!(
                    "duplicate userPrincipalName {} (also users[{first}])",
                    shown(&user.user_principal_name)
                ),
            );
        }
        if let Some(location) = user
            .usage_location
            .as_ref()
            .filter(|l| !crate::countries::is_valid(l))
        {
            problem(
                at("usage_location"),
                format!(
                    "{} is not an ISO 3166-1 alpha-2 country code",
                    shown(location)
                ),
            );
        }
        for (j, licence) in user.licenses.iter().enumerate() {
            let at = |key| vec![Key("users"), Index(i), Key("licenses"), Index(j), Key(key)];
            let plans = plans_of(&licence.sku_id);
            for (key, message) in sku_problems(plans, &licence.sku_id, &licence.disabled_plans) {
                problem(at(key), message);
            }
            if let Some(group) = licence
                .assigned_by_group
                .as_ref()
                .filter(|g| !group_ids.contains_key(g.as_str()))
            {
                problem(
                    at("assigned_by_group"),
                    format!("group {} is not in groups", shown(group)),
                );
            }
        }
    }

    for (i, group) in tenant.groups.iter().enumerate() {
        for (j, licence) in group.licenses.iter().enumerate() {
            let at = |key| vec![Key("groups"), Index(i), Key("licenses"), Index(j), Key(key)];
            let plans = plans_of(&licence.sku_id);
            for (key, message) in sku_problems(plans, &licence.sku_id, &licence.disabled_plans) {
                problem(at(key), message);
            }
        }
        let mut seen = HashSet::new();
        for (j, member) in group.members.iter().enumerate() {
            let at = vec![Key("groups"), Index(i), Key("members"), Index(j)];
            if !seen.insert(member.as_str()) {
                problem(at, format!("member {} is listed twice", shown(member)));
            } else if group_ids.contains_key(member.as_str()) {
                problem(
                    at,
                    format!(
                        "member {} is a group: nested groups are not supported for licensing",
                        shown(member)
                    ),
                );
            } else if !user_ids.contains_key(member.as_str()) {
                problem(
                    at,
                    format!("member {} is not a user in users", shown(member)),
                );
            }
        }
    }
    out
}

/// A string compared and hashed as its `str::to_lowercase`, without allocating that copy for
/// ASCII text (every UPN of a large tenant, in practice): two UPNs are duplicates exactly when
/// their lower-case forms are equal.
enum Caseless<'a> {
    /// ASCII text, lower-cased byte by byte as it is read.
    Ascii(&'a str),
    /// Anything else, already lower-cased (Unicode rules, e.g. the Kelvin sign is `k`).
    Lowered(String),
}

impl<'a> Caseless<'a> {
    fn of(text: &'a str) -> Caseless<'a> {
        if text.is_ascii() {
            Caseless::Ascii(text)
        } else {
            Caseless::Lowered(text.to_lowercase())
        }
    }

    /// The bytes of the lower-case form.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let (ascii, lowered) = match self {
            Caseless::Ascii(text) => (text.as_bytes(), &[][..]),
            Caseless::Lowered(text) => (&[][..], text.as_bytes()),
        };
        ascii
            .iter()
            .map(u8::to_ascii_lowercase)
            .chain(lowered.iter().copied())
    }
}

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes().eq(other.bytes())
    }
}

impl Eq for Caseless<'_> {}

impl std::hash::Hash for Caseless<'_> {
    /// The lower-case bytes in 64-byte pieces (equal texts are cut alike), then the length.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut piece = [0u8; 64];
        let (mut filled, mut length) = (0, 0);
        for byte in self.bytes() {
            piece[filled] = byte;
            filled += 1;
            length += 1;
            if filled == piece.len() {
                state.write(&piece);
                filled = 0;
            }
        }
        state.write(&piece[..filled]);
        state.write_usize(length);
    }
}

fn render_path(path: &[Step]) -> String {
    let mut out = String::from("$");
    for step in path {
        match step {
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The byte offset of the value at `path` in the JSON `text` (which parsed already), found
/// by a small scanner that skips every other value.
fn locate(text: &str, path: &[Step]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    for step in path {
        pos = match (step, bytes.get(pos)?) {
            (Step::Key(key), b'{') => {
                let mut p = skip_ws(bytes, pos + 1);
                loop {
                    if bytes.get(p)? != &b'"' {
                        return None;
                    }
                    let end = skip_string(bytes, p)?;
                    let name: String = serde_json::from_str(&text[p..end]).ok()?;
                    p = skip_ws(bytes, end);
                    if bytes.get(p)? != &b':' {
                        return None;
                    }
                    p = skip_ws(bytes, p + 1);
                    if name == *key {
                        break p;
                    }
                    p = skip_ws(bytes, skip_value(bytes, p)?);
                    match bytes.get(p)? {
                        b',' => p = skip_ws(bytes, p + 1),
                        _ => return None,
                    }
                }
            }
            (Step::Index(index), b'[') => {
                let mut p = skip_ws(bytes, pos + 1);
                for _ in 0..*index {
                    p = skip_ws(bytes, skip_value(bytes, p)?);
                    match bytes.get(p)? {
                        b',' => p = skip_ws(bytes, p + 1),
                        _ => return None,
                    }
                }
                p
            }
            _ => return None,
        };
    }
    Some(pos)
}

fn skip_ws(bytes: &[u8], mut p: usize) -> usize {
    while bytes.get(p).is_some_and(|b| b.is_ascii_whitespace()) {
        p += 1;
    }
    p
}

/// The offset just after the string starting at `p` (a `"`).
fn skip_string(bytes: &[u8], p: usize) -> Option<usize> {
    let mut i = p + 1;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The offset just after the value starting at `p`.
fn skip_value(bytes: &[u8], p: usize) -> Option<usize> {
    match bytes.get(p)? {
        b'"' => skip_string(bytes, p),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = p;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = p;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b']' | b'}') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Two texts are the same `Caseless` key exactly when their `to_lowercase` forms are
        /// equal (ASCII, Unicode, and the two mixed), and equal keys hash alike.
        #[test]
        fn caseless_keys_are_equal_exactly_when_the_lower_case_texts_are(
            a in "[a-zA-Z0-9@.\u{212A}\u{130}\u{3A3}\u{DF}]{0,80}",
            b in "[a-zA-Z0-9@.\u{212A}\u{130}\u{3A3}\u{DF}]{0,80}",
        ) {
            use std::hash::BuildHasher;
            let hasher = std::collections::hash_map::RandomState::new();
            for (a, b) in [(a.as_str(), b.as_str()), (a.as_str(), &a.to_uppercase()), (a.as_str(), &a.to_lowercase())] {
                let same = Caseless::of(a) == Caseless::of(b);
                proptest::prop_assert_eq!(same, a.to_lowercase() == b.to_lowercase(), "{:?} {:?}", a, b);
                if same {
                    proptest::prop_assert_eq!(hasher.hash_one(Caseless::of(a)), hasher.hash_one(Caseless::of(b)));
                }
            }
        }
    }

    #[test]
    fn locates_values_by_path() {
        let text = "{\n  \"a\": [1, {\"b\": \"x\"}],\n  \"users\": [\n    {\"id\": \"u1\"},\n    {\"id\": \"u1\"}\n  ]\n}";
        let at = locate(text, &[Step::Key("users"), Step::Index(1), Step::Key("id")]).unwrap();
        assert_eq!(line_column(text, at), (5, 12));
        assert_eq!(&text[at..at + 4], "\"u1\"");
    }
}

//! Prices in `[skus]`, the currency in `[defaults]`, and the monthly cost in every plan
//! format as the CLI prints it.

use assert_cmd::Command;
use m365ctl::desired::from_sources;
use m365ctl::diag::Diagnostic;
use std::path::{Path, PathBuf};

fn load(text: &str) -> Result<m365ctl::desired::Config, Vec<Diagnostic>> {
    from_sources(&[("c.toml".into(), text.into())], Path::new("cfg")).map_err(|d| d.0)
}

fn one_error(text: &str) -> Diagnostic {
    let mut all = load(text).expect_err("config should be rejected");
    assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
    all.remove(0)
}

fn at(d: &Diagnostic) -> String {
    d.origin.as_ref().expect("a place").to_string()
}

#[test]
fn prices_are_exact_minor_units_and_the_plain_alias_form_still_works() {
    let config = load(
        "[defaults]\ncurrency = \"eur\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"36.10\" }\nE5 = { part = \"enterprisepremium\", monthly_price = 57 }\nP1 = \"EXCHANGESTANDARD\"\n",
    )
    .expect("valid");
    let prices = config.prices.expect("priced");
    assert_eq!(prices.currency.code, "EUR");
    assert_eq!(prices.of("ENTERPRISEPACK").unwrap().minor_units, 3610);
    assert_eq!(prices.of("ENTERPRISEPREMIUM").unwrap().minor_units, 5700);
    assert_eq!(prices.of("EXCHANGESTANDARD"), None);
    assert_eq!(config.aliases["P1"].part_number, "EXCHANGESTANDARD");
    assert_eq!(config.aliases["E5"].part_number, "ENTERPRISEPREMIUM");
}

#[test]
fn no_price_means_no_cost_even_with_a_currency() {
    let config = load("[defaults]\ncurrency = \"USD\"\n[skus]\nE3 = \"ENTERPRISEPACK\"\n").unwrap();
    assert!(config.prices.is_none());
}

#[test]
fn bad_prices_name_their_place_and_say_how_to_write_them() {
    let cases = [
        // (config, place, words in the message or hint)
        (
            "[defaults]\ncurrency = \"EUR\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = 36.1 }\n",
            "c.toml:4:49",
            "float",
        ),
        (
            "[defaults]\ncurrency = \"EUR\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"36.001\" }\n",
            "c.toml:4:49",
            "3 decimal digits but EUR has 2",
        ),
        (
            "[defaults]\ncurrency = \"JPY\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"4500.5\" }\n",
            "c.toml:4:49",
            "JPY has 0",
        ),
        (
            "[defaults]\ncurrency = \"EUR\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"-1\" }\n",
            "c.toml:4:49",
            "is not a price",
        ),
        (
            "[defaults]\ncurrency = \"EUR\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"1,000\" }\n",
            "c.toml:4:49",
            "is not a price",
        ),
        (
            "[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"36.00\" }\n",
            "c.toml:2:49",
            "[defaults]",
        ),
        (
            "[defaults]\ncurrency = \"EURO\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"36.00\" }\n",
            "c.toml:2:12",
            "ISO 4217",
        ),
        (
            "[defaults]\ncurrency = \"EUR\"\n[skus]\nE3 = { part = \"ENTERPRISEPACK\", monthly_price = \"36.00\" }\nO365E3 = { part = \"ENTERPRISEPACK\", monthly_price = \"23.00\" }\n",
            "c.toml:5:53",
            "priced 36.00 at c.toml:4:49",
        ),
        (
            "[skus]\nE3 = { monthly_price = \"36.00\" }\n",
            "c.toml:2:6",
            "skus.E3",
        ),
        (
            "[skus]\nE3 = { part = \"ENTERPRISEPACK\", price = \"36.00\" }\n",
            "c.toml:2:6",
            "skus.E3",
        ),
    ];
    for (text, place, words) in cases {
        let d = one_error(text);
        let all = format!("{} / {}", d.message, d.hint.as_deref().unwrap_or_default());
        assert_eq!(at(&d), place, "{text}\n{all}");
        assert!(all.contains(words), "{text}\n{all}");
        assert!(d.hint.is_some(), "{text}: no hint");
    }
}

fn m365ctl() -> Command {
    let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
    cmd.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1");
    cmd
}

/// The quickstart with prices for E3 and E5 (EXO P1 left unpriced).
fn priced_quickstart() -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo.join("tenant.json"), dir.path().join("tenant.json")).unwrap();
    let config = std::fs::read_to_string(repo.join("m365ctl.toml"))
        .unwrap()
        .replace(
            "E3 = \"ENTERPRISEPACK\"\nE5 = \"ENTERPRISEPREMIUM\"",
            "E3 = { part = \"ENTERPRISEPACK\", monthly_price = \"23.00\" }\nE5 = { part = \"ENTERPRISEPREMIUM\", monthly_price = \"38.00\" }",
        )
        .replace(
            "usage_location = \"GB\"\n",
            "usage_location = \"GB\"\ncurrency = \"EUR\"\n",
        );
    assert!(config.contains("monthly_price") && config.contains("currency"));
    std::fs::write(dir.path().join("m365ctl.toml"), config).unwrap();
    dir
}

fn plan(dir: &Path, format: &str) -> String {
    let out = m365ctl()
        .args(["plan", "--format", format, "-c"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The quickstart moves ENTERPRISEPACK 6 -> 5 and ENTERPRISEPREMIUM 2 -> 3 (README's table):
/// E3 6 x 23 + E5 2 x 38 = 214.00 now, 5 x 23 + 3 x 38 = 229.00 after.
const HEADLINE: &str = "EUR 214.00 -> EUR 229.00 per month (+15.00)";

#[test]
fn every_plan_format_shows_the_monthly_cost() {
    let dir = priced_quickstart();
    let human = plan(dir.path(), "human");
    assert!(human.contains(HEADLINE), "{human}");
    assert!(
        human.contains("Not in the total (no monthly_price in [skus]): EXCHANGESTANDARD."),
        "{human}"
    );

    let markdown = plan(dir.path(), "markdown");
    let first = markdown
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with("<!--") && !l.starts_with("###"))
        .unwrap();
    assert_eq!(first, format!("**Monthly licence cost: {HEADLINE}**"));

    let json: serde_json::Value = serde_json::from_str(&plan(dir.path(), "json")).unwrap();
    assert_eq!(json["cost"]["total_now"], "214.00");
    assert_eq!(json["cost"]["total_after"], "229.00");
    assert_eq!(json["cost"]["change"], "15.00");

    let summary = dir.path().join("step-summary.md");
    let out = m365ctl()
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--format", "github", "-c"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(HEADLINE), "{stdout}");
    let step = std::fs::read_to_string(&summary).unwrap();
    assert!(
        step.contains(&format!("**Monthly licence cost: {HEADLINE}**")),
        "{step}"
    );
    // The github format's cost lines: the log's block and the step summary's table.
    let block = |text: &str, start: &str| -> String {
        let from = text.find(start).expect("a cost block");
        let end = text[from..].find("\n\n").map_or(text.len(), |e| from + e);
        text[from..end].to_string()
    };
    insta::assert_snapshot!(format!(
        "{}\n\n{}",
        block(&stdout, "Monthly licence cost"),
        block(&step, "| Licence | price/seat")
    ));
}

#[test]
fn a_price_change_does_not_make_a_saved_plan_stale() {
    let dir = priced_quickstart();
    let planfile: PathBuf = dir.path().join("plan.json");
    m365ctl()
        .args(["plan", "--out"])
        .arg(&planfile)
        .arg("-c")
        .arg(dir.path())
        .assert()
        .code(0);
    // The pull-request job renders the comment from the saved plan: it leads with the cost.
    let shown = m365ctl()
        .args(["show", "--format", "markdown"])
        .arg(&planfile)
        .output()
        .unwrap();
    let comment = String::from_utf8(shown.stdout).unwrap();
    assert_eq!(shown.status.code(), Some(0), "{comment}");
    let first = comment
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("<!--") && !l.starts_with("###"))
        .nth(1)
        .unwrap();
    assert_eq!(
        first,
        format!("**Monthly licence cost: {HEADLINE}**"),
        "{comment}"
    );

    let config = dir.path().join("m365ctl.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"23.00\"", "\"24.00\"")).unwrap();
    m365ctl()
        .args(["apply", "--auto-approve", "-c"])
        .arg(dir.path())
        .arg(&planfile)
        .assert()
        .code(0);
}

#[test]
fn report_licences_prices_the_waste_in_every_format() {
    let dir = priced_quickstart();
    let run = |format: &str| {
        let out = m365ctl()
            .args(["report", "licences", "--format", format, "-c"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["currency"], "EUR");
    let holdings = json["holdings"].as_array().unwrap().len();
    let waste = json["waste"].as_array().unwrap().len();
    assert!(holdings > 0 && waste > 0, "{json}");
    let kinds: u64 = json["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["seats"].as_u64().unwrap())
        .sum();
    assert_eq!(json["total"]["seats"].as_u64(), Some(kinds));

    let csv = run("csv");
    assert!(csv.starts_with("record,kind,upn,department,sku,"), "{csv}");
    assert_eq!(csv.matches("\r\n").count(), 1 + holdings + waste, "{csv}");

    let human = run("human");
    let total = json["total"]["monthly"].as_str().unwrap();
    assert!(human.contains(&format!("EUR {total} per month")), "{human}");
}

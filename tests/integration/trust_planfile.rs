//! Issue 14, item 1: a saved plan is the reviewed plan. An attacker who edits `plan.json`
//! and recomputes its checksum (a plain sha256) must not get the edit applied.

use crate::common::cli::{apply_plan, m365ctl, save_plan};
use crate::common::quickstart;
use predicates::prelude::*;
use sha2::{Digest, Sha256};

/// The checksum exactly as `m365ctl plan --out` computes it (over the operations' canonical
/// form, whatever the file's version): anyone can.
fn recompute_checksum(doc: &mut m365ctl::planfile::PlanFile) {
    let mut hasher = Sha256::new();
    hasher.update(doc.inputs.desired.as_bytes());
    hasher.update(b"\n");
    hasher.update(doc.inputs.live.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(&doc.operations).unwrap());
    doc.fingerprint = format!("sha256:{}", m365ctl::planfile::hex(&hasher.finalize()));
}

#[test]
fn a_leavers_operations_moved_onto_another_user_are_refused_despite_a_valid_checksum() {
    let dir = quickstart::copy();
    let planfile = dir.path().join("plan.json");
    save_plan(dir.path(), &planfile);
    let mut doc =
        m365ctl::planfile::PlanFile::parse(&std::fs::read_to_string(&planfile).unwrap()).unwrap();
    let tenant: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("tenant.json")).unwrap())
            .unwrap();
    let bob_id = tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_principal_name"] == "bob@contoso.com")
        .map(|u| u["id"].clone())
        .unwrap();
    // grace (the leaver) has her mailbox converted to shared: point it at bob instead.
    let mut moved = 0;
    for op in &mut doc.operations {
        if op.target == "grace@contoso.com" && op.kind == "convert_mailbox" {
            op.target = "bob@contoso.com".into();
            op.details["upn"] = "bob@contoso.com".into();
            op.details["user_id"] = bob_id.clone();
            moved += 1;
        }
    }
    assert_eq!(moved, 1, "the quickstart converts grace's mailbox");
    recompute_checksum(&mut doc);
    std::fs::write(&planfile, doc.to_json()).unwrap();
    let before = std::fs::read(dir.path().join("tenant.json")).unwrap();

    apply_plan(dir.path(), &planfile)
        .code(1)
        .stderr(
            predicate::str::contains("operations differ").and(predicate::str::contains(
                "convert_mailbox:grace@contoso.com",
            )),
        )
        .stdout(predicate::str::contains("m365ctl will perform").not());
    assert_eq!(
        std::fs::read(dir.path().join("tenant.json")).unwrap(),
        before,
        "nothing was applied"
    );
}

#[test]
fn the_reviewed_plan_file_itself_still_applies() {
    let dir = quickstart::copy();
    let planfile = dir.path().join("plan.json");
    save_plan(dir.path(), &planfile);
    apply_plan(dir.path(), &planfile).code(0);
    m365ctl()
        .args(["plan", "-c"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
}

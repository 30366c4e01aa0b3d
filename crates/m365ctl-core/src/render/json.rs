//! The JSON format: exactly the `planfile::PlanFile` document, so what CI reads is what
//! `apply plan.json` executes.

use crate::plan::Plan;
use crate::planfile::PlanFile;

/// Renders the plan as the versioned plan document (made inert for CI logs, same value).
pub fn render(plan: &Plan) -> String {
    super::escape::json_document(&PlanFile::from_plan(plan).to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    #[test]
    fn every_kind() {
        let text = render(&fixtures::every_kind());
        let doc = PlanFile::parse(&text).expect("a valid plan file");
        assert_eq!(doc.operations.len(), 10);
        insta::assert_snapshot!(text);
    }
}

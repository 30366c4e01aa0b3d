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
        let plan = fixtures::every_kind();
        let text = render(&plan);
        let doc = PlanFile::parse(&text).expect("a valid plan file");
        let read: Vec<(&str, &str)> = doc
            .operations
            .iter()
            .map(|o| (o.id.as_str(), o.kind.as_str()))
            .collect();
        let written: Vec<(&str, &str)> = plan
            .operations
            .iter()
            .map(|o| (o.id.as_str(), o.kind.name()))
            .collect();
        assert_eq!(read, written);
        insta::assert_snapshot!(text);
    }
}

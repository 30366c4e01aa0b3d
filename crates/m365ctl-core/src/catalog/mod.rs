//! Licence knowledge that does not come from the tenant: Exchange capability ranks and
//! Microsoft's published product / service-plan table.
//!
//! The rank of a SKU is *derived* from the service plans it contains (never from a hard-coded
//! SKU list), so new bundles rank correctly as soon as Graph reports their plans.

use crate::tenant::Sku;
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub use crate::rules::exchange::{ExchangeRank, sku_exchange_rank, user_exchange_rank};

/// One row of Microsoft's "Product names and service plan identifiers for licensing" table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPlan {
    /// Product display name, e.g. `Office 365 E3`.
    pub product_name: String,
    /// `skuPartNumber` (String_Id), e.g. `ENTERPRISEPACK`.
    pub sku_part_number: String,
    /// SKU GUID.
    pub sku_id: String,
    /// Service plan name, e.g. `EXCHANGE_S_ENTERPRISE`.
    pub service_plan_name: String,
    /// Service plan GUID.
    pub service_plan_id: String,
}

/// Microsoft's published table, shipped in the binary (converted to UTF-8 from the public CSV).
const SERVICE_PLANS_CSV: &str = include_str!("service-plans.csv");

/// A known product: part number, GUID, display name and its service plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Display name.
    pub product_name: String,
    /// `skuPartNumber`.
    pub sku_part_number: String,
    /// SKU GUID.
    pub sku_id: String,
    /// `(servicePlanId, servicePlanName)` pairs, in table order.
    pub service_plans: Vec<(String, String)>,
}

/// All products of Microsoft's table, keyed by upper-case `skuPartNumber`.
pub fn products() -> &'static BTreeMap<String, Product> {
    static PRODUCTS: OnceLock<BTreeMap<String, Product>> = OnceLock::new();
    PRODUCTS.get_or_init(|| {
        let mut map: BTreeMap<String, Product> = BTreeMap::new();
        for row in parse_rows(SERVICE_PLANS_CSV) {
            let product = map
                .entry(row.sku_part_number.to_ascii_uppercase())
                .or_insert_with(|| Product {
                    product_name: row.product_name.clone(),
                    sku_part_number: row.sku_part_number.clone(),
                    sku_id: row.sku_id.clone(),
                    service_plans: Vec::new(),
                });
            if !product
                .service_plans
                .iter()
                .any(|(id, _)| id == &row.service_plan_id)
            {
                product
                    .service_plans
                    .push((row.service_plan_id, row.service_plan_name));
            }
        }
        map
    })
}

/// Looks a product up by `skuPartNumber` (case-insensitive).
pub fn product(sku_part_number: &str) -> Option<&'static Product> {
    products().get(&sku_part_number.to_ascii_uppercase())
}

/// Builds a `Sku` for the live model from the catalog, for fixtures, `init` and the simulator.
pub fn sku_from_catalog(sku_part_number: &str, enabled: u32) -> Option<Sku> {
    let product = product(sku_part_number)?;
    Some(Sku {
        sku_id: product.sku_id.clone(),
        sku_part_number: product.sku_part_number.clone(),
        enabled,
        warning: 0,
        consumed: 0,
        applies_to: "User".to_string(),
        capability_status: "Enabled".to_string(),
        service_plans: product
            .service_plans
            .iter()
            .map(|(id, name)| crate::tenant::ServicePlan {
                service_plan_id: id.clone(),
                service_plan_name: name.clone(),
            })
            .collect(),
    })
}

fn parse_rows(csv: &str) -> Vec<ProductPlan> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let fields = split_csv_line(line);
            if fields.len() < 5 {
                return None;
            }
            Some(ProductPlan {
                product_name: fields[0].clone(),
                sku_part_number: fields[1].clone(),
                sku_id: fields[2].clone(),
                service_plan_name: fields[3].clone(),
                service_plan_id: fields[4].clone(),
            })
        })
        .collect()
}

/// Splits one CSV line, honouring double-quoted fields with `""` escapes.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_exchange_stacking_order() {
        assert!(ExchangeRank::Essentials < ExchangeRank::Kiosk);
        assert!(ExchangeRank::Kiosk < ExchangeRank::Plan1);
        assert!(ExchangeRank::Plan1 < ExchangeRank::Plan2);
        assert_eq!(
            ExchangeRank::of_plan("EXCHANGE_S_FOUNDATION"),
            ExchangeRank::None
        );
    }

    #[test]
    fn catalog_derives_ranks_from_plans() {
        let e3 = sku_from_catalog("ENTERPRISEPACK", 10).expect("E3 in catalog");
        assert_eq!(e3.sku_id, "6fd2c87f-b296-42f0-b197-1e91e994b900");
        assert_eq!(sku_exchange_rank(&e3, &[]), ExchangeRank::Plan2);
        let f3 = sku_from_catalog("DESKLESSPACK", 10).expect("F3 in catalog");
        assert_eq!(sku_exchange_rank(&f3, &[]), ExchangeRank::Kiosk);
        let exo = e3
            .plan_by_name("EXCHANGE_S_ENTERPRISE")
            .unwrap()
            .service_plan_id
            .clone();
        assert_eq!(sku_exchange_rank(&e3, &[exo]), ExchangeRank::None);
    }

    #[test]
    fn csv_quotes_are_honoured() {
        assert_eq!(
            split_csv_line(r#"a,"b, c","d ""e""",f"#),
            vec!["a", "b, c", "d \"e\"", "f"]
        );
    }
}

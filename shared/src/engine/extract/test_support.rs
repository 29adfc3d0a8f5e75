//! Helpers and fixtures shared by the extractors' tests.

use chrono::NaiveDate;

use super::*;

pub(crate) fn d(y: i32, m: u32, day: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, day).expect("valid test date"))
}

pub(crate) fn spans(text: &str, c: &[Candidate]) -> Vec<String> {
    c.iter().map(|c| text[c.start..c.end].to_string()).collect()
}

pub(crate) fn money_val(amount: f64, cur: Option<&str>) -> Value {
    Value::Money {
        amount,
        currency: cur.map(str::to_string),
    }
}

pub(crate) const INVOICE: &str = "ACME SUPPLIES SDN BHD\n\
    Invoice Number: INV-2024-001\n\
    Invoice Date: 15/03/2024\n\
    Due Date: 14 April 2024\n\
    Bill To:\n\
    Jane Doe\n\
    Email: jane.doe@example.com\n\
    Tel: +60 3-2141 5678\n\
    Order ID - 12345\n\
    Customer    Jane Doe\n\
    \n\
    Item                 Qty   Price\n\
    Paper A4             2     RM 12.50\n\
    \n\
    Subtotal: RM 40.00\n\
    Tax: RM 5.60\n\
    **Total Amount:** RM 45.60\n\
    Paid: Yes\n";

pub(crate) fn q<'a>(name: &'a str, kind: FieldKind) -> FieldQuery<'a> {
    FieldQuery {
        name,
        description: None,
        kind,
        values: &[],
    }
}

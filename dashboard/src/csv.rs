//! The report as CSV: UTF-8 with a byte-order mark (so Excel reads the
//! Vietnamese names correctly), comma-separated, RFC 4180 quoting, CRLF
//! line ends. Columns: the agency and sector codes and names, then the
//! eleven report columns named as in DESIGN §3.

use motcua_queries::model::Dataset;
use motcua_queries::report::{Report, ReportColumns};

use crate::charts::{agency_name, sector_name};
use crate::i18n::Lang;

pub const BOM: &str = "\u{FEFF}";

/// One CSV field, quoted when it holds a comma, quote or line break, or
/// starts with a character a spreadsheet would take for a formula.
pub fn field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula || s.contains([',', '"', '\n', '\r']) {
        let body = if formula {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        format!("\"{}\"", body.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn report_csv(report: &Report, dataset: &Dataset, lang: Lang) -> String {
    let mut out = String::from(BOM);
    let mut header = vec!["agency", "agency_name", "sector", "sector_name"];
    header.extend(ReportColumns::default().columns().map(|(name, _, _)| name));
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &report.rows {
        let agency = row.agency.as_deref();
        let sector = row.sector.as_deref();
        let a = agency.and_then(|c| dataset.agency_index(c));
        let s = sector.and_then(|c| dataset.sector_codes.iter().position(|x| x == c));
        let agency_label = match (agency, a) {
            (None, _) => lang.t().grand_total.to_owned(),
            (Some(_), Some(i)) => agency_name(dataset, i),
            (Some(code), None) => code.to_owned(),
        };
        let sector_label = match (sector, s) {
            (None, _) => String::new(),
            (Some(_), Some(i)) => sector_name(dataset, i as u32, lang),
            (Some(code), None) => code.to_owned(),
        };
        let mut fields = vec![
            field(agency.unwrap_or_default()),
            field(&agency_label),
            field(sector.unwrap_or_default()),
            field(&sector_label),
        ];
        fields.extend(row.columns.columns().map(|(_, _, v)| v.to_string()));
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(field("Sở Tư pháp"), "Sở Tư pháp");
        assert_eq!(
            field("Sở Lao động, Thương binh"),
            "\"Sở Lao động, Thương binh\""
        );
        assert_eq!(field("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(field("=1+1"), "\"'=1+1\"");
    }
}

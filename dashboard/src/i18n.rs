//! Every word the dashboard shows, in Vietnamese (the default) and English,
//! and the number and date formats of each language. All strings are NFC:
//! the chart font draws precomposed letters (ệ, ữ…) and has no mark
//! positioning for combining sequences.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use motcua_queries::report::PeriodName;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Vi, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn t(self) -> &'static Texts {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }

    /// 1234567 → "1.234.567" (vi) or "1,234,567" (en).
    pub fn int(self, n: u64) -> String {
        let sep = match self {
            Lang::Vi => '.',
            Lang::En => ',',
        };
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        out
    }

    /// A share as a percentage with `decimals` decimals: "95,3%" (vi), "95.3%" (en).
    pub fn pct(self, share: f64, decimals: usize) -> String {
        let s = format!("{:.*}", decimals, share * 100.0);
        match self {
            Lang::Vi => format!("{}%", s.replace('.', ",")),
            Lang::En => format!("{s}%"),
        }
    }

    /// A plain decimal: "2,5" (vi), "2.5" (en); integers without decimals.
    pub fn num(self, v: f64) -> String {
        let s = if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
        match self {
            Lang::Vi => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// "31/12/2025" (vi), "2025-12-31" (en).
    pub fn date(self, d: NaiveDate) -> String {
        match self {
            Lang::Vi => d.format("%d/%m/%Y").to_string(),
            Lang::En => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// A short month label: "T7/2025" (vi), "Jul 2025" (en).
    pub fn month_short(self, p: PeriodName) -> String {
        match p {
            PeriodName::Month(y, m) => match self {
                Lang::Vi => format!("T{m}/{y}"),
                Lang::En => format!("{} {y}", EN_MONTHS[(m as usize).clamp(1, 12) - 1]),
            },
            other => other.to_string(),
        }
    }

    /// A period in words: "Quý III năm 2025", "Q3 2025".
    pub fn period(self, p: PeriodName) -> String {
        const ROMAN: [&str; 4] = ["I", "II", "III", "IV"];
        match (self, p) {
            (Lang::Vi, PeriodName::Year(y)) => format!("Năm {y}"),
            (Lang::Vi, PeriodName::Half(y, 1)) => format!("6 tháng đầu năm {y}"),
            (Lang::Vi, PeriodName::Half(y, _)) => format!("6 tháng cuối năm {y}"),
            (Lang::Vi, PeriodName::Quarter(y, q)) => {
                format!("Quý {} năm {y}", ROMAN[(q as usize).clamp(1, 4) - 1])
            }
            (Lang::Vi, PeriodName::Month(y, m)) => format!("Tháng {m} năm {y}"),
            (Lang::En, PeriodName::Year(y)) => format!("Year {y}"),
            (Lang::En, PeriodName::Half(y, h)) => format!("H{h} {y}"),
            (Lang::En, PeriodName::Quarter(y, q)) => format!("Q{q} {y}"),
            (Lang::En, PeriodName::Month(y, m)) => {
                format!("{} {y}", EN_MONTHS_LONG[(m as usize).clamp(1, 12) - 1])
            }
        }
    }
}

const EN_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const EN_MONTHS_LONG: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vi" => Ok(Lang::Vi),
            "en" => Ok(Lang::En),
            _ => Err(format!(
                "{:?} is not a supported language: use vi or en",
                s.chars().take(20).collect::<String>()
            )),
        }
    }
}

/// Text from the data (agency and sector names) in NFC, as the font needs.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// The words of one language.
#[derive(Debug)]
pub struct Texts {
    // Charts.
    pub on_time_trend: &'static str,
    pub timeliness_by_agency: &'static str,
    pub timeliness_by_sector: &'static str,
    pub intake_by_channel: &'static str,
    pub processing_time_distribution: &'static str,
    pub pending_by_agency: &'static str,
    pub pending_by_sector: &'static str,
    pub satisfaction_by_agency: &'static str,
    pub digitization_by_agency: &'static str,
    pub digitization_by_sector: &'static str,
    pub month: &'static str,
    pub on_time_rate_pct: &'static str,
    pub on_time_rate_legend: &'static str,
    /// Followed by the target, e.g. "Mục tiêu 95%".
    pub target: &'static str,
    pub resolved_count: &'static str,
    pub early: &'static str,
    pub on_time: &'static str,
    pub late: &'static str,
    pub share_of_resolved_pct: &'static str,
    pub received_count: &'static str,
    pub direct: &'static str,
    pub online: &'static str,
    pub postal: &'static str,
    pub online_share: &'static str,
    pub online_share_pct: &'static str,
    pub workdays_axis: &'static str,
    pub dossiers: &'static str,
    pub resolved_dossiers: &'static str,
    /// Followed by the deadline in working days.
    pub common_deadline: &'static str,
    pub workdays_unit: &'static str,
    pub of_dossiers: &'static str,
    pub other_deadlines: &'static str,
    pub median: &'static str,
    pub p90: &'static str,
    pub within_deadline: &'static str,
    pub in_time: &'static str,
    pub overdue: &'static str,
    pub paused: &'static str,
    pub pending_count: &'static str,
    pub at_instant: &'static str,
    pub very_satisfied: &'static str,
    pub satisfied: &'static str,
    pub dissatisfied: &'static str,
    pub share_of_evaluations_pct: &'static str,
    pub digitized: &'static str,
    pub e_result: &'static str,
    pub rate_pct: &'static str,
    pub no_data: &'static str,
    pub whole_province: &'static str,
    pub agency: &'static str,
    pub source: &'static str,
    pub period: &'static str,
    pub generated: &'static str,
    /// "Showing {shown} of {total}, worst first".
    pub showing_worst: &'static str,
    pub unknown_sector: &'static str,
    pub overall: &'static str,
    pub right_axis: &'static str,
    pub evaluations: &'static str,
    // Report.
    pub report_form: &'static str,
    pub report_basis: &'static str,
    pub report_title: &'static str,
    pub report_period: &'static str,
    pub report_from_to: &'static str,
    pub report_cutoff: &'static str,
    pub report_cutoff_now: &'static str,
    pub report_unit: &'static str,
    pub report_scope: &'static str,
    pub col_no: &'static str,
    pub col_name: &'static str,
    pub col_received: &'static str,
    pub col_received_total: &'static str,
    pub col_of_which: &'static str,
    pub col_new: &'static str,
    pub col_online: &'static str,
    pub col_offline: &'static str,
    pub col_carried_over: &'static str,
    pub col_results: &'static str,
    pub col_resolved: &'static str,
    pub col_total: &'static str,
    pub col_early: &'static str,
    pub col_on_time: &'static str,
    pub col_late: &'static str,
    pub col_pending: &'static str,
    pub col_in_time: &'static str,
    pub col_overdue: &'static str,
    pub grand_total: &'static str,
    pub no_rows: &'static str,
    pub report_notes: &'static [&'static str],
    pub charts_heading: &'static str,
    pub downloads: &'static str,
    pub print: &'static str,
    // Index page.
    pub index_title: &'static str,
    pub index_intro: &'static str,
    pub periods: &'static str,
    pub charts: &'static str,
    pub choose: &'static str,
    pub all_agencies: &'static str,
    pub show_report: &'static str,
    pub language: &'static str,
    pub data_loaded: &'static str,
    // Service index (DESIGN §8).
    pub service_index_by_agency: &'static str,
    /// The six groups of the index, in order (group 1 first).
    pub index_groups: [&'static str; 6],
    pub index_score_axis: &'static str,
    pub index_points_of_max: &'static str,
    pub service_index_title: &'static str,
    pub index_estimate_note: &'static str,
    pub index_link: &'static str,
    pub index_ranking: &'static str,
    pub index_detail: &'static str,
    pub col_rank: &'static str,
    pub col_score: &'static str,
    pub col_points: &'static str,
    pub col_max: &'static str,
    pub col_indicator: &'static str,
    pub col_group: &'static str,
    pub col_numerator: &'static str,
    pub col_denominator: &'static str,
    pub col_rate: &'static str,
    pub col_costliest: &'static str,
    pub not_applicable: &'static str,
    pub declared: &'static str,
    // Workbooks (sheet names: at most 31 characters, none of []:*?/\).
    pub sheet_report: &'static str,
    pub sheet_ranking: &'static str,
    pub sheet_indicators: &'static str,
    pub col_agency_code: &'static str,
    // Home page.
    pub report_downloads: &'static str,
    pub index_downloads: &'static str,
    pub show_charts: &'static str,
}

pub static VI: Texts = Texts {
    on_time_trend: "Tỷ lệ hồ sơ giải quyết đúng hạn theo tháng",
    timeliness_by_agency: "Kết quả giải quyết hồ sơ theo cơ quan, đơn vị",
    timeliness_by_sector: "Kết quả giải quyết hồ sơ theo lĩnh vực",
    intake_by_channel: "Hồ sơ tiếp nhận theo kênh và tỷ lệ tiếp nhận trực tuyến",
    processing_time_distribution: "Phân bố thời gian giải quyết hồ sơ",
    pending_by_agency: "Hồ sơ đang giải quyết theo cơ quan, đơn vị",
    pending_by_sector: "Hồ sơ đang giải quyết theo lĩnh vực",
    satisfaction_by_agency: "Mức độ hài lòng của người dân, doanh nghiệp theo cơ quan, đơn vị",
    digitization_by_agency: "Số hóa hồ sơ và cấp kết quả điện tử theo cơ quan, đơn vị",
    digitization_by_sector: "Số hóa hồ sơ và cấp kết quả điện tử theo lĩnh vực",
    month: "Tháng",
    on_time_rate_pct: "Tỷ lệ đúng hạn (%)",
    on_time_rate_legend: "Tỷ lệ trước hạn và đúng hạn",
    target: "Mục tiêu",
    resolved_count: "Số hồ sơ đã giải quyết",
    early: "Trước hạn",
    on_time: "Đúng hạn",
    late: "Quá hạn",
    share_of_resolved_pct: "Tỷ lệ trên số hồ sơ đã giải quyết (%)",
    received_count: "Số hồ sơ tiếp nhận",
    direct: "Trực tiếp",
    online: "Trực tuyến",
    postal: "Dịch vụ bưu chính",
    online_share: "Tỷ lệ trực tuyến",
    online_share_pct: "Tỷ lệ trực tuyến (%)",
    workdays_axis: "Thời gian giải quyết (ngày làm việc)",
    dossiers: "Số hồ sơ",
    resolved_dossiers: "Hồ sơ đã giải quyết",
    common_deadline: "Thời hạn phổ biến nhất",
    workdays_unit: "ngày làm việc",
    of_dossiers: "số hồ sơ",
    other_deadlines: "Thời hạn khác của thủ tục (ngày làm việc)",
    median: "Trung vị",
    p90: "90% hồ sơ trong",
    within_deadline: "không vượt thời hạn của thủ tục",
    in_time: "Trong hạn",
    overdue: "Quá hạn",
    paused: "Tạm dừng (chờ bổ sung, nghĩa vụ tài chính)",
    pending_count: "Số hồ sơ đang giải quyết",
    at_instant: "tại thời điểm",
    very_satisfied: "Rất hài lòng",
    satisfied: "Hài lòng",
    dissatisfied: "Không hài lòng",
    share_of_evaluations_pct: "Tỷ lệ trên số lượt đánh giá (%)",
    digitized: "Hồ sơ có thành phần số hóa (% hồ sơ tiếp nhận)",
    e_result: "Cấp kết quả điện tử (% hồ sơ đã giải quyết)",
    rate_pct: "Tỷ lệ (%)",
    no_data: "Không có dữ liệu trong kỳ",
    whole_province: "Toàn tỉnh",
    agency: "Cơ quan",
    source: "Nguồn",
    period: "Kỳ",
    generated: "Lập lúc",
    showing_worst: "Hiển thị {shown}/{total} đơn vị có chỉ số thấp nhất",
    unknown_sector: "Chưa xác định lĩnh vực",
    overall: "Cả kỳ",
    right_axis: "trục phải",
    evaluations: "lượt đánh giá",
    report_form: "Biểu số 06/VPCP/KSTT",
    report_basis: "Ban hành kèm theo Thông tư số 01/2020/TT-VPCP ngày 21/10/2020",
    report_title: "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
    report_period: "Kỳ báo cáo",
    report_from_to: "từ ngày {from} đến ngày {to}",
    report_cutoff: "Số liệu tính đến",
    report_cutoff_now: "kỳ báo cáo chưa kết thúc",
    report_unit: "Đơn vị tính: số hồ sơ thủ tục hành chính",
    report_scope: "Phạm vi",
    col_no: "STT",
    col_name: "Cơ quan, đơn vị / Lĩnh vực giải quyết",
    col_received: "Số hồ sơ nhận giải quyết",
    col_received_total: "Tổng số",
    col_of_which: "Trong đó",
    col_new: "Số mới tiếp nhận",
    col_online: "Trực tuyến",
    col_offline: "Trực tiếp, dịch vụ bưu chính",
    col_carried_over: "Số kỳ trước chuyển qua",
    col_results: "Kết quả giải quyết",
    col_resolved: "Số hồ sơ đã giải quyết",
    col_total: "Tổng số",
    col_early: "Trả trước hạn",
    col_on_time: "Trả đúng hạn",
    col_late: "Trả quá hạn",
    col_pending: "Số hồ sơ đang giải quyết",
    col_in_time: "Trong hạn",
    col_overdue: "Quá hạn",
    grand_total: "Tổng cộng",
    no_rows: "Không có hồ sơ nào trong kỳ báo cáo.",
    report_notes: &[
        "(3) = (4) + (5) + (6); (7) = (8) + (9) + (10); (11) = (3) − (7) = (12) + (13).",
        "Hồ sơ rút hoặc dừng giải quyết được tính vào số đã giải quyết, cột đúng hạn (9), như quy định của biểu mẫu.",
        "Hồ sơ đang tạm dừng để bổ sung hoặc thực hiện nghĩa vụ tài chính được tính là trong hạn (12).",
        "Số liệu của mỗi cơ quan chỉ gồm hồ sơ do chính cơ quan đó tiếp nhận, không cộng dồn đơn vị cấp dưới.",
    ],
    charts_heading: "Biểu đồ minh họa",
    downloads: "Tải xuống",
    print: "In báo cáo",
    index_title: "Báo cáo, biểu đồ kết quả giải quyết thủ tục hành chính",
    index_intro: "Số liệu từ hệ thống thông tin một cửa điện tử, tính theo cùng định nghĩa với bộ chỉ số giám sát.",
    periods: "Kỳ báo cáo",
    charts: "Biểu đồ",
    choose: "Chọn kỳ và cơ quan",
    all_agencies: "Tất cả cơ quan (toàn tỉnh)",
    show_report: "Xem báo cáo",
    language: "Ngôn ngữ",
    data_loaded: "Dữ liệu nạp lúc",
    service_index_by_agency: "Chỉ số phục vụ người dân, doanh nghiệp (ước tính) theo cơ quan, đơn vị",
    index_groups: [
        "Công khai, minh bạch",
        "Tiến độ giải quyết",
        "Dịch vụ công trực tuyến",
        "Thanh toán trực tuyến",
        "Số hóa hồ sơ",
        "Mức độ hài lòng",
    ],
    index_score_axis: "Điểm quy về thang 100, theo nhóm chỉ số",
    index_points_of_max: "Điểm/tối đa",
    service_index_title: "Bộ chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg) — ước tính",
    index_estimate_note: "Đây là ước tính từ dữ liệu của hệ thống một cửa điện tử; điểm công bố trên Cổng Dịch vụ công quốc gia có thể khác. Chỉ số kê khai do đơn vị vận hành nhập theo số liệu của Cổng và chỉ tính vào điểm toàn tỉnh. Chỉ số không áp dụng (mẫu số bằng 0) không tính vào điểm tối đa.",
    index_link: "Chỉ số phục vụ người dân, doanh nghiệp (ước tính)",
    index_ranking: "Xếp hạng cơ quan, đơn vị",
    index_detail: "Chi tiết theo chỉ số",
    col_rank: "Hạng",
    col_score: "Điểm (thang 100)",
    col_points: "Điểm",
    col_max: "Tối đa",
    col_indicator: "Chỉ số",
    col_group: "Nhóm",
    col_numerator: "Tử số",
    col_denominator: "Mẫu số",
    col_rate: "Tỷ lệ",
    col_costliest: "Chỉ số mất nhiều điểm nhất",
    not_applicable: "Không áp dụng",
    declared: "Kê khai",
    sheet_report: "Biểu 06",
    sheet_ranking: "Xếp hạng",
    sheet_indicators: "Chi tiết theo chỉ số",
    col_agency_code: "Mã cơ quan",
    report_downloads: "Báo cáo Biểu 06",
    index_downloads: "Chỉ số phục vụ (ước tính)",
    show_charts: "Xem biểu đồ",
};

pub static EN: Texts = Texts {
    on_time_trend: "Dossiers resolved on time, by month",
    timeliness_by_agency: "Resolution timeliness by agency",
    timeliness_by_sector: "Resolution timeliness by sector",
    intake_by_channel: "Dossiers received by channel, and the online share",
    processing_time_distribution: "Processing time of resolved dossiers",
    pending_by_agency: "Dossiers in progress by agency",
    pending_by_sector: "Dossiers in progress by sector",
    satisfaction_by_agency: "Citizen and business satisfaction by agency",
    digitization_by_agency: "Digitized dossiers and electronic results by agency",
    digitization_by_sector: "Digitized dossiers and electronic results by sector",
    month: "Month",
    on_time_rate_pct: "On-time rate (%)",
    on_time_rate_legend: "Early or on time",
    target: "Target",
    resolved_count: "Dossiers resolved",
    early: "Early",
    on_time: "On time",
    late: "Late",
    share_of_resolved_pct: "Share of dossiers resolved (%)",
    received_count: "Dossiers received",
    direct: "In person",
    online: "Online",
    postal: "Postal",
    online_share: "Online share",
    online_share_pct: "Online share (%)",
    workdays_axis: "Processing time (working days)",
    dossiers: "Dossiers",
    resolved_dossiers: "Dossiers resolved",
    common_deadline: "Most common deadline",
    workdays_unit: "working days",
    of_dossiers: "of dossiers",
    other_deadlines: "Other procedure deadlines (working days)",
    median: "Median",
    p90: "90% of dossiers within",
    within_deadline: "within their procedure's deadline",
    in_time: "In time",
    overdue: "Overdue",
    paused: "Paused (awaiting supplements or fees)",
    pending_count: "Dossiers in progress",
    at_instant: "at",
    very_satisfied: "Very satisfied",
    satisfied: "Satisfied",
    dissatisfied: "Dissatisfied",
    share_of_evaluations_pct: "Share of evaluations (%)",
    digitized: "Dossiers with digitized components (% of received)",
    e_result: "Electronic results (% of resolved)",
    rate_pct: "Rate (%)",
    no_data: "No data in this period",
    whole_province: "Whole province",
    agency: "Agency",
    source: "Source",
    period: "Period",
    generated: "Generated",
    showing_worst: "Showing {shown} of {total}, lowest first",
    unknown_sector: "Sector not recorded",
    overall: "Whole period",
    right_axis: "right axis",
    evaluations: "evaluations",
    report_form: "Form 06/VPCP/KSTT",
    report_basis: "Circular 01/2020/TT-VPCP of 21 October 2020",
    report_title: "ADMINISTRATIVE PROCEDURE DOSSIERS: INTAKE AND RESULTS",
    report_period: "Reporting period",
    report_from_to: "from {from} to {to}",
    report_cutoff: "Data as of",
    report_cutoff_now: "the period has not ended",
    report_unit: "Unit: administrative-procedure dossiers",
    report_scope: "Scope",
    col_no: "No.",
    col_name: "Agency / sector",
    col_received: "Dossiers to resolve",
    col_received_total: "Total",
    col_of_which: "Of which",
    col_new: "Received in the period",
    col_online: "Online",
    col_offline: "In person or by post",
    col_carried_over: "Carried over",
    col_results: "Results",
    col_resolved: "Resolved",
    col_total: "Total",
    col_early: "Early",
    col_on_time: "On time",
    col_late: "Late",
    col_pending: "In progress",
    col_in_time: "In time",
    col_overdue: "Overdue",
    grand_total: "Grand total",
    no_rows: "No dossiers in this period.",
    report_notes: &[
        "(3) = (4) + (5) + (6); (7) = (8) + (9) + (10); (11) = (3) − (7) = (12) + (13).",
        "Withdrawn or stopped dossiers count as resolved on time (9), as the form prescribes.",
        "Dossiers paused for supplements or fees count as in time (12).",
        "Each agency's rows count only the dossiers it received itself; subordinate units are not rolled up.",
    ],
    charts_heading: "Charts",
    downloads: "Download",
    print: "Print",
    index_title: "Administrative-procedure reports and charts",
    index_intro: "Figures from the one-stop electronic system, computed with the same definitions as the monitoring metrics.",
    periods: "Reporting periods",
    charts: "Charts",
    choose: "Choose a period and an agency",
    all_agencies: "All agencies (whole province)",
    show_report: "Show report",
    language: "Language",
    data_loaded: "Data loaded",
    service_index_by_agency: "Service index for citizens and businesses (estimate) by agency",
    index_groups: [
        "Publicity and transparency",
        "Processing progress",
        "Online public services",
        "Online payment",
        "Digitisation",
        "Satisfaction",
    ],
    index_score_axis: "Points on a scale of 100, by group of indicators",
    index_points_of_max: "Points/max",
    service_index_title: "Service index for citizens and businesses (Decision 766/QĐ-TTg) — estimate",
    index_estimate_note: "An estimate from the one-stop system's data; the score the national public service portal publishes may differ. Declared indicators are entered by the operator from the portal's figures and count only in the province's score. An indicator that does not apply (denominator 0) leaves the maximum.",
    index_link: "Service index for citizens and businesses (estimate)",
    index_ranking: "Agencies ranked",
    index_detail: "By indicator",
    col_rank: "Rank",
    col_score: "Score (of 100)",
    col_points: "Points",
    col_max: "Maximum",
    col_indicator: "Indicator",
    col_group: "Group",
    col_numerator: "Numerator",
    col_denominator: "Denominator",
    col_rate: "Rate",
    col_costliest: "Indicator losing the most points",
    not_applicable: "Not applicable",
    declared: "Declared",
    sheet_report: "Form 06",
    sheet_ranking: "Ranking",
    sheet_indicators: "By indicator",
    col_agency_code: "Agency code",
    report_downloads: "Form 06 report",
    index_downloads: "Service index (estimate)",
    show_charts: "Show charts",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_follow_the_language() {
        assert_eq!(Lang::Vi.int(1_234_567), "1.234.567");
        assert_eq!(Lang::En.int(1_234_567), "1,234,567");
        assert_eq!(Lang::Vi.int(999), "999");
        assert_eq!(Lang::Vi.int(0), "0");
        assert_eq!(Lang::Vi.pct(0.9534, 1), "95,3%");
        assert_eq!(Lang::En.pct(0.9534, 1), "95.3%");
        assert_eq!(Lang::Vi.num(2.5), "2,5");
        assert_eq!(Lang::Vi.num(15.0), "15");
        let d = NaiveDate::from_ymd_opt(2025, 7, 4).unwrap();
        assert_eq!(Lang::Vi.date(d), "04/07/2025");
        assert_eq!(
            Lang::Vi.period("2025-Q3".parse().unwrap()),
            "Quý III năm 2025"
        );
        assert_eq!(
            Lang::Vi.period("2025-H1".parse().unwrap()),
            "6 tháng đầu năm 2025"
        );
        assert_eq!(Lang::En.month_short("2025-07".parse().unwrap()), "Jul 2025");
        assert_eq!(Lang::Vi.month_short("2025-07".parse().unwrap()), "T7/2025");
        assert!("fr".parse::<Lang>().unwrap_err().contains("vi or en"));
    }
}

//! `Label: value` rows aligned in one column, as the plain-text summary of
//! the body and the text of stub parts show them (one look for both).

/// Width of the label column.
const LABEL_WIDTH: usize = 14;

/// Appends `Label:` padded to the label column, the value and a line break.
pub(super) fn push_plain_row(out: &mut String, label: &str, value: &str) {
    out.push_str(label);
    out.push(':');
    for _ in label.len() + 1..LABEL_WIDTH {
        out.push(' ');
    }
    out.push_str(value);
    out.push('\n');
}

//! HTML escaping for the small pages every role writes (deny pages, sign-in and sign-out
//! pages, the user page): one function, so no role escapes differently.

/// Escapes `text` for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The headers every page portcullis itself writes carries: no MIME sniffing, no framing
/// (click-jacking), no referrer leaking the URL to other sites. One list, so every role sends the same.
pub const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    // Not `no-referrer`: under it browsers send `Origin: null` with same-origin form posts,
    // and the sign-out forms check `Origin`. `same-origin` still sends nothing to other sites.
    ("referrer-policy", "same-origin"),
];

/// What an error page says.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage<'a> {
    /// The HTTP status (`403`).
    pub status: u16,
    /// A short title (`forbidden`).
    pub title: &'a str,
    /// One safe sentence for the reader.
    pub message: &'a str,
    /// The request id (empty: none shown).
    pub request_id: &'a str,
    /// Policy reasons, shown only when `show_error_details` is on (`None`: not shown).
    pub reasons: Option<&'a [String]>,
}

impl ErrorPage<'_> {
    /// The page as a small, self-contained HTML document; every value escaped.
    pub fn html(&self) -> String {
        let mut out = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{status} {title}</title>\
             </head><body><h1>{status} {title}</h1><p>{message}.</p>",
            status = self.status,
            title = escape(self.title),
            message = escape(self.message),
        );
        if let Some(reasons) = self.reasons.filter(|r| !r.is_empty()) {
            out.push_str("<p>Reasons: ");
            out.push_str(&escape(&reasons.join(", ")));
            out.push_str("</p>");
        }
        if !self.request_id.is_empty() {
            out.push_str("<p>Request id: <code>");
            out.push_str(&escape(self.request_id));
            out.push_str("</code></p>");
        }
        out.push_str("</body></html>\n");
        out
    }

    /// The page as JSON: `{"status", "error", "message", "request_id", "reasons"?}`.
    pub fn json(&self) -> String {
        let mut body = serde_json::json!({
            "status": self.status,
            "error": self.title,
            "message": self.message,
            "request_id": self.request_id,
        });
        if let Some(reasons) = self.reasons {
            body["reasons"] = serde_json::json!(reasons);
        }
        body.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_escape_and_show_reasons_only_when_given() {
        let reasons = vec!["email-unauthorized".to_owned()];
        let mut page = super::ErrorPage {
            status: 403,
            title: "forbidden",
            message: "access denied",
            request_id: "<id>",
            reasons: None,
        };
        let html = page.html();
        assert!(html.contains("&lt;id&gt;") && !html.contains("<id>"));
        assert!(!html.contains("Reasons") && !page.json().contains("reasons"));
        page.reasons = Some(&reasons);
        assert!(page.html().contains("email-unauthorized"));
        let json: serde_json::Value = serde_json::from_str(&page.json()).unwrap();
        assert_eq!(json["status"], 403);
        assert_eq!(json["request_id"], "<id>");
        assert_eq!(json["reasons"][0], "email-unauthorized");
    }

    #[test]
    fn markup_and_both_quotes_are_neutralised() {
        assert_eq!(
            super::escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(super::escape("plain é"), "plain é");
    }
}

//! Criteria about the request itself: `http_method`, `http_path`, `source_ip`.
//! (`cors_preflight` is a flag, evaluated in the parent module.)

use std::net::IpAddr;

use ipnet::IpNet;
use portcullis_yaml::Node;

use crate::error::Sink;
use crate::input::Input;
use crate::matchers::{StringMatcher, scalar_list};
use crate::reasons::Reason;

/// `source_ip`: addresses and CIDR ranges, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct SourceIp {
    nets: Box<[IpNet]>,
}

pub(super) fn http_method(m: &StringMatcher, input: &Input<'_>) -> (bool, Reason) {
    match m.matches(input.request.method) {
        true => (true, Reason::HttpMethodOk),
        false => (false, Reason::HttpMethodUnauthorized),
    }
}

pub(super) fn http_path(m: &StringMatcher, input: &Input<'_>) -> (bool, Reason) {
    match m.matches(input.request.path) {
        true => (true, Reason::HttpPathOk),
        false => (false, Reason::HttpPathUnauthorized),
    }
}

// === impl SourceIp ===

impl SourceIp {
    /// An address or CIDR range, or a list of them.
    pub(super) fn compile(value: &Node, sink: &mut Sink<'_>) -> Option<SourceIp> {
        let items = scalar_list(value, sink)?;
        let before = sink.count();
        let mut nets = Vec::with_capacity(items.len());
        for item in items {
            let text = item.as_str().unwrap_or_default().trim();
            match parse_net(text) {
                Some(net) => nets.push(net),
                None => sink.error(
                    item,
                    format_args!("\"{text}\" is not an IP address or a CIDR range"),
                ),
            }
        }
        (sink.count() == before).then(|| SourceIp {
            nets: nets.into_boxed_slice(),
        })
    }

    pub(super) fn evaluate(&self, input: &Input<'_>) -> (bool, Reason) {
        let ok = input.request.source_ip.is_some_and(|ip| {
            let ip = ip.to_canonical();
            self.nets.iter().any(|net| net.contains(&ip))
        });
        match ok {
            true => (true, Reason::SourceIpOk),
            false => (false, Reason::SourceIpUnauthorized),
        }
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a single address (a /32 or /128).
fn parse_net(text: &str) -> Option<IpNet> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    let ip = text.parse::<IpAddr>().ok()?.to_canonical();
    Some(IpNet::from(ip))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{anonymous, compile, eval};
    use crate::reasons::Reason::*;

    #[test]
    fn method_and_path_are_string_matchers() {
        let mut input = anonymous();
        input.request.method = "POST";
        input.request.path = "/admin/users";
        assert_eq!(eval("http_method: POST", &input), (true, HttpMethodOk));
        assert_eq!(
            eval("http_method: post", &input),
            (false, HttpMethodUnauthorized)
        );
        assert_eq!(
            eval("http_method: {in: [GET, HEAD]}", &input),
            (false, HttpMethodUnauthorized)
        );
        assert_eq!(
            eval("http_path: {starts_with: /admin/}", &input),
            (true, HttpPathOk)
        );
        assert_eq!(
            eval("http_path: /admin", &input),
            (false, HttpPathUnauthorized)
        );
    }

    #[test]
    fn source_ip_addresses_ranges_and_lists() {
        let mut input = anonymous();
        let at = |input: &mut crate::input::Input<'_>, ip: &str| {
            input.request.source_ip = Some(ip.parse().unwrap());
        };
        at(&mut input, "10.1.2.3");
        assert_eq!(eval("source_ip: 10.0.0.0/8", &input), (true, SourceIpOk));
        assert_eq!(eval("source_ip: 10.1.2.3", &input), (true, SourceIpOk));
        assert_eq!(
            eval("source_ip: 10.1.2.4", &input),
            (false, SourceIpUnauthorized)
        );
        assert_eq!(
            eval("source_ip: [192.168.0.0/16, 10.1.0.0/16]", &input),
            (true, SourceIpOk)
        );
        // The host bits of a range are ignored, as most tools do.
        assert_eq!(eval("source_ip: 10.9.9.9/8", &input), (true, SourceIpOk));
        at(&mut input, "::ffff:10.1.2.3");
        assert_eq!(eval("source_ip: 10.0.0.0/8", &input), (true, SourceIpOk));
        at(&mut input, "2001:db8::1");
        assert_eq!(
            eval("source_ip: '2001:db8::/32'", &input),
            (true, SourceIpOk)
        );
        assert_eq!(
            eval("source_ip: 10.0.0.0/8", &input),
            (false, SourceIpUnauthorized)
        );
        input.request.source_ip = None;
        assert_eq!(
            eval("source_ip: 0.0.0.0/0", &input),
            (false, SourceIpUnauthorized)
        );
    }

    #[test]
    fn bad_addresses_are_each_reported() {
        let errors = compile("source_ip: [10.0.0.300, 1.2.3.4, fe80::/200]").unwrap_err();
        let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "op: criterion \"source_ip\": \"10.0.0.300\" is not an IP address or a CIDR range",
                "op: criterion \"source_ip\": \"fe80::/200\" is not an IP address or a CIDR range",
            ]
        );
        assert!(compile("source_ip: {is: 1.2.3.4}").is_err());
    }
}

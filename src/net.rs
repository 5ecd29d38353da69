//! Small facts about network addresses that several adapters need.

use std::net::IpAddr;

use reqwest::Url;

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`): where plain
/// `http` is acceptable and a system proxy must not intercept the request.
pub fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

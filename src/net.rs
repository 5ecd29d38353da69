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

/// Why a dev server does not listen where it was told to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotLoopback {
    #[error(
        "dev mode listens on loopback addresses only, and `{addr}` reaches beyond this machine ({found}): use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT"
    )]
    Public { addr: String, found: IpAddr },
    #[error("`{addr}` is not a listen address (HOST:PORT): {reason}")]
    Unresolved { addr: String, reason: String },
}

/// The socket addresses `addr` (`HOST:PORT`) stands for, all of them loopback; refused when
/// any is not. Binding to these, not to `addr` again, leaves no second lookup that could answer
/// differently.
pub fn loopback_addrs(addr: &str) -> Result<Vec<std::net::SocketAddr>, NotLoopback> {
    use std::net::ToSocketAddrs;
    let unresolved = |reason: String| NotLoopback::Unresolved {
        addr: addr.to_owned(),
        reason,
    };
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|error| unresolved(error.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(unresolved("it names no address".to_owned()));
    }
    match addrs.iter().find(|a| !a.ip().is_loopback()) {
        Some(public) => Err(NotLoopback::Public {
            addr: addr.to_owned(),
            found: public.ip(),
        }),
        None => Ok(addrs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_listen_addresses_pass() {
        for addr in ["127.0.0.1:0", "[::1]:8080", "127.3.2.1:80"] {
            let addrs = loopback_addrs(addr).unwrap();
            assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addr}");
        }
        for addr in ["0.0.0.0:8080", "[::]:0", "192.0.2.7:80"] {
            assert!(
                matches!(loopback_addrs(addr), Err(NotLoopback::Public { .. })),
                "{addr}"
            );
        }
        assert!(matches!(
            loopback_addrs("127.0.0.1"),
            Err(NotLoopback::Unresolved { .. })
        ));
    }
}

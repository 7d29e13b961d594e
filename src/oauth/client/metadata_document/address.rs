//! The SSRF address policy of document fetches: anyone can make the server
//! fetch a URL of their choice, so a document is fetched only from a
//! globally reachable address. The host is resolved here and **every**
//! address it resolves to must pass. Refused: every block of the IANA IPv4
//! and IPv6 Special-Purpose Address Registries that is not globally
//! reachable (loopback, private, shared (CGNAT), link-local, unique-local,
//! unspecified, documentation, benchmarking, reserved, ...), multicast, the
//! whole of `2001::/23`, IPv4-mapped (`::ffff:0:0/96`), IPv4-translated
//! (`::ffff:0:0:0/96`, RFC 6145/6052) and IPv4-compatible addresses, and the
//! NAT64 and 6to4 forms of a refused IPv4 address. The fetch then connects
//! to the address checked here and nowhere else ([`super::fetch`]).
//!
//! A refusal tells the client only [`REFUSED_ADDRESS`], the same words
//! whatever the host resolved to or whether it resolved at all: the
//! server's DNS answers are not for the asking (the reason is logged).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use super::unusable;
use crate::oauth::error::OAuthError;

/// What a client is told when the host of its document URL is not an
/// address documents are fetched from, or does not resolve.
pub const REFUSED_ADDRESS: &str = "the client_id URL's host is not at a public address \
     (documents are fetched only from globally reachable addresses)";

/// Non-global IPv4 blocks (IANA IPv4 Special-Purpose Address Registry, plus
/// multicast): network, prefix length, what it is. Loopback is apart.
const V4_REFUSED: &[(Ipv4Addr, u8, &str)] = &[
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        "an unspecified address (\"this network\")",
    ),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "a private address"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "a shared (carrier-grade NAT) address",
    ),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "a link-local address"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "a private address"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "a reserved address (IETF protocol assignments)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "a reserved address (documentation)",
    ),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "a reserved address (deprecated 6to4 relay anycast)",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "a private address"),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        "a reserved address (benchmarking)",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "a reserved address (documentation)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "a reserved address (documentation)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "a multicast address"),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "a reserved address (240/4, broadcast)",
    ),
];

/// Non-global IPv6 blocks (IANA IPv6 Special-Purpose Address Registry, plus
/// site-local and multicast), in the same form. Loopback, the IPv4-mapped
/// block and the forms embedding an IPv4 address are apart.
const V6_REFUSED: &[(Ipv6Addr, u8, &str)] = &[
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        128,
        "an unspecified address",
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0),
        96,
        "an IPv4-translated address",
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        96,
        "an IPv4-compatible address",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "a reserved address (local-use NAT64)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "a reserved address (discard-only)",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        "a reserved address (dummy prefix)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "a reserved address (IETF protocol assignments, Teredo)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "a reserved address (documentation)",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "a reserved address (documentation)",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "a reserved address (segment routing SIDs)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "a unique-local address",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "a link-local address",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "a site-local address",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "a multicast address",
    ),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// Why documents are never fetched from `ip`, if they are not. Loopback
/// addresses pass when `allow_loopback` (tests only).
pub fn refuse_ip(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refuse_v4(v4, allow_loopback),
        IpAddr::V6(v6) => refuse_v6(v6, allow_loopback),
    }
}

fn refuse_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    V4_REFUSED
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, why)| *why)
}

fn refuse_v6(ip: Ipv6Addr, allow_loopback: bool) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    // ::ffff:a.b.c.d (IPv4-mapped) is not globally reachable as such:
    // refused, whatever IPv4 address it holds (loopback passes the test
    // switch like 127.0.0.1 does).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return match refuse_v4(v4, allow_loopback) {
            None if v4.is_loopback() => None,
            why => Some(why.unwrap_or("an IPv4-mapped address")),
        };
    }
    if let Some((_, _, why)) = V6_REFUSED
        .iter()
        .find(|(net, len, _)| in_v6(ip, *net, *len))
    {
        return Some(why);
    }
    // 64:ff9b::/96 (NAT64, globally reachable) embeds an IPv4 address in its
    // last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = s;
        return refuse_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)), false)
            .map(|_| "a NAT64 form of a non-public IPv4 address");
    }
    // 2002::/16 (6to4) embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return refuse_v4(
            Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])),
            false,
        )
        .map(|_| "a 6to4 form of a non-public IPv4 address");
    }
    None
}

/// The one address to connect to for `url`, after checking every address
/// its host stands for. Every refusal is [`REFUSED_ADDRESS`]; the log
/// says why.
pub async fn checked_address(url: &Url, allow_loopback: bool) -> Result<SocketAddr, OAuthError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| unusable("the client_id URL has no port"))?;
    let refused = |why: String| {
        tracing::info!(url = %url, reason = %why, "client metadata document address refused");
        unusable(REFUSED_ADDRESS)
    };
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(name)) => {
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((name, port)).await {
                Ok(found) => found.collect(),
                Err(e) => return Err(refused(format!("the host {name} does not resolve ({e})"))),
            };
            if addrs.is_empty() {
                return Err(refused(format!("the host {name} has no address")));
            }
            // Every address must pass: a mixed answer is refused whole.
            if let Some((ip, why)) = addrs
                .iter()
                .find_map(|a| refuse_ip(a.ip(), allow_loopback).map(|why| (a.ip(), why)))
            {
                return Err(refused(format!("the host {name} resolves to {ip}, {why}")));
            }
            return Ok(addrs[0]);
        }
        None => return Err(unusable("the client_id URL has no host")),
    };
    match refuse_ip(ip, allow_loopback) {
        Some(why) => Err(refused(format!("{ip} is {why}"))),
        None => Ok(SocketAddr::new(ip, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str, allow_loopback: bool) -> Option<&'static str> {
        refuse_ip(ip.parse().unwrap(), allow_loopback)
    }

    /// The first, second, middle and last address of a block.
    fn probes(block: &str) -> Vec<IpAddr> {
        let (net, len) = block.split_once('/').unwrap();
        let len: u32 = len.parse().unwrap();
        match net.parse::<IpAddr>().unwrap() {
            IpAddr::V4(n) => {
                let first = u32::from(n);
                let size = 1u64 << (32 - len);
                [0, 1, size / 2, size - 1]
                    .into_iter()
                    .filter(|o| *o < size)
                    .map(|o| IpAddr::V4(Ipv4Addr::from(first + o as u32)))
                    .collect()
            }
            IpAddr::V6(n) => {
                let first = u128::from(n);
                let last = first | u128::MAX.checked_shr(len).unwrap_or(0);
                let mid = first + (last - first) / 2;
                [first, first.saturating_add(1).min(last), mid, last]
                    .into_iter()
                    .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
                    .collect()
            }
        }
    }

    /// Every block of the IANA IPv4 Special-Purpose Address Registry
    /// (iana-ipv4-special-registry, 2025) whose "Globally Reachable" is not
    /// True, with multicast (224.0.0.0/4, its own registry) added.
    const IANA_V4_NOT_GLOBAL: &[(&str, &str)] = &[
        ("0.0.0.0/8", "\"This network\""),
        ("0.0.0.0/32", "\"This host on this network\""),
        ("10.0.0.0/8", "Private-Use"),
        ("100.64.0.0/10", "Shared Address Space"),
        ("127.0.0.0/8", "Loopback"),
        ("169.254.0.0/16", "Link Local"),
        ("172.16.0.0/12", "Private-Use"),
        ("192.0.0.0/24", "IETF Protocol Assignments"),
        ("192.0.0.0/29", "IPv4 Service Continuity Prefix"),
        ("192.0.0.8/32", "IPv4 dummy address"),
        ("192.0.0.170/32", "NAT64/DNS64 Discovery"),
        ("192.0.0.171/32", "NAT64/DNS64 Discovery"),
        ("192.0.2.0/24", "Documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)"),
        ("192.168.0.0/16", "Private-Use"),
        ("198.18.0.0/15", "Benchmarking"),
        ("198.51.100.0/24", "Documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "Documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "Multicast"),
        ("240.0.0.0/4", "Reserved"),
        ("255.255.255.255/32", "Limited Broadcast"),
    ];

    /// Every block of the IANA IPv6 Special-Purpose Address Registry
    /// (iana-ipv6-special-registry, 2025) whose "Globally Reachable" is not
    /// True, with IPv4-translated (RFC 6145/6052), site-local and multicast
    /// added. 64:ff9b::/96 and 2002::/16 are judged by the IPv4 address they
    /// embed (`embedded_ipv4_forms`).
    const IANA_V6_NOT_GLOBAL: &[(&str, &str)] = &[
        ("::1/128", "Loopback Address"),
        ("::/128", "Unspecified Address"),
        ("::ffff:0:0/96", "IPv4-mapped Address"),
        ("::ffff:0:0:0/96", "IPv4-translated Address (RFC 6145)"),
        ("::/96", "IPv4-compatible Address (deprecated)"),
        ("64:ff9b:1::/48", "IPv4-IPv6 Translat. (local use)"),
        ("100::/64", "Discard-Only Address Block"),
        ("100:0:0:1::/64", "Dummy IPv6 Prefix"),
        ("2001::/23", "IETF Protocol Assignments"),
        ("2001::/32", "TEREDO"),
        ("2001:2::/48", "Benchmarking"),
        ("2001:10::/28", "Deprecated (previously ORCHID)"),
        ("2001:db8::/32", "Documentation"),
        ("3fff::/20", "Documentation"),
        ("5f00::/16", "Segment Routing (SRv6) SIDs"),
        ("fc00::/7", "Unique-Local"),
        ("fe80::/10", "Link-Local Unicast"),
        ("fec0::/10", "Site-Local (deprecated)"),
        ("ff00::/8", "Multicast"),
    ];

    #[test]
    fn every_non_global_iana_special_purpose_block_is_refused() {
        for (block, name) in IANA_V4_NOT_GLOBAL.iter().chain(IANA_V6_NOT_GLOBAL) {
            for ip in probes(block) {
                assert!(
                    refuse_ip(ip, false).is_some(),
                    "{ip} ({block}, {name}) passed"
                );
            }
        }
        // Ordinary global addresses, and registry blocks that are globally
        // reachable, pass.
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "192.31.196.1",
            "192.175.48.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "2620:4f:8000::1",
            "2001:200::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(refused(ip, false), None, "{ip}");
        }
    }

    #[test]
    fn ipv4_translated_is_refused() {
        // ::ffff:0:a.b.c.d, whatever the IPv4 address.
        for ip in ["::ffff:0:7f00:1", "::ffff:0:a00:1", "::ffff:0:808:808"] {
            assert_eq!(
                refused(ip, false),
                Some("an IPv4-translated address"),
                "{ip}"
            );
            assert!(refused(ip, true).is_some(), "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_forms() {
        for (ip, why) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:8.8.8.8", "IPv4-mapped"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("64:ff9b::a9fe:a9fe", "NAT64"),
            ("64:ff9b::7f00:1", "NAT64"),
            ("2002:a00:1::1", "6to4"),
            ("2002:7f00:1::1", "6to4"),
        ] {
            let got = refused(ip, false).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(got.contains(why), "{ip}: {got}");
        }
    }

    #[test]
    fn the_test_switch_admits_loopback_only() {
        for ip in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(refused(ip, false).unwrap().contains("loopback"), "{ip}");
            assert_eq!(refused(ip, true), None, "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "169.254.169.254",
            "fe80::1",
            "fc00::1",
            "0.0.0.0",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
        ] {
            assert!(refused(ip, true).is_some(), "{ip}");
        }
    }
}

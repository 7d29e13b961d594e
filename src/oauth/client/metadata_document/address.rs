//! The SSRF address policy of document fetches: anyone can make the server
//! fetch a URL of their choice, so a document is fetched only from a public
//! address. The host is resolved here and **every** address it resolves to
//! must pass: loopback, private, shared (CGNAT), link-local, unique-local,
//! multicast, unspecified, reserved and documentation ranges are refused,
//! IPv4-mapped, NAT64 and 6to4 forms by the IPv4 address they embed. The
//! fetch then connects to the address checked here and nowhere else
//! ([`super::fetch`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use super::unusable;
use crate::oauth::error::OAuthError;

/// Why documents are never fetched from `ip`, if they are not. Loopback
/// addresses pass when `allow_loopback` (tests only).
pub fn refuse_ip(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refuse_v4(v4, allow_loopback),
        IpAddr::V6(v6) => refuse_v6(v6, allow_loopback),
    }
}

fn refuse_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    if a == 0 {
        return Some("an unspecified address");
    }
    if ip.is_private() {
        return Some("a private address");
    }
    if ip.is_link_local() {
        return Some("a link-local address");
    }
    if a == 100 && (64..128).contains(&b) {
        return Some("a shared (carrier-grade NAT) address");
    }
    if ip.is_multicast() {
        return Some("a multicast address");
    }
    // 240/4 reserved and the broadcast address; IETF protocol assignments
    // (192.0.0/24), documentation (192.0.2/24, 198.51.100/24, 203.0.113/24),
    // benchmarking (198.18/15).
    if a >= 240
        || (a, b, c) == (192, 0, 0)
        || (a, b, c) == (192, 0, 2)
        || (a, b, c) == (198, 51, 100)
        || (a, b, c) == (203, 0, 113)
        || (a == 198 && (b == 18 || b == 19))
    {
        return Some("a reserved address");
    }
    None
}

fn refuse_v6(ip: Ipv6Addr, allow_loopback: bool) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    // ::ffff:a.b.c.d: the IPv4 address decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refuse_v4(v4, allow_loopback);
    }
    // 64:ff9b::/96 (NAT64) embeds an IPv4 address in its last 32 bits.
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
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return Some("an IPv4-compatible address");
    }
    if (s[0] & 0xffc0) == 0xfe80 {
        return Some("a link-local address");
    }
    if (s[0] & 0xffc0) == 0xfec0 {
        return Some("a site-local address");
    }
    if (s[0] & 0xfe00) == 0xfc00 {
        return Some("a unique-local address");
    }
    if (s[0] & 0xff00) == 0xff00 {
        return Some("a multicast address");
    }
    // Documentation (2001:db8::/32), Teredo (2001::/32, reaches IPv4
    // hosts), discard (100::/64), local-use NAT64 (64:ff9b:1::/48).
    if (s[0], s[1]) == (0x2001, 0x0db8)
        || (s[0], s[1]) == (0x2001, 0)
        || s[..4] == [0x100, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
    {
        return Some("a reserved address");
    }
    None
}

/// The one address to connect to for `url`, after checking every address
/// its host stands for.
pub async fn checked_address(url: &Url, allow_loopback: bool) -> Result<SocketAddr, OAuthError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| unusable("the client_id URL has no port"))?;
    let refused = |ip: IpAddr, why: &str, via: Option<&str>| {
        unusable(match via {
            Some(name) => format!(
                "the host {name} resolves to {ip}, {why}; documents are fetched only from \
                 public addresses"
            ),
            None => format!("{ip} is {why}; documents are fetched only from public addresses"),
        })
    };
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(name)) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| unusable(format!("the host {name} does not resolve ({e})")))?
                .collect();
            if addrs.is_empty() {
                return Err(unusable(format!("the host {name} has no address")));
            }
            // Every address must pass: a mixed answer is refused whole.
            if let Some((ip, why)) = addrs
                .iter()
                .find_map(|a| refuse_ip(a.ip(), allow_loopback).map(|why| (a.ip(), why)))
            {
                return Err(refused(ip, why, Some(name)));
            }
            return Ok(addrs[0]);
        }
        None => return Err(unusable("the client_id URL has no host")),
    };
    match refuse_ip(ip, allow_loopback) {
        Some(why) => Err(refused(ip, why, None)),
        None => Ok(SocketAddr::new(ip, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str, allow_loopback: bool) -> Option<&'static str> {
        refuse_ip(ip.parse().unwrap(), allow_loopback)
    }

    #[test]
    fn only_public_addresses() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.9.9.9", "loopback"),
            ("::1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("192.0.2.1", "reserved"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("64:ff9b::a9fe:a9fe", "NAT64"),
            ("2002:a00:1::1", "6to4"),
            ("2001:db8::1", "reserved"),
            ("2001:0:4136:e378::1", "reserved"),
        ] {
            let got = refused(ip, false).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(got.contains(why), "{ip}: {got}");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(refused(ip, false), None, "{ip}");
        }
        // The test switch admits loopback, and nothing else.
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(refused(ip, true), None, "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "169.254.169.254",
            "fe80::1",
            "fc00::1",
            "0.0.0.0",
        ] {
            assert!(refused(ip, true).is_some(), "{ip}");
        }
    }
}

//! nftables `netdev` ingress rules owned by lvsd: drop, before the IP stack,
//! the packets the built-in data plane forwards (the AF_PACKET ring has
//! already copied them — see the module docs of [`super`]).
//!
//! Rules are installed in one table per owner (`table netdev <name>`), one
//! chain per device, replaced atomically with `nft -f -`, and the table is
//! deleted when the [`IngressGuard`] is dropped.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::process::{Command, Stdio};

/// One class of packets to hide from the local stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressDrop {
    /// Packets toward a virtual service (`proto` is `tcp`/`udp`/`sctp`;
    /// port 0 = every port of the address).
    ToService {
        /// L4 protocol number (6, 17, 132).
        proto: u8,
        /// Virtual address.
        vip: IpAddr,
        /// Virtual port (0: any).
        port: u16,
    },
    /// Replies from a NAT real server that the data plane reverse-translates;
    /// packets addressed to one of `local` (e.g. health checks) are kept.
    FromRealServer {
        /// L4 protocol number.
        proto: u8,
        /// Real server address.
        rip: IpAddr,
        /// Real server port (0: any).
        port: u16,
        /// The director's own addresses (not dropped).
        local: Vec<IpAddr>,
    },
}

fn proto_name(p: u8) -> Option<&'static str> {
    match p {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        _ => None,
    }
}

fn fam(a: &IpAddr) -> &'static str {
    match a {
        IpAddr::V4(_) => "ip",
        IpAddr::V6(_) => "ip6",
    }
}

/// Renders the rule for one drop class (None if it cannot be expressed).
fn rule(d: &IngressDrop) -> Option<String> {
    let mut s = String::new();
    match d {
        IngressDrop::ToService { proto, vip, port } => {
            let p = proto_name(*proto)?;
            write!(s, "{} daddr {} ", fam(vip), vip).ok()?;
            if *port != 0 {
                write!(s, "{p} dport {port} ").ok()?;
            } else {
                write!(s, "meta l4proto {p} ").ok()?;
            }
        }
        IngressDrop::FromRealServer {
            proto,
            rip,
            port,
            local,
        } => {
            let p = proto_name(*proto)?;
            write!(s, "{} saddr {} ", fam(rip), rip).ok()?;
            if *port != 0 {
                write!(s, "{p} sport {port} ").ok()?;
            } else {
                write!(s, "meta l4proto {p} ").ok()?;
            }
            let same: Vec<String> = local
                .iter()
                .filter(|a| a.is_ipv4() == rip.is_ipv4())
                .map(|a| a.to_string())
                .collect();
            if !same.is_empty() {
                write!(s, "{} daddr != {{ {} }} ", fam(rip), same.join(", ")).ok()?;
            }
        }
    }
    s.push_str("drop");
    Some(s)
}

/// Renders the whole table (a complete `nft -f` script that replaces it).
pub fn render(table: &str, devices: &[(String, Vec<IngressDrop>)]) -> String {
    let mut s = String::new();
    // "add; delete; define" replaces the table atomically in one transaction.
    let _ = writeln!(s, "add table netdev {table}");
    let _ = writeln!(s, "delete table netdev {table}");
    let _ = writeln!(s, "table netdev {table} {{");
    for (i, (dev, drops)) in devices.iter().enumerate() {
        let _ = writeln!(s, "  chain ingress{i} {{");
        let _ = writeln!(
            s,
            "    type filter hook ingress device \"{dev}\" priority 0; policy accept;"
        );
        for d in drops {
            if let Some(r) = rule(d) {
                let _ = writeln!(s, "    {r}");
            }
        }
        let _ = writeln!(s, "  }}");
    }
    let _ = writeln!(s, "}}");
    s
}

fn nft(script: &str) -> io::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run nft: {e}")))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// An lvsd-owned netdev table; removed on drop.
#[derive(Debug)]
pub struct IngressGuard {
    table: String,
    installed: bool,
}

impl IngressGuard {
    /// A guard for table `table` (letters, digits, `_`); nothing is installed yet.
    pub fn new(table: &str) -> io::Result<Self> {
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad nftables table name {table:?}"),
            ));
        }
        Ok(Self {
            table: table.to_string(),
            installed: false,
        })
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Replaces the table's contents with these per-device drop rules.
    pub fn apply(&mut self, devices: &[(String, Vec<IngressDrop>)]) -> io::Result<()> {
        for (dev, _) in devices {
            if dev.contains('"') || dev.contains('\n') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("bad device name {dev:?}"),
                ));
            }
        }
        nft(&render(&self.table, devices))?;
        self.installed = true;
        Ok(())
    }

    /// Deletes the table (also done on drop).
    pub fn remove(&mut self) -> io::Result<()> {
        if self.installed {
            nft(&format!(
                "add table netdev {t}\ndelete table netdev {t}\n",
                t = self.table
            ))?;
            self.installed = false;
        }
        Ok(())
    }
}

impl Drop for IngressGuard {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rules() {
        let s = render(
            "lvsd_dp",
            &[(
                "eth0".into(),
                vec![
                    IngressDrop::ToService {
                        proto: 6,
                        vip: "10.0.0.49".parse().unwrap(),
                        port: 80,
                    },
                    IngressDrop::ToService {
                        proto: 17,
                        vip: "fd00::49".parse().unwrap(),
                        port: 0,
                    },
                    IngressDrop::FromRealServer {
                        proto: 6,
                        rip: "10.0.1.2".parse().unwrap(),
                        port: 8080,
                        local: vec!["10.0.1.1".parse().unwrap(), "fd00::1".parse().unwrap()],
                    },
                    IngressDrop::ToService {
                        proto: 1,
                        vip: "10.0.0.49".parse().unwrap(),
                        port: 0,
                    },
                ],
            )],
        );
        assert!(s.contains("ip daddr 10.0.0.49 tcp dport 80 drop"), "{s}");
        assert!(
            s.contains("ip6 daddr fd00::49 meta l4proto udp drop"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 10.0.1.2 tcp sport 8080 ip daddr != { 10.0.1.1 } drop"),
            "{s}"
        );
        assert!(!s.contains("l4proto icmp"), "{s}");
        assert!(s.contains("hook ingress device \"eth0\""));
        assert!(s.starts_with("add table netdev lvsd_dp\ndelete table netdev lvsd_dp\n"));
    }

    #[test]
    fn rejects_bad_names() {
        assert!(IngressGuard::new("a b").is_err());
        assert!(IngressGuard::new("").is_err());
        assert!(IngressGuard::new("lvsd_1").is_ok());
    }
}

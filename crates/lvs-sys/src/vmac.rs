//! `use_vmac`: the VRRP virtual MAC interface (RFC 5798 §7.3) — a macvlan
//! in private mode on the instance's interface, named `vrrp.<VRID>` by
//! default, with MAC `00:00:5e:00:01:<VRID>` (IPv4) or `00:00:5e:00:02:<VRID>`
//! (IPv6), created and deleted over rtnetlink, plus the ARP sysctls
//! keepalived sets on the parent so that only the VMAC answers for the VIPs.

use std::io;

use crate::addr::{ifindex, push_attr, Rtnl};

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
const MACVLAN_MODE_PRIVATE: u32 = 1;

/// The RFC 5798 virtual router MAC address.
pub fn vrrp_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

fn ifinfo(index: i32, up: bool) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    if up {
        let f = libc::IFF_UP as u32;
        b[8..12].copy_from_slice(&f.to_ne_bytes());
        b[12..16].copy_from_slice(&f.to_ne_bytes());
    }
    b
}

fn nest(ty: u16, inner: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    push_attr(&mut b, ty, inner);
    b
}

impl Rtnl {
    /// Create (and bring up) the macvlan `name` on `parent` with `mac`, in
    /// private mode. An interface of that name that already exists is
    /// reused if it has that MAC, replaced otherwise.
    pub fn add_vmac(&mut self, name: &str, parent: &str, mac: [u8; 6]) -> io::Result<()> {
        if ifindex(name).is_ok() {
            if crate::addr::mac_address(name).ok() == Some(mac) {
                return self.set_link_up(name);
            }
            self.del_link(name)?;
        }
        let mut b = ifinfo(0, true);
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        push_attr(&mut b, IFLA_IFNAME, &n);
        push_attr(&mut b, IFLA_LINK, &ifindex(parent)?.to_ne_bytes());
        push_attr(&mut b, IFLA_ADDRESS, &mac);
        let mut info = Vec::new();
        push_attr(&mut info, IFLA_INFO_KIND, b"macvlan\0");
        info.extend(nest(
            IFLA_INFO_DATA,
            &nest(IFLA_MACVLAN_MODE, &MACVLAN_MODE_PRIVATE.to_ne_bytes()),
        ));
        push_attr(&mut b, IFLA_LINKINFO, &info);
        let flags = (libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        let seq = self.send(libc::RTM_NEWLINK, flags, &b)?;
        self.recv_until_done(seq, |_, _| {})
    }

    /// Set a link administratively up.
    pub fn set_link_up(&mut self, name: &str) -> io::Result<()> {
        let b = ifinfo(ifindex(name)? as i32, true);
        let seq = self.send(libc::RTM_NEWLINK, libc::NLM_F_ACK as u16, &b)?;
        self.recv_until_done(seq, |_, _| {})
    }

    /// Delete a link; an absent one is not an error.
    pub fn del_link(&mut self, name: &str) -> io::Result<()> {
        let Ok(idx) = ifindex(name) else {
            return Ok(());
        };
        let seq = self.send(
            libc::RTM_DELLINK,
            libc::NLM_F_ACK as u16,
            &ifinfo(idx as i32, false),
        )?;
        match self.recv_until_done(seq, |_, _| {}) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r,
        }
    }
}

/// keepalived's parent-interface settings for a VMAC: `arp_ignore 1` and
/// `arp_filter 1`, so that the parent does not answer ARP for addresses on
/// the VMAC (the VMAC answers with the virtual MAC).
pub fn set_parent_arp_sysctls(parent: &str) -> io::Result<()> {
    if parent.contains('/') || parent == "." || parent == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    for (k, v) in [("arp_ignore", "1"), ("arp_filter", "1")] {
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{parent}/{k}"), v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5798_mac() {
        assert_eq!(vrrp_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(vrrp_mac(7, true), [0, 0, 0x5e, 0, 2, 7]);
    }

    #[test]
    fn link_info_nesting() {
        let mut info = Vec::new();
        push_attr(&mut info, IFLA_INFO_KIND, b"macvlan\0");
        info.extend(nest(
            IFLA_INFO_DATA,
            &nest(IFLA_MACVLAN_MODE, &MACVLAN_MODE_PRIVATE.to_ne_bytes()),
        ));
        let outer: Vec<(u16, Vec<u8>)> = crate::addr::attrs(&info)
            .map(|(t, d)| (t, d.to_vec()))
            .collect();
        assert_eq!(outer[0], (IFLA_INFO_KIND, b"macvlan\0".to_vec()));
        assert_eq!(outer[1].0, IFLA_INFO_DATA);
        let inner: Vec<(u16, Vec<u8>)> = crate::addr::attrs(&outer[1].1)
            .map(|(t, d)| (t, d.to_vec()))
            .collect();
        assert_eq!(
            inner,
            vec![(IFLA_MACVLAN_MODE, 1u32.to_ne_bytes().to_vec())]
        );
    }
}

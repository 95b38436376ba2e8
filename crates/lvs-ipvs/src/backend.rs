//! The model as an [`IpvsBackend`], so the same code that programs the
//! kernel can program the in-process IPVS.

use crate::admin::{
    AdminError, ConnEntry, Daemon, DaemonState, Dest, DestEntry, DestKey, Info, IpvsBackend,
    Service, ServiceEntry, ServiceKey, SvcFlags, Timeouts, IP_VS_VERSION_CODE,
};
use crate::model::Ipvs;

impl Ipvs {
    fn service_entry(&self, idx: usize) -> Option<ServiceEntry> {
        let s = self.services.get(idx)?.as_ref()?;
        let mut service = s.cfg.clone();
        service.flags = SvcFlags(service.flags.0 | SvcFlags::HASHED);
        Some(ServiceEntry {
            service,
            stats: s.stats,
        })
    }
}

impl IpvsBackend for Ipvs {
    fn info(&mut self) -> Result<Info, AdminError> {
        Ok(Info {
            version: IP_VS_VERSION_CODE,
            conn_tab_size: 4096,
        })
    }

    fn services(&mut self) -> Result<Vec<ServiceEntry>, AdminError> {
        Ok((0..self.services.len())
            .filter_map(|i| self.service_entry(i))
            .collect())
    }

    fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, AdminError> {
        Ok((0..self.services.len())
            .filter_map(|i| self.service_entry(i))
            .find(|e| e.service.key == *key))
    }

    fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, AdminError> {
        let s = self
            .services
            .iter()
            .flatten()
            .find(|s| s.cfg.key == *key)
            .ok_or(AdminError::NoService)?;
        Ok(s.dests
            .iter()
            .map(|&d| {
                let x = &self.ds[d as usize];
                let r = &self.rs[d as usize];
                let mut dest = r.cfg.clone();
                dest.weight = x.weight.max(0) as u32;
                DestEntry {
                    dest,
                    active_conns: x.activeconns,
                    inact_conns: x.inactconns,
                    persist_conns: x.persistconns,
                    stats: r.stats,
                }
            })
            .collect())
    }

    fn add_service(&mut self, svc: &Service) -> Result<(), AdminError> {
        Ipvs::add_service(self, svc)
    }

    fn edit_service(&mut self, svc: &Service) -> Result<(), AdminError> {
        Ipvs::edit_service(self, svc)
    }

    fn del_service(&mut self, key: &ServiceKey) -> Result<(), AdminError> {
        Ipvs::del_service(self, key)
    }

    fn add_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), AdminError> {
        Ipvs::add_dest(self, key, dest)
    }

    fn edit_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), AdminError> {
        Ipvs::edit_dest(self, key, dest)
    }

    fn del_dest(&mut self, key: &ServiceKey, dest: &DestKey) -> Result<(), AdminError> {
        Ipvs::del_dest(self, key, dest)
    }

    fn flush(&mut self) -> Result<(), AdminError> {
        Ipvs::flush(self);
        Ok(())
    }

    fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), AdminError> {
        Ipvs::zero(self, key)
    }

    fn timeouts(&mut self) -> Result<Timeouts, AdminError> {
        let (tcp, tcp_fin, udp) = self.timeouts.get();
        Ok(Timeouts { tcp, tcp_fin, udp })
    }

    fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), AdminError> {
        Ipvs::set_timeouts(self, t.tcp, t.tcp_fin, t.udp);
        Ok(())
    }

    fn daemons(&mut self) -> Result<Vec<Daemon>, AdminError> {
        Ok(Vec::new())
    }

    fn start_daemon(&mut self, _d: &Daemon) -> Result<(), AdminError> {
        Err(AdminError::Invalid(
            "the in-process model has no sync daemon".into(),
        ))
    }

    fn stop_daemon(&mut self, _state: DaemonState) -> Result<(), AdminError> {
        Err(AdminError::Invalid(
            "the in-process model has no sync daemon".into(),
        ))
    }

    fn connections(&mut self) -> Result<Vec<ConnEntry>, AdminError> {
        let now = self.last_now;
        Ok(Ipvs::connections(self, now)
            .into_iter()
            .map(|v| ConnEntry {
                proto: v.proto_num as u16,
                caddr: v.caddr,
                cport: v.cport,
                vaddr: v.vaddr,
                vport: v.vport,
                daddr: v.daddr,
                dport: v.dport,
                state: v.state,
                expires: v.expire_secs.min(u32::MAX as u64) as u32,
                pe_name: None,
                pe_data: None,
            })
            .collect())
    }
}

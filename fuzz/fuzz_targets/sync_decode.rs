//! Fuzz the IPVS sync receive path: datagram → `Packet` view (every entry
//! and accessor) → backup actions; a strictly decoded `SyncMessage` must
//! re-encode, and the re-encoding must decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_sync::{BackupCfg, BackupTable, Packet, SyncBackup, SyncMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new(data) {
        let _ = (p.version(), p.syncid(), p.nr_conns());
        for e in p.entries().flatten() {
            let _ = (
                e.caddr(),
                e.vaddr(),
                e.daddr(),
                e.flags(),
                e.state(),
                e.timeout(),
            );
            let _ = e.to_conn();
        }
    }
    for syncid in [0, 1] {
        let mut b = SyncBackup::new(BackupCfg {
            syncid,
            ..BackupCfg::default()
        });
        let mut table = BackupTable::new();
        for i in b.installs(data) {
            table.apply(std::time::Duration::ZERO, &i);
        }
    }
    if let Ok(m) = SyncMessage::decode(data) {
        let bytes = m.encode().expect("a decoded message re-encodes");
        assert_eq!(SyncMessage::decode(&bytes).expect("re-encoding decodes"), m);
    }
});

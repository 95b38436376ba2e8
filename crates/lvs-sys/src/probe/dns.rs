//! DNS_CHECK: one query over UDP (hickory-proto codec).

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use lvs_check::{DnsType, Target};

use super::{connect_udp, Error};

pub(crate) async fn check(
    t: &Target,
    qtype: DnsType,
    name: &str,
    _wait: Duration,
) -> Result<String, Error> {
    let rtype = RecordType::from(qtype.code());
    let qname =
        Name::from_ascii(name).map_err(|e| Error::Protocol(format!("name {name:?}: {e}")))?;
    let id: u16 = (std::process::id() as u16)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()) as u16);
    let mut msg = Message::new();
    msg.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    msg.add_query(Query::query(qname, rtype));
    let bytes = msg.to_vec().map_err(|e| Error::Protocol(e.to_string()))?;
    let sock = connect_udp(t).await?;
    sock.send(&bytes).await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match sock.recv(&mut buf).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(Error::Protocol("ICMP port unreachable".into()))
            }
            r => r?,
        };
        let Ok(reply) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if reply.id() != id || reply.message_type() != MessageType::Response {
            continue;
        }
        if reply.response_code() != ResponseCode::NoError {
            return Err(Error::Protocol(format!("rcode {}", reply.response_code())));
        }
        let count = reply
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .count();
        if count == 0 {
            return Err(Error::Protocol(format!("no {rtype} record in the answer")));
        }
        return Ok(format!("{count} {rtype} record(s)"));
    }
}

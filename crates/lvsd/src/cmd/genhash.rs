//! `lvsd genhash`: keepalived's genhash — fetch a URL as HTTP_GET / SSL_GET would and print
//! the MD5 digest of its body, for the `digest` keyword.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lvs_check::{HttpProtocol, Target, TlsSpec};

/// Arguments of `lvsd genhash` (keepalived genhash's flags).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Server address.
    #[arg(short = 's', long = "server")]
    server: IpAddr,
    /// Server port (default 80, or 443 with -S).
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// URL path to fetch.
    #[arg(short = 'u', long = "url")]
    url: String,
    /// Use SSL/TLS (SSL_GET).
    #[arg(short = 'S', long = "use-ssl")]
    ssl: bool,
    /// Virtual host for the Host header (and SNI with --sni).
    #[arg(short = 'V', long = "use-virtualhost")]
    vhost: Option<String>,
    /// Send SNI (SSL_GET's enable_sni).
    #[arg(short = 'I', long = "sni")]
    sni: bool,
    /// HTTP protocol: 1.0, 1.0C or 1.1.
    #[arg(short = 'P', long = "protocol", default_value = "1.0")]
    protocol: String,
    /// Source address.
    #[arg(short = 'b', long = "bind-to")]
    bindto: Option<IpAddr>,
    /// SO_MARK for the connection.
    #[arg(short = 'm', long = "fwmark")]
    fwmark: Option<u32>,
    /// Timeout in seconds.
    #[arg(short = 't', long = "timeout", default_value_t = 5)]
    timeout: u64,
    /// Print the reply's headers and body too.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let protocol = match a.protocol.as_str() {
        "1.0" => HttpProtocol::Http10,
        "1.0C" | "1.0c" => HttpProtocol::Http10Close,
        "1.1" => HttpProtocol::Http11,
        p => anyhow::bail!("unknown HTTP protocol {p:?} (1.0, 1.0C, 1.1)"),
    };
    let port = a.port.unwrap_or(if a.ssl { 443 } else { 80 });
    let mut target = Target::new(a.server, port);
    target.bindto = a.bindto;
    target.fwmark = a.fwmark;
    let tls = a.ssl.then_some(TlsSpec {
        enable_sni: a.sni,
        sni_name: None,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let resp = rt
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(a.timeout),
                lvs_sys::probe::fetch(&target, tls.as_ref(), a.vhost.as_deref(), &a.url, protocol),
            )
            .await
            .map_err(|_| anyhow::anyhow!("timeout after {} s", a.timeout))?
            .map_err(anyhow::Error::from)
        })
        .with_context(|| {
            format!(
                "GET {} from {}",
                a.url,
                std::net::SocketAddr::new(a.server, port)
            )
        })?;
    if a.verbose {
        println!("{}\n{}\n", resp.status_line, resp.headers);
        println!("{}", String::from_utf8_lossy(&resp.body));
        println!(
            "HTTP status code: {}, body {} bytes",
            resp.status,
            resp.body.len()
        );
    }
    println!("MD5SUM = {}", resp.md5_hex());
    Ok(ExitCode::SUCCESS)
}

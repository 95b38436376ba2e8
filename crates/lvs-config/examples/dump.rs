//! Print the diagnostics (and optionally the model) of config files:
//! `cargo run -p lvs-config --example dump -- FILE... [--model]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.iter().any(|a| a == "--model");
    for a in args.iter().filter(|a| !a.starts_with("--")) {
        match lvs_config::load(&lvs_config::FsSource, std::path::Path::new(a)) {
            Ok(l) => {
                println!(
                    "== {a}: {} vrrp_instance, {} virtual_server, {} real_server",
                    l.config.vrrp_instances.len(),
                    l.config.virtual_servers.len(),
                    l.config
                        .virtual_servers
                        .iter()
                        .map(|v| v.real_servers.len())
                        .sum::<usize>()
                );
                for d in &l.diagnostics {
                    println!("{d}");
                }
                if model {
                    println!("{:#?}", l.config);
                }
            }
            Err(e) => println!("== {a}: {e}"),
        }
    }
}

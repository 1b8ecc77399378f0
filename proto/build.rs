//! Generates the `contextbay.v1` messages and tonic services from `contextbay/v1/*.proto`.
//! Uses the `protoc` shipped by `protoc-bin-vendored` (no system protoc needed) unless the
//! `PROTOC` environment variable names another one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["contextbay/v1/node.proto", "contextbay/v1/command.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-env-changed=PROTOC");
    let mut config = tonic_prost_build::Config::new();
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }
    tonic_prost_build::configure().compile_with_config(config, &protos, &["."])?;
    Ok(())
}

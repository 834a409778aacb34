//! Generates the gRPC and bus types from `outpost/v1/*.proto` with a vendored `protoc`,
//! so a fresh machine needs no hand-installed compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = [
        "outpost/v1/bus.proto",
        "outpost/v1/actions.proto",
        "outpost/v1/apps.proto",
        "outpost/v1/listing.proto",
        "outpost/v1/registry.proto",
    ];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("outpost_descriptor.bin"))
        .compile_with_config(
            config,
            &protos.map(PathBuf::from),
            &[PathBuf::from("."), protoc_bin_vendored::include_path()?],
        )?;
    Ok(())
}

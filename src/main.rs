//! The `synedge` binary: everything lives in the library; see `synedge::cli`.

fn main() -> std::process::ExitCode {
    synedge::cli::main()
}

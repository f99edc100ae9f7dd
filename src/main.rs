use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match diemcau::cli::main(diemcau::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // People read this: the chain of causes, without a backtrace.
            eprintln!("Lỗi / error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

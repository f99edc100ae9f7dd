use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Before any database opens: SQLite reads its page cache setup once.
    diemcau::store::sqlite_page_cache::install();
    match diemcau::cli::main(diemcau::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // People read this: the chain of causes, without a backtrace.
            eprintln!("Lỗi / error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
